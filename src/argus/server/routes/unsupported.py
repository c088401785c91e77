"""Reference routes Argus does not implement: each answers 501 with what to use instead.

Without these, a client calling, say, ``/clip/embed_image`` would reach the legacy
``/{model}/{version}`` route and get a misleading "model not found".
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from argus.errors import NotImplementedFeatureError

router = APIRouter(tags=["not implemented"])

_FOUNDATION = "Argus serves ONNX detection, segmentation, keypoint and classification models; " \
              "foundation-model routes are not implemented"

_OCR = "this OCR model is not implemented; use /ocr/pp-ocr (inference_sdk: ocr_image(model=\"pp_ocr\"))"

# (path, why / what instead) — the reference's routes (specs/roboflow-http-api.md §1) Argus lacks.
UNSUPPORTED_POST: dict[str, str] = {
    "/infer/semantic_segmentation": "semantic segmentation is not implemented; use /infer/instance_segmentation",
    "/infer/embeddings": "image embeddings are not implemented",
    "/infer/lmm": "large multimodal models are not implemented",
    "/infer/lmm/{model_id:path}": "large multimodal models are not implemented",
    "/infer/action_recognition": "action recognition is not implemented",
    "/workflows/describe_workload": "workload description is not implemented; use /workflows/describe_interface",
    "/{workspace_name}/workflows/{workflow_id}/describe_workload": "workload description is not implemented",
    "/inference_pipelines/initialise_webrtc": "WebRTC pipelines are not implemented; use "
                                             "/inference_pipelines/initialise and /consume",
    "/initialise_webrtc_worker": "the WebRTC worker is not implemented",
    "/perception_encoder/embed_image": _FOUNDATION, "/perception_encoder/embed_text": _FOUNDATION,
    "/perception_encoder/compare": _FOUNDATION,
    "/sam3/embed_image": _FOUNDATION, "/sam3/concept_segment": _FOUNDATION, "/sam3/visual_segment": _FOUNDATION,
    "/sam3_3d/infer": _FOUNDATION,
    "/grounding_dino/infer": _FOUNDATION + "; import an open-vocabulary detector's ONNX export as a detector",
    "/yolo_world/infer": _FOUNDATION + "; import a YOLO-World ONNX export with fixed classes as a detector",
    "/doctr/ocr": _OCR, "/easy_ocr/ocr": _OCR, "/ocr/trocr": _OCR,
    "/gaze/gaze_detection": _FOUNDATION,
}
UNSUPPORTED_GET: dict[str, str] = {
    "/device/stats": "container device statistics are not implemented; see /metrics",
    "/notebook/start": "the bundled Jupyter notebook is not implemented",
    "/dashboard.html": "the reference's dashboard is not implemented; see /docs and /metrics",
}


async def not_implemented(request: Request) -> None:
    """Answer 501 naming the route and what to use instead."""
    reason = UNSUPPORTED_POST.get(request.scope["route"].path) if request.method == "POST" else None
    reason = reason or UNSUPPORTED_GET.get(request.scope["route"].path, "not implemented")
    raise NotImplementedFeatureError(f"{request.method} {request.url.path}: {reason} in Argus.")


for _path in UNSUPPORTED_POST:
    router.add_api_route(_path, not_implemented, methods=["POST"], include_in_schema=False)
for _path in UNSUPPORTED_GET:
    router.add_api_route(_path, not_implemented, methods=["GET"], include_in_schema=False)
