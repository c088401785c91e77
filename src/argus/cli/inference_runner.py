"""Runs inference for the CLI, in-process (native API) or through a server (SDK client)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from argus.core.images import encode_jpeg, load_image


def run_inference(paths: list[Path], model_id: str, params: dict[str, Any], *, api_url: str | None = None,
                  api_key: str | None = None, concurrency: int = 4, annotate: bool = False
                  ) -> Iterator[tuple[Path, dict[str, Any], bytes | None]]:
    """Yield ``(path, roboflow_json, annotated_jpeg_or_None)`` per image, in order."""
    if api_url:
        from argus.sdk.client import Client

        with Client(api_url, api_key=api_key) as client:
            yield from client.infer_paths(paths, model_id, concurrency=concurrency, visualize=annotate, **params)
        return
    from argus.api import default_manager
    from argus.core.annotate import annotate as draw

    model = default_manager().get(model_id)
    for path in paths:
        image = load_image(path, model.settings.max_image_pixels)
        result = model.infer(image, **params)
        assert not isinstance(result, list)
        picture = encode_jpeg(draw(image, result)) if annotate else None
        yield path, result.to_roboflow(), picture
