"""Model inference: /infer/object_detection, /instance_segmentation, /keypoints_detection, /classification."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from argus.errors import InvalidInputError
from argus.runtime.service import InferenceOutcome, RenderOptions
from argus.server.deps import get_state
from argus.server.disconnect import watch_disconnect
from argus.server.inference_body import inference_body, openapi_body
from argus.server.responses import ORJSONResponse, drop_nulls
from argus.server.schemas import (
    BaseInferenceRequest,
    ClassificationRequest,
    InstanceSegmentationRequest,
    KeypointsDetectionRequest,
    ObjectDetectionRequest,
)

router = APIRouter(tags=["inference"])

# Each v1 route reads its request from JSON, multipart (a 'file' part) or the raw image bytes: inference_body.
DetectionBody = Annotated[ObjectDetectionRequest, Depends(inference_body(ObjectDetectionRequest))]
SegmentationBody = Annotated[InstanceSegmentationRequest, Depends(inference_body(InstanceSegmentationRequest))]
KeypointsBody = Annotated[KeypointsDetectionRequest, Depends(inference_body(KeypointsDetectionRequest))]
ClassificationBody = Annotated[ClassificationRequest, Depends(inference_body(ClassificationRequest))]


def confidence_value(value: float | str | None) -> float | None:
    """A numeric confidence; ``"best"``/``"default"`` (and null) mean the model's default."""
    if value is None or isinstance(value, (int, float)) and not isinstance(value, bool):
        return value  # type: ignore[return-value]
    if isinstance(value, str) and value.lower() in ("best", "default"):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"'confidence' must be a number between 0 and 1, 'best' or 'default', "
                                f"got {value!r}.") from None


def detection_params(body: ObjectDetectionRequest) -> dict[str, Any]:
    """Post-processing parameters of a detection request."""
    return {
        "confidence": confidence_value(body.confidence),
        "iou_threshold": body.iou_threshold,
        "class_agnostic_nms": body.class_agnostic_nms,
        "class_filter": body.class_filter,
        "max_detections": body.max_detections,
        "max_candidates": body.max_candidates,
    }


def model_headers(outcome: InferenceOutcome) -> dict[str, str]:
    """The reference's model response headers, plus a W3C ``Server-Timing`` breakdown of the request."""
    return {
        "X-Model-Id": outcome.model_id,
        "X-Model-Cold-Start": "true" if outcome.cold_start else "false",
        "X-Model-Load-Time": f"{outcome.load_seconds:.6f}",
        "Server-Timing": ", ".join(f"{stage};dur={seconds * 1e3:.2f}" for stage, seconds in outcome.stages.items()),
    }


async def run_inference(request: Request, body: BaseInferenceRequest, route: str | None, params: dict[str, Any],
                        options: RenderOptions) -> ORJSONResponse:
    """Run the request in a worker thread and render the (list) response with the model headers."""
    state = get_state(request)
    async with watch_disconnect(request) as gone:
        outcome = await run_in_threadpool(state.service.infer, body.model_id, body.image_dicts(), params, options,
                                          route, body.id, gone.is_set)
    payload = outcome.bodies if body.is_batch else outcome.bodies[0]
    return ORJSONResponse(drop_nulls(payload), headers=model_headers(outcome))


def _render_options(body: ObjectDetectionRequest | ClassificationRequest, **extra: Any) -> RenderOptions:
    labels = bool(getattr(body, "visualization_labels", False))
    return RenderOptions(visualize=body.visualize_predictions, labels=labels,
                         stroke=body.visualization_stroke_width or 1, **extra)


@router.post("/infer/object_detection", openapi_extra=openapi_body(ObjectDetectionRequest))
async def object_detection(request: Request, body: DetectionBody) -> ORJSONResponse:
    """Object detection (any detection model)."""
    return await run_inference(request, body, "object_detection", detection_params(body), _render_options(body))


@router.post("/infer/instance_segmentation", openapi_extra=openapi_body(InstanceSegmentationRequest))
async def instance_segmentation(request: Request, body: SegmentationBody) -> ORJSONResponse:
    """Instance segmentation: polygons (``points``) or COCO RLE (``response_mask_format: rle``)."""
    params = {**detection_params(body), "mask_decode_mode": body.mask_decode_mode}
    options = _render_options(body, mask_format=body.response_mask_format or "polygon")
    return await run_inference(request, body, "instance_segmentation", params, options)


@router.post("/infer/keypoints_detection", openapi_extra=openapi_body(KeypointsDetectionRequest))
async def keypoints_detection(request: Request, body: KeypointsBody) -> ORJSONResponse:
    """Keypoint detection; keypoints under ``keypoint_confidence`` are left out."""
    if isinstance(body.confidence, str) and body.confidence.lower() == "best":
        raise InvalidInputError("confidence 'best' is not supported for keypoint detection; send a number.")
    params = {**detection_params(body), "keypoint_confidence": body.keypoint_confidence}
    options = _render_options(body, keypoint_confidence=body.keypoint_confidence or 0.0)
    return await run_inference(request, body, "keypoints_detection", params, options)


@router.post("/infer/classification", openapi_extra=openapi_body(ClassificationRequest))
async def classification(request: Request, body: ClassificationBody) -> ORJSONResponse:
    """Single-label or multi-label classification."""
    params = {"confidence": confidence_value(body.confidence)}
    return await run_inference(request, body, "classification", params, _render_options(body))
