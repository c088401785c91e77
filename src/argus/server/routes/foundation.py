"""Foundation-model routes in the reference's shapes: OCR (``/ocr/pp-ocr``), CLIP, SAM, depth.

Each parses its body, runs :class:`argus.runtime.foundation.FoundationService` in a worker thread beside the
disconnect watcher, and answers one body per image (a list when ``image`` was a list).
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from argus.core.geometry import mask_to_polygons
from argus.core.rle import mask_to_rle
from argus.errors import InvalidInputError, NotImplementedFeatureError
from argus.models.foundation.owl import ExampleBox
from argus.models.foundation.sam import POSITIVE, ImageEmbedding, SamMask
from argus.runtime.foundation import PointPrompt, depth_body, select_ocr
from argus.server.deps import get_state
from argus.server.disconnect import watch_disconnect
from argus.server.responses import ORJSONResponse
from argus.server.schemas import (
    ClipCompareRequest,
    ClipImageEmbeddingRequest,
    ClipTextEmbeddingRequest,
    DepthEstimationRequest,
    OwlRequest,
    PpOcrRequest,
    Sam2Request,
    Sam2SegmentationRequest,
    SamPrompt,
    SamRequest,
    SamSegmentationRequest,
)

router = APIRouter(tags=["foundation models"])


@router.post("/ocr/pp-ocr")
async def pp_ocr(request: Request, body: PpOcrRequest) -> ORJSONResponse:
    """Read text with PP-OCR: lines in reading order (boxes, confidences, text) and the joined text.

    ``pp_ocr_version_id`` (``det-rec``) or ``text_detection`` / ``text_recognition`` pick the stages as the
    reference does (``tiny``, ``small``, ``medium``, ``none``); with none of them the server's default OCR model
    (``ARGUS_OCR_MODEL``) reads the image.
    """
    state = get_state(request)
    selection = select_ocr(body.given(), state.settings.ocr_model)
    async with watch_disconnect(request) as gone:
        bodies = await run_in_threadpool(state.foundation.ocr, body.image_dicts(), selection, gone.is_set)
    return ORJSONResponse(bodies if body.is_batch else bodies[0])


@router.post("/clip/embed_image")
async def clip_embed_image(request: Request, body: ClipImageEmbeddingRequest) -> ORJSONResponse:
    """CLIP image embeddings, one per image, L2-normalised (``ClipEmbeddingResponse``; inference_sdk splits the
    list by the ``frame_id`` key, so it is sent even when null)."""
    state = get_state(request)
    started = time.perf_counter()
    async with watch_disconnect(request) as gone:
        embeddings = await run_in_threadpool(state.foundation.embed_images, body.clip_model(state.settings.clip_model),
                                             body.image_dicts(), gone.is_set)
    return ORJSONResponse({"embeddings": embeddings.tolist(), "time": time.perf_counter() - started,
                           "frame_id": None})


@router.post("/clip/embed_text")
async def clip_embed_text(request: Request, body: ClipTextEmbeddingRequest) -> ORJSONResponse:
    """CLIP text embeddings, one per prompt, L2-normalised; ``truncated`` tells which prompts were cut to the
    model's context (CLIP keeps the first tokens and the end token)."""
    state = get_state(request)
    started = time.perf_counter()
    embeddings, truncated = await run_in_threadpool(state.foundation.embed_texts,
                                                    body.clip_model(state.settings.clip_model), body.texts())
    return ORJSONResponse({"embeddings": embeddings.tolist(), "time": time.perf_counter() - started,
                           "frame_id": None, "truncated": truncated})


