"""YOLO detection layouts: v5/v7 (objectness), v8/v9/v11 (anchor-free), end-to-end (NMS in graph)."""

from __future__ import annotations

import numpy as np

from argus.core.predictions import Detections
from argus.models.families.base import DecodeContext, register
from argus.models.postprocess import (
    Selection,
    class_filter_mask,
    cxcywh_to_xyxy,
    select_detections,
)
from argus.store.manifest import Family


def split_rows_v5(prediction: np.ndarray, num_classes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``[N, 5 + nc + extra]`` → xyxy boxes, objectness × class scores, extra columns."""
    boxes = cxcywh_to_xyxy(prediction[:, :4])
    scores = prediction[:, 4:5] * prediction[:, 5:5 + num_classes]
    return boxes, scores, prediction[:, 5 + num_classes:]


def split_rows_v8(prediction: np.ndarray, num_classes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``[4 + nc + extra, N]`` → xyxy boxes, class scores, extra columns (rows become detections)."""
    rows = prediction.T
    return cxcywh_to_xyxy(rows[:, :4]), rows[:, 4:4 + num_classes], rows[:, 4 + num_classes:]


def num_classes_of(ctx: DecodeContext, width: int, extra: int = 0) -> int:
    """Classes in a row of ``width`` values: the manifest's count, checked against the tensor."""
    num_classes = len(ctx.class_names) or width - extra
    if num_classes + extra != width:
        raise ValueError(f"output rows have {width} values after the box, expected {num_classes} classes + {extra}")
    return num_classes


@register(Family.YOLOV5)
def decode_yolov5(outputs: list[np.ndarray], ctx: DecodeContext) -> Detections:
    """``[N, 5 + nc]`` rows: ``cx, cy, w, h`` (input px), objectness, class probabilities."""
    prediction = outputs[0]
    num_classes_of(ctx, prediction.shape[1] - 5)
    # objectness × class ≤ objectness: rows under the threshold cannot survive, drop them first.
    prediction = prediction[prediction[:, 4] > ctx.params.confidence]
    boxes, scores, _ = split_rows_v5(prediction, prediction.shape[1] - 5)
    selection = select_detections(boxes, scores, ctx.params, ctx.class_names)
    return ctx.detections(boxes[selection.indices], selection)


@register(Family.YOLOV8)
def decode_yolov8(outputs: list[np.ndarray], ctx: DecodeContext) -> Detections:
    """``[4 + nc, N]`` columns: ``cx, cy, w, h`` (input px), class probabilities."""
    prediction = outputs[0]
    num_classes_of(ctx, prediction.shape[0] - 4)
    boxes, scores, _ = split_rows_v8(prediction, prediction.shape[0] - 4)
    selection = select_detections(boxes, scores, ctx.params, ctx.class_names)
    return ctx.detections(boxes[selection.indices], selection)


@register(Family.YOLO_END2END)
def decode_end2end(outputs: list[np.ndarray], ctx: DecodeContext) -> Detections:
    """``[N, 6]`` rows: ``x1, y1, x2, y2`` (input px), score, class id; NMS already done in the graph."""
    rows = outputs[0]
    scores = rows[:, 4]
    class_id = rows[:, 5].astype(np.int64)
    keep = scores > ctx.params.confidence
    allowed = class_filter_mask(class_id, ctx.class_names, ctx.params.class_filter)
    if allowed is not None:
        keep &= allowed
    indices = np.flatnonzero(keep)
    indices = indices[np.argsort(-scores[indices], kind="stable")][: ctx.params.max_detections]
    selection = Selection(indices, class_id[indices], scores[indices].astype(np.float32))
    return ctx.detections(rows[indices, :4], selection)
