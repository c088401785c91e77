"""Shared detection post-processing: thresholds, class filter, candidates, NMS, max detections.

All of it is vectorised: numpy selects candidates and OpenCV's C++ NMS (class-aware through
``NMSBoxesBatched``) suppresses overlaps, so no Python loop runs over candidate boxes.

Example:
    >>> import numpy as np
    >>> boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], dtype=np.float32)
    >>> scores = np.array([[0.9], [0.8], [0.7]], dtype=np.float32)
    >>> select_detections(boxes, scores, DetectionParams(iou_threshold=0.5)).indices.tolist()
    [0, 2]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from argus.errors import InvalidInputError


@dataclass(frozen=True)
class DetectionParams:
    """The post-processing parameters of a Roboflow inference request (same names, same defaults)."""

    confidence: float = 0.4
    iou_threshold: float = 0.3
    class_agnostic_nms: bool = False
    class_filter: tuple[str, ...] | None = None
    max_detections: int = 300
    max_candidates: int = 3000
    keypoint_confidence: float = 0.0
    mask_decode_mode: str = "accurate"

    def __post_init__(self) -> None:
        for name in ("confidence", "iou_threshold", "keypoint_confidence"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
                raise InvalidInputError(f"'{name}' must be a number between 0 and 1, got {value!r}.")
        for name in ("max_detections", "max_candidates"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise InvalidInputError(f"'{name}' must be a positive integer, got {value!r}.")
        if self.mask_decode_mode not in ("accurate", "fast", "tradeoff"):
            raise InvalidInputError(
                f"'mask_decode_mode' must be 'accurate', 'fast' or 'tradeoff', got {self.mask_decode_mode!r}."
            )

    @classmethod
    def from_kwargs(cls, defaults: dict[str, Any] | None = None, **kwargs: Any) -> DetectionParams:
        """Build from request-style keyword arguments; unknown keys are ignored, None means default."""
        values: dict[str, Any] = dict(defaults or {})
        values.update({k: v for k, v in kwargs.items() if v is not None and k in cls.__dataclass_fields__})
        class_filter = values.get("class_filter")
        if isinstance(class_filter, str):
            class_filter = [class_filter]
        if class_filter is not None:
            if not all(isinstance(name, str) for name in class_filter):
                raise InvalidInputError(f"'class_filter' must be a list of class names, got {class_filter!r}.")
            values["class_filter"] = tuple(class_filter)
        for name in ("confidence", "iou_threshold", "keypoint_confidence"):
            if isinstance(values.get(name), bool):
                raise InvalidInputError(f"'{name}' must be a number between 0 and 1, got {values[name]!r}.")
        return cls(**values)


@dataclass(frozen=True)
class Selection:
    """Kept candidates: their row indices, best class and its score, best first."""

    indices: np.ndarray
    class_id: np.ndarray
    confidence: np.ndarray


def cxcywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """``(N, 4)`` centre/size boxes to corner boxes."""
    half = boxes[:, 2:4] / 2
    return np.concatenate([boxes[:, 0:2] - half, boxes[:, 0:2] + half], axis=1)


def class_filter_mask(class_ids: np.ndarray, class_names: list[str], class_filter: tuple[str, ...] | None
                      ) -> np.ndarray | None:
    """Boolean mask of detections whose class name is allowed, or None when there is no filter."""
    if class_filter is None:
        return None
    allowed = np.array([name in class_filter for name in class_names] + [False], dtype=bool)
    return allowed[np.clip(class_ids, -1, len(class_names))]


def select_detections(boxes_xyxy: np.ndarray, class_scores: np.ndarray, params: DetectionParams,
                      class_names: list[str] | None = None, nms: bool = True) -> Selection:
    """Pick detections from ``(N, 4)`` boxes and ``(N, C)`` per-class scores.

    Steps: best class per row → confidence threshold → class filter → top ``max_candidates`` →
    NMS (per class unless ``class_agnostic_nms``) → top ``max_detections``.
    """
    if class_scores.shape[0] == 0 or class_scores.shape[1] == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Selection(empty, empty, np.zeros(0, dtype=np.float32))
    class_id = class_scores.argmax(axis=1)
    confidence = np.take_along_axis(class_scores, class_id[:, None], axis=1)[:, 0]
    keep = confidence > params.confidence
    allowed = class_filter_mask(class_id, class_names or [], params.class_filter)
    if allowed is not None:
        keep &= allowed
    indices = np.flatnonzero(keep)
    if len(indices) > params.max_candidates:
        top = np.argpartition(-confidence[indices], params.max_candidates - 1)[: params.max_candidates]
        indices = indices[top]
    indices = indices[np.argsort(-confidence[indices], kind="stable")]
    if nms and len(indices) > 1:
        indices = indices[nms_indices(boxes_xyxy[indices], confidence[indices], class_id[indices],
                                      params.iou_threshold, params.class_agnostic_nms)]
    indices = indices[: params.max_detections]
    return Selection(indices, class_id[indices].astype(np.int64), confidence[indices].astype(np.float32))


def nms_indices(boxes_xyxy: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, iou_threshold: float,
                class_agnostic: bool) -> np.ndarray:
    """Indices kept by greedy NMS, best score first."""
    xywh = np.empty_like(boxes_xyxy, dtype=np.float32)
    xywh[:, :2] = boxes_xyxy[:, :2]
    xywh[:, 2:] = boxes_xyxy[:, 2:] - boxes_xyxy[:, :2]
    score_list = scores.astype(np.float32)
    # OpenCV's stubs say Sequence; its bindings take numpy arrays (and copy nothing).
    if class_agnostic:
        raw = cv2.dnn.NMSBoxes(xywh, score_list, 0.0, float(iou_threshold))  # type: ignore[arg-type]
    else:
        raw = cv2.dnn.NMSBoxesBatched(xywh, score_list, class_ids.astype(np.int32),  # type: ignore[arg-type]
                                      0.0, float(iou_threshold))
    kept = np.asarray(raw, dtype=np.int64).reshape(-1)
    return kept[np.argsort(-scores[kept], kind="stable")]