@router.post("/clip/compare")
async def clip_compare(request: Request, body: ClipCompareRequest) -> ORJSONResponse:
    """Cosine similarity of the subject to each prompt: a list, or a dict when the prompts were named."""
    state = get_state(request)
    started = time.perf_counter()
    async with watch_disconnect(request) as gone:
        similarity, truncated = await run_in_threadpool(
            state.foundation.compare, body.clip_model(state.settings.clip_model), body.subject_value(),
            body.subject_type, body.prompts(), body.prompt_type, gone.is_set)
    named = dict(zip(body.prompt, similarity)) if isinstance(body.prompt, dict) else similarity
    return ORJSONResponse({"similarity": named, "time": time.perf_counter() - started, "parent_id": None,
                           "frame_id": None, "truncated": any(truncated)})


async def _depth(request: Request, body: DepthEstimationRequest, path_model_id: str | None) -> ORJSONResponse:
    state = get_state(request)
    model_id = body.depth_model(state.settings.depth_model, path_model_id)
    started = time.perf_counter()
    async with watch_disconnect(request) as gone:
        maps = await run_in_threadpool(state.foundation.depth, model_id, body.image_dicts(), gone.is_set)
    seconds = time.perf_counter() - started
    bodies = [depth_body(depth, body.depth_map_format, seconds) for depth in maps]
    return ORJSONResponse(bodies if body.is_batch else bodies[0])


@router.post("/infer/depth-estimation")
async def depth_estimation(request: Request, body: DepthEstimationRequest) -> ORJSONResponse:
    """Relative depth per pixel in [0, 1] (1 nearest), as nested floats or a 16- or 8-bit PNG, with a picture."""
    return await _depth(request, body, None)


@router.post("/infer/depth-estimation/{model_id:path}")
async def depth_estimation_with_model_id(request: Request, model_id: str, body: DepthEstimationRequest
                                         ) -> ORJSONResponse:
    """The same, with the model id in the path."""
    return await _depth(request, body, model_id)


def _point_prompt(prompt: SamPrompt) -> PointPrompt:
    points = prompt.points or []
    box = prompt.box
    corners = (box.x - box.width / 2, box.y - box.height / 2, box.x + box.width / 2, box.y + box.height / 2
               ) if box is not None else None  # the reference's boxes are centre and size
    return PointPrompt([(p.x, p.y) for p in points], [POSITIVE if p.positive else 0 for p in points], corners)


def _polygons(mask: SamMask) -> list[list[list[float]]]:
    return [polygon.tolist() for polygon in mask_to_polygons(mask.mask)]


async def _sam_embed(request: Request, body: Sam2Request | SamRequest) -> tuple[str, ImageEmbedding]:
    """The request's image embedding (from the cache when its ``image_id`` is there)."""
    state = get_state(request)
    default = state.settings.sam2_model if isinstance(body, Sam2Request) else state.settings.sam_model
    return await run_in_threadpool(state.foundation.sam_embed, body.sam_model(default), body.image_value(),
                                   body.image_id)


@router.post("/sam2/embed_image")
async def sam2_embed_image(request: Request, body: Sam2Request) -> ORJSONResponse:
    """Run the image encoder and cache the embedding under ``image_id`` (the pixels' hash when none is sent)."""
    started = time.perf_counter()
    image_id, _ = await _sam_embed(request, body)
    return ORJSONResponse({"image_id": image_id, "time": time.perf_counter() - started})


@router.post("/sam2/segment_image")
async def sam2_segment_image(request: Request, body: Sam2SegmentationRequest) -> ORJSONResponse:
    """One mask per prompt (the best of SAM's three by predicted IoU), as polygons or COCO RLE."""
    if body.format == "binary":
        raise NotImplementedFeatureError("format 'binary' (numpy archives) is not implemented; use 'json' or 'rle'.")
    state = get_state(request)
    started = time.perf_counter()
    prompts = [_point_prompt(prompt) for prompt in body.prompts]
    _, masks = await run_in_threadpool(state.foundation.sam_segment, body.sam_model(state.settings.sam2_model),
                                       body.image_value(), body.image_id, prompts)
    predictions = [{"masks": mask_to_rle(m.mask) if body.format == "rle" else _polygons(m), "confidence": m.score,
                    "format": "rle" if body.format == "rle" else "polygon"} for m in masks]
    return ORJSONResponse({"predictions": predictions, "time": time.perf_counter() - started})


