"""Runs inference for the CLI, in-process (native API) or through a server (SDK client).

One image's failure (unreadable, refused by the server) is reported for that image and the run goes on.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from argus.core.images import encode_jpeg, load_image
from argus.errors import ArgusError

_IMAGE_FAILURES = (ArgusError, OSError, httpx.HTTPError)


@dataclass(frozen=True)
class ImageOutcome:
    """One image's predictions (the Roboflow JSON) and annotated JPEG, or why it failed."""

    path: Path
    body: dict[str, Any] | None = None
    annotated: bytes | None = None
    error: str | None = None


def _failure(path: Path, error: BaseException) -> ImageOutcome:
    return ImageOutcome(path, error=getattr(error, "message", None) or str(error) or type(error).__name__)


def run_inference(paths: list[Path], model_id: str, params: dict[str, Any], *, api_url: str | None = None,
                  api_key: str | None = None, concurrency: int = 4, annotate: bool = False
                  ) -> Iterator[ImageOutcome]:
    """Yield one :class:`ImageOutcome` per image, in order."""
    if api_url:
        from argus.sdk.client import Client

        with Client(api_url, api_key=api_key) as client, ThreadPoolExecutor(max_workers=concurrency) as pool:
            client.task_of(model_id)  # an unknown model fails the run once, not once per image
            futures = [pool.submit(client.infer_json, path, model_id, annotate, **params) for path in paths]
            for path, future in zip(paths, futures):
                try:
                    body = future.result()
                except _IMAGE_FAILURES as error:
                    yield _failure(path, error)
                    continue
                picture = base64.b64decode(body.pop("visualization")) if "visualization" in body else None
                yield ImageOutcome(path, body, picture)
        return
    from argus.api import default_manager
    from argus.core.annotate import annotate as draw

    model = default_manager().get(model_id)
    for path in paths:
        try:
            image = load_image(path, model.settings.max_image_pixels)
            result = model.infer(image, **params)
        except _IMAGE_FAILURES as error:
            yield _failure(path, error)
            continue
        assert not isinstance(result, list)
        picture = encode_jpeg(draw(image, result)) if annotate else None
        yield ImageOutcome(path, result.to_roboflow(), picture)
