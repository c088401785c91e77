"""``argus ocr`` and ``argus clip``: the foundation models from the command line, in-process or through a server.

Without ``--api-url`` the models run in this process on the local store (the zoo fetches PP-OCR on first use);
with it, the same request goes to that server through the SDK.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import cv2
import numpy as np
import orjson
import typer

from argus.cli.common import console, expand_images, reports_errors
from argus.runtime.foundation import FoundationService, select_ocr
from argus.settings import get_settings

if TYPE_CHECKING:
    from argus.sdk import Client

ApiUrl = Annotated[str | None, typer.Option(help="Send the request to this Argus server instead of running here.")]
ApiKey = Annotated[str | None, typer.Option(envvar="ARGUS_API_KEY", help="API key for --api-url.")]

ClipModelOption = Annotated[str | None, typer.Option("--model", "-m", help="CLIP model id (default: "
                                                                          "ARGUS_CLIP_MODEL).")]

clip_app = typer.Typer(help="CLIP: compare images with prompts, and embed images or texts.", no_args_is_help=True)


def _local() -> FoundationService:
    from argus.runtime.manager import ModelManager
    from argus.runtime.service import InferenceService

    return FoundationService(InferenceService(ModelManager(get_settings())))


def _server(api_url: str, api_key: str | None) -> Client:
    """The SDK client for ``--api-url``."""
    from argus.sdk import Client

    return Client(api_url, api_key)


def _wire(path: Path) -> dict[str, str]:
    return {"type": "base64", "value": base64.b64encode(path.read_bytes()).decode()}


def _print(value: Any) -> None:
    console.print_json(orjson.dumps(value).decode())


@reports_errors
def ocr(
    images: Annotated[list[str], typer.Argument(help="Image files, directories or glob patterns.")],
    version: Annotated[str | None, typer.Option(help="PP-OCR stages as det-rec (tiny, small, medium, none); "
                                                     "default: the server's OCR model.")] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="A stored OCR model id instead.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole response (lines, boxes, confidences).")
                       ] = False,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Read the text in images with PP-OCR."""
    paths = expand_images(images)
    if api_url:
        with _server(api_url, api_key) as client:
            bodies = [client.ocr(path, version, model) for path in paths]
    else:
        body = {k: v for k, v in (("pp_ocr_version_id", version), ("model_id", model)) if v}
        selection = select_ocr(body, get_settings().ocr_model)
        bodies = _local().ocr([_wire(p) for p in paths], selection)
    for path, response in zip(paths, bodies):
        if as_json:
            _print({"path": str(path), **response})
        else:
            console.print(f"[bold]{path}[/bold]", highlight=False)
            console.print(response["result"], highlight=False, markup=False)


@clip_app.command("compare")
@reports_errors
def compare(
    image: Annotated[Path, typer.Argument(help="The image to compare.", exists=True, dir_okay=False)],
    prompt: Annotated[list[str], typer.Option("--prompt", "-p", help="A text prompt (repeat for several).")],
    model: ClipModelOption = None,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Cosine similarity of an image to each prompt, best first."""
    if api_url:
        with _server(api_url, api_key) as client:
            similarity = client.clip_compare(image, prompt, model_id=model)
        scores = list(similarity.values()) if isinstance(similarity, dict) else similarity
    else:
        scores, _ = _local().compare(model or get_settings().clip_model, _wire(image), "image", prompt, "text")
    for text, score in sorted(zip(prompt, scores), key=lambda pair: -pair[1]):
        console.print(f"{score:+.4f}  {text}", highlight=False, markup=False)


@clip_app.command("embed")
@reports_errors
def embed(
    images: Annotated[list[str] | None, typer.Argument(help="Image files, directories or glob patterns.")] = None,
    text: Annotated[list[str] | None, typer.Option("--text", "-t", help="A text to embed (repeat for several).")
                    ] = None,
    model: ClipModelOption = None,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Print normalised CLIP embeddings as JSON lines (images first, then texts)."""
    paths = expand_images(images) if images else []
    if not paths and not text:
        raise typer.BadParameter("give images, --text, or both")
    empty = np.zeros((0, 0), np.float32)
    if api_url:
        with _server(api_url, api_key) as client:
            image_vectors = client.clip_embed_images(paths, model) if paths else empty
            text_vectors = client.clip_embed_texts(text, model) if text else empty
    else:
        service, model_id = _local(), model or get_settings().clip_model
        image_vectors = service.embed_images(model_id, [_wire(p) for p in paths]) if paths else empty
        text_vectors = service.embed_texts(model_id, text)[0] if text else empty
    for source, vector in [*zip(map(str, paths), image_vectors), *zip(text or [], text_vectors)]:
        console.print(orjson.dumps({"input": source, "embedding": [round(float(v), 6) for v in vector]}).decode(),
                      highlight=False, markup=False, soft_wrap=True)


@reports_errors
def depth(
    image: Annotated[Path, typer.Argument(help="The image.", exists=True, dir_okay=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Write the depth map here: a 16-bit PNG (1 = 65535 = "
                                      "nearest), or with --picture a colour JPEG/PNG.")],
    picture: Annotated[bool, typer.Option(help="Write the viridis picture instead of the 16-bit map.")] = False,
    model: Annotated[str | None, typer.Option("--model", "-m", help="Depth model id (default: ARGUS_DEPTH_MODEL).")
                     ] = None,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Estimate relative depth and write it as an image."""
    if api_url:
        with _server(api_url, api_key) as client:
            depth_map = client.depth(image, model)
    else:
        depth_map = _local().depth(model or get_settings().depth_model, [_wire(image)])[0]
    assert isinstance(depth_map, np.ndarray)
    from argus.models.foundation.depth import depth_picture

    written = depth_picture(depth_map) if picture else np.round(depth_map * 65535).astype(np.uint16)
    if not cv2.imwrite(str(out), written):
        raise typer.BadParameter(f"cannot write {out} (use a .png or .jpg name)")
    console.print(f"wrote {out} ({depth_map.shape[1]}x{depth_map.shape[0]})", highlight=False)