@router.post("/sam/embed_image")
async def sam_embed_image(request: Request, body: SamRequest) -> ORJSONResponse:
    """The image's SAM embedding as nested lists (cached under ``image_id`` for /sam/segment_image)."""
    if body.format == "binary":
        raise NotImplementedFeatureError("format 'binary' is not implemented; use 'json'.")
    started = time.perf_counter()
    _, embedding = await _sam_embed(request, body)
    return ORJSONResponse({"embeddings": embedding.embeddings.tolist(), "time": time.perf_counter() - started})


@router.post("/sam/segment_image")
async def sam_segment_image(request: Request, body: SamSegmentationRequest) -> ORJSONResponse:
    """The best mask for the points (labels 1 foreground, 0 background; -1 entries are ignored), as polygons."""
    if body.format == "binary":
        raise NotImplementedFeatureError("format 'binary' is not implemented; use 'json'.")
    if body.embeddings is not None:
        raise NotImplementedFeatureError("Sending 'embeddings' back is not implemented; send the image, or its "
                                         "image_id after /sam/embed_image.")
    coords, labels = body.point_coords or [], body.point_labels or []
    if len(coords) != len(labels) or any(len(point) != 2 for point in coords):
        raise InvalidInputError("'point_coords' ([[x, y], ...]) and 'point_labels' must have one entry per point.")
    kept = [((x, y), label) for (x, y), label in zip(coords, labels) if label != -1]
    state = get_state(request)
    started = time.perf_counter()
    prompt = PointPrompt([point for point, _ in kept], [label for _, label in kept])
    _, masks = await run_in_threadpool(state.foundation.sam_segment, body.sam_model(state.settings.sam_model),
                                       body.image_value(), body.image_id, [prompt])
    low_res = [polygon.tolist() for polygon in mask_to_polygons(masks[0].low_res_logits > 0)]
    return ORJSONResponse({"masks": [_polygons(masks[0])], "low_res_masks": [low_res],
                           "time": time.perf_counter() - started})


TEXT_QUERY_CONFIDENCE = 0.1
"""Default score threshold of text-prompted detection."""
EXAMPLE_CONFIDENCE = 0.99
"""Default score threshold of image-guided detection (the reference's; its scores are (cos + 1) / 2)."""


@router.post("/owlv2/infer")
async def owl_infer(request: Request, body: OwlRequest) -> ORJSONResponse:
    """Open-vocabulary detection (OWL-ViT): of boxes like the ``training_data`` examples, as the reference does,
    or of the classes named in ``text``. An object-detection answer per image."""
    state = get_state(request)
    model_id = body.owl_model(state.settings.owl_model)
    iou_threshold = 0.3 if body.iou_threshold is None else body.iou_threshold
    async with watch_disconnect(request) as gone:
        if body.text:
            confidence = TEXT_QUERY_CONFIDENCE if body.confidence is None else body.confidence
            bodies = await run_in_threadpool(state.foundation.detect_text, model_id, body.image_dicts(), body.text,
                                             confidence, body.iou_threshold, gone.is_set)
        elif body.training_data:
            examples = [(example.image_value(), [ExampleBox(b.x, b.y, b.w, b.h, b.cls, b.negative)
                                                 for b in example.boxes]) for example in body.training_data]
            confidence = EXAMPLE_CONFIDENCE if body.confidence is None else body.confidence
            bodies = await run_in_threadpool(state.foundation.detect_by_example, model_id, body.image_dicts(),
                                             examples, confidence, iou_threshold, gone.is_set)
        else:
            raise InvalidInputError("Say what to find: 'training_data' (example images with boxes) or 'text' "
                                    "(class names).")
    return ORJSONResponse(bodies if body.is_batch else bodies[0])
