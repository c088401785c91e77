"""YOLO instance segmentation (v5-seg, v8/v11-seg): prototypes × mask coefficients.

Masks are assembled at prototype resolution, then each is warped straight into its box region of
the original image with one affine map (prototype grid → network input → original pixels), so
letterbox padding and scaling are undone exactly and the work is proportional to box area.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from argus.core.geometry import mask_to_polygon
from argus.core.predictions import Detections
from argus.models.families.base import DecodeContext, register, sigmoid
from argus.models.families.yolo import split_rows_v5, split_rows_v8
from argus.models.postprocess import select_detections
from argus.store.manifest import Family


def _split_outputs(outputs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    predictions = [o for o in outputs if o.ndim == 2]
    protos = [o for o in outputs if o.ndim == 3]
    if not predictions or not protos:
        shapes = [o.shape for o in outputs]
        raise ValueError(f"a segmentation model needs a 2-D prediction and 3-D prototypes per image, got {shapes}")
    return predictions[0], protos[0]


@register(Family.YOLOV8_SEG)
def decode_yolov8_seg(outputs: list[np.ndarray], ctx: DecodeContext) -> Detections:
    """``[4 + nc + nm, N]`` predictions and ``[nm, mh, mw]`` prototypes."""
    prediction, protos = _split_outputs(outputs)
    num_classes = prediction.shape[0] - 4 - protos.shape[0]
    boxes, scores, coefficients = split_rows_v8(prediction, num_classes)
    return _decode(boxes, scores, coefficients, protos, ctx)


@register(Family.YOLOV5_SEG)
def decode_yolov5_seg(outputs: list[np.ndarray], ctx: DecodeContext) -> Detections:
    """``[N, 5 + nc + nm]`` predictions and ``[nm, mh, mw]`` prototypes."""
    prediction, protos = _split_outputs(outputs)
    num_classes = prediction.shape[1] - 5 - protos.shape[0]
    boxes, scores, coefficients = split_rows_v5(prediction, num_classes)
    return _decode(boxes, scores, coefficients, protos, ctx)


def _decode(boxes: np.ndarray, scores: np.ndarray, coefficients: np.ndarray, protos: np.ndarray,
            ctx: DecodeContext) -> Detections:
    if len(ctx.class_names) not in (0, scores.shape[1]):
        raise ValueError(f"the model predicts {scores.shape[1]} classes, the manifest names {len(ctx.class_names)}")
    selection = select_detections(boxes, scores, ctx.params, ctx.class_names)
    boxes_original = ctx.transform.to_original(boxes[selection.indices])
    num_masks, mask_h, mask_w = protos.shape
    probabilities = sigmoid(coefficients[selection.indices] @ protos.reshape(num_masks, -1))
    probabilities = probabilities.reshape(-1, mask_h, mask_w).astype(np.float32)
    warp = _proto_to_original(ctx, mask_w, mask_h)
    if ctx.params.mask_decode_mode == "fast":
        polygons = [_polygon_at_proto_resolution(p, box, warp) for p, box in zip(probabilities, boxes_original)]
        masks = None
    else:
        masks = _masks_in_boxes(probabilities, boxes_original, warp, ctx.transform.width, ctx.transform.height)
        polygons = [mask_to_polygon(mask) for mask in masks]
    return Detections(
        xyxy=boxes_original,
        confidence=selection.confidence,
        class_id=selection.class_id,
        class_name=ctx.names_of(selection.class_id),
        masks=masks,
        polygons=polygons,
    )


def _proto_to_original(ctx: DecodeContext, mask_w: int, mask_h: int) -> np.ndarray:
    """2×3 affine from prototype pixel centres to original-image pixel centres."""
    t = ctx.transform
    stride_x = ctx.manifest.input_width / mask_w
    stride_y = ctx.manifest.input_height / mask_h
    return np.array([
        [stride_x / t.scale_x, 0.0, (0.5 * stride_x - t.pad_x) / t.scale_x - 0.5],
        [0.0, stride_y / t.scale_y, (0.5 * stride_y - t.pad_y) / t.scale_y - 0.5],
    ], dtype=np.float64)


def _box_bounds(box: np.ndarray, width: int, height: int) -> tuple[int, int, int, int]:
    x1, y1 = max(0, math.floor(box[0])), max(0, math.floor(box[1]))
    x2, y2 = min(width, math.ceil(box[2])), min(height, math.ceil(box[3]))
    return x1, y1, x2, y2


def _masks_in_boxes(probabilities: np.ndarray, boxes: np.ndarray, warp: np.ndarray, width: int, height: int
                    ) -> np.ndarray:
    masks = np.zeros((len(probabilities), height, width), dtype=bool)
    for i, (probability, box) in enumerate(zip(probabilities, boxes)):
        x1, y1, x2, y2 = _box_bounds(box, width, height)
        if x2 <= x1 or y2 <= y1:
            continue
        shifted = warp.copy()
        shifted[0, 2] -= x1
        shifted[1, 2] -= y1
        region = cv2.warpAffine(probability, shifted, (x2 - x1, y2 - y1), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REPLICATE)
        masks[i, y1:y2, x1:x2] = region > 0.5
    return masks


def _polygon_at_proto_resolution(probability: np.ndarray, box: np.ndarray, warp: np.ndarray) -> np.ndarray:
    inverse = cv2.invertAffineTransform(warp)
    corners = np.array([[box[0], box[1]], [box[2], box[3]]], dtype=np.float64)
    proto_box = corners @ inverse[:, :2].T + inverse[:, 2]
    cropped = np.zeros_like(probability, dtype=bool)
    h, w = probability.shape
    x1, y1, x2, y2 = _box_bounds(proto_box.reshape(-1), w, h)
    cropped[y1:y2, x1:x2] = probability[y1:y2, x1:x2] > 0.5
    polygon = mask_to_polygon(cropped)
    return (polygon @ warp[:, :2].T + warp[:, 2]).astype(np.float32) if len(polygon) else polygon
