"""YOLO pose (v8/v11-pose): boxes, class scores and K keypoints ``(x, y[, visibility])`` per column."""

from __future__ import annotations

import numpy as np

from argus.core.predictions import Detections
from argus.models.families.base import DecodeContext, register
from argus.models.families.yolo import split_rows_v8
from argus.models.postprocess import select_detections
from argus.store.manifest import Family


@register(Family.YOLOV8_POSE)
def decode_yolov8_pose(outputs: list[np.ndarray], ctx: DecodeContext) -> Detections:
    """``[4 + nc + K·d, N]`` with d = 3 (x, y, visibility; as exported, already a probability) or 2."""
    prediction = outputs[0]
    num_classes = len(ctx.class_names) or 1
    extra = prediction.shape[0] - 4 - num_classes
    num_keypoints = len(ctx.manifest.keypoint_names) or (extra // 3)
    if num_keypoints <= 0 or extra % num_keypoints or extra // num_keypoints not in (2, 3):
        raise ValueError(
            f"pose output has {prediction.shape[0]} rows: cannot split into 4 box + {num_classes} classes + "
            f"{num_keypoints} keypoints of 2 or 3 values"
        )
    dims = extra // num_keypoints
    boxes, scores, keypoint_rows = split_rows_v8(prediction, num_classes)
    selection = select_detections(boxes, scores, ctx.params, ctx.class_names)
    keypoints = keypoint_rows[selection.indices].reshape(-1, num_keypoints, dims)
    visibility = keypoints[..., 2] if dims == 3 else np.ones(keypoints.shape[:2], dtype=np.float32)
    names = tuple(ctx.manifest.keypoint_names) or tuple(str(k) for k in range(num_keypoints))
    return ctx.detections(
        boxes[selection.indices],
        selection,
        keypoints=ctx.transform.points_to_original(keypoints[..., :2]),
        keypoint_confidence=visibility.astype(np.float32),
        keypoint_names=names,
    )
