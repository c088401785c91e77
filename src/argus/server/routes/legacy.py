"""The legacy route ``GET|POST /{dataset_id}/{version_id}`` (Roboflow's hosted API shape).

Query parameters carry the options (``confidence`` and ``overlap`` as 0-1 or percent), the image
comes as ``?image=<url>``, a multipart ``file`` part, or the raw body as base64 text.
"""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from argus.errors import InvalidInputError, NotFoundError
from argus.runtime.service import MAX_STROKE, RenderOptions
from argus.server.deps import get_state
from argus.server.disconnect import watch_disconnect
from argus.server.inference_body import RAW_TYPES
from argus.server.responses import ORJSONResponse, drop_nulls
from argus.server.routes.infer import model_headers
from argus.store.manifest import Task

router = APIRouter(tags=["legacy"])

CONFIDENCE_FLOOR = 0.01
RESERVED_PREFIXES = frozenset({"v2", "model", "infer", "workflows", "inference_pipelines", "endpoints", "docs"})  # the reference's CONFIDENCE_LOWER_BOUND_OOM_PREVENTION


def percent_or_fraction(name: str, raw: str | None, default: float) -> float | None:
    """``confidence``/``overlap``: values ≥ 1 are percentages; ``best``/``default`` mean the default."""
    if raw is None or raw == "":
        return default
    if raw.lower() in ("best", "default"):
        return None
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInputError(f"'{name}' must be a number (0-1, or a percentage 1-100), got {raw!r}.") from None
    if value >= 1:
        value /= 100
    return value


def _number(query: Any, name: str, default: float, kind: type = float, low: float = 0.0,
            high: float = float("inf")) -> Any:
    """A numeric query parameter within ``[low, high]``, or a 400 naming it."""
    raw = query.get(name)
    if raw is None or raw == "":
        return kind(default)
    try:
        value = kind(raw)
    except ValueError:
        raise InvalidInputError(f"'{name}' must be a number, got {raw!r}.") from None
    if not low <= value <= high:
        raise InvalidInputError(f"'{name}' must be between {low:g} and {high:g}, got {raw!r}.")
    return value


def _flag(raw: str | None) -> bool:
    return (raw or "").lower() in ("1", "true", "yes", "on")


_TEXT_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_:;,. \r\n\t")
"""What base64 text (or a data URI around it) is made of; an image file's first bytes never are all of these."""


def _is_raw_image(body: bytes) -> bool:
    return any(byte not in _TEXT_BYTES for byte in body[:32])


async def _image_object(request: Request) -> dict[str, Any]:
    query = request.query_params
    if query.get("image"):
        return {"type": "url", "value": query["image"]}
    content_type = request.headers.get("content-type", "")
    if not content_type:
        raise InvalidInputError("Send the image in the body with a Content-Type header (multipart 'file' or base64 "
                                "text), or pass ?image=<url>.")
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise InvalidInputError("The multipart body has no 'file' part with the image.")
        return {"type": "bytes", "value": await upload.read()}
    body = await request.body()
    if not body:
        raise InvalidInputError("The request body is empty; send the image as base64 text, raw image bytes "
                                "(Content-Type: image/jpeg or application/octet-stream) or a multipart 'file'.")
    image_type = query.get("image_type", "base64")
    if image_type == "numpy":
        return {"type": "numpy", "value": body}
    if content_type.startswith(RAW_TYPES) or _is_raw_image(body):
        return {"type": "bytes", "value": body}  # raw image bytes: no base64 round trip
    return {"type": "base64", "value": body.decode("latin-1")}


@router.get("/{dataset_id}/{version_id}", operation_id="legacy_infer_get")
@router.post("/{dataset_id}/{version_id}", operation_id="legacy_infer_post")
async def legacy_infer(request: Request, dataset_id: str, version_id: str) -> Response:
    """Infer with ``dataset_id/version_id``; the model's task picks the response shape."""
    if dataset_id in RESERVED_PREFIXES:
        raise NotFoundError(f"No route {request.method} {request.url.path}.")
    state = get_state(request)
    query = request.query_params
    model_id = f"{dataset_id}/{version_id}"
    output = query.get("format", "json")
    if output not in ("json", "image", "image_and_json"):
        raise InvalidInputError(f"'format' must be json, image or image_and_json, got {output!r}.")
    image = await _image_object(request)
    confidence = percent_or_fraction("confidence", query.get("confidence"), 0.4)
    params: dict[str, Any] = {"confidence": None if confidence is None else max(confidence, CONFIDENCE_FLOOR)}
    model, cold, load_seconds = await run_in_threadpool(state.service.model_for, model_id)
    if model.task not in (Task.CLASSIFICATION, Task.MULTI_LABEL_CLASSIFICATION):
        params.update({
            "iou_threshold": percent_or_fraction("overlap", query.get("overlap"), 0.3),
            "max_detections": _number(query, "max_detections", 300, int, 1),
            "class_agnostic_nms": _flag(query.get("class_agnostic_nms")),
        })
    if model.task == Task.INSTANCE_SEGMENTATION:
        params["mask_decode_mode"] = query.get("mask_decode_mode", "accurate")
    keypoint_confidence = _number(query, "keypoint_confidence", 0.0, float, 0.0, 1.0)
    if model.task == Task.KEYPOINT_DETECTION:
        params["keypoint_confidence"] = keypoint_confidence
    options = RenderOptions(visualize=output != "json", labels=_flag(query.get("labels")),
                            stroke=_number(query, "stroke", 1, int, 0, MAX_STROKE),
                            keypoint_confidence=keypoint_confidence,
                            mask_format=query.get("response_mask_format", "polygon"))
    async with watch_disconnect(request) as gone:
        outcome = await run_in_threadpool(state.service.infer, model_id, [image], params, options,
                                          client_gone=gone.is_set)
    if cold:  # the model was loaded above, to learn its task: this request paid the cold start
        outcome.cold_start, outcome.load_seconds = True, load_seconds
    body = outcome.bodies[0]
    headers = model_headers(outcome)
    if output == "image":
        return Response(base64.b64decode(body["visualization"]), media_type="image/jpeg", headers=headers)
    return ORJSONResponse(drop_nulls(body), headers=headers)
