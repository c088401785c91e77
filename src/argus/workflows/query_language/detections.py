"""Detections operations of the query language (properties, offset, shift, rename, select, sort)."""

from __future__ import annotations

from typing import Any

import numpy as np
import supervision as sv

from argus.errors import InvalidInputError
from argus.workflows.data import (
    CLASS_NAME_KEY,
    IMAGE_DIMENSIONS_KEY,
    copy_detections,
    pick,
)

_POINTS = {
    "center": lambda b: ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2),
    "top_left": lambda b: (b[0], b[1]),
    "top_right": lambda b: (b[2], b[1]),
    "bottom_left": lambda b: (b[0], b[3]),
    "bottom_right": lambda b: (b[2], b[3]),
}


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def detection_property(detection: tuple, name: str) -> Any:
    """A property of one detection, the tuple iterating ``sv.Detections`` yields."""
    xyxy, _mask, confidence, class_id, tracker_id, data = detection
    box = [float(v) for v in xyxy]
    if name in _POINTS:
        return _POINTS[name](box)
    simple = {
        "confidence": lambda: _plain(confidence),
        "class_name": lambda: str(data.get(CLASS_NAME_KEY)),
        "class_id": lambda: _plain(class_id),
        "tracker_id": lambda: _plain(tracker_id),
        "x_min": lambda: box[0], "y_min": lambda: box[1], "x_max": lambda: box[2], "y_max": lambda: box[3],
        "size": lambda: (box[2] - box[0]) * (box[3] - box[1]),
    }
    if name in simple:
        return simple[name]()
    value = data.get(name)
    return value.tolist() if isinstance(value, np.ndarray) else _plain(value)


def detections_property(detections: sv.Detections, name: str) -> list[Any]:
    """The property of every detection, in order."""
    return [detection_property(d, name) for d in detections]


def _clip(xyxy: np.ndarray, detections: sv.Detections) -> np.ndarray:
    dims = detections.data.get(IMAGE_DIMENSIONS_KEY)
    out = np.maximum(xyxy, 0)
    if dims is not None and len(dims):
        dims = np.asarray(dims)
        out[:, 2] = np.minimum(out[:, 2], dims[:, 1])
        out[:, 3] = np.minimum(out[:, 3], dims[:, 0])
    return out


def offset_detections(detections: sv.Detections, offset_x: int, offset_y: int) -> sv.Detections:
    """Boxes grown by ``offset_x`` in width and ``offset_y`` in height (half each side), clipped to the image."""
    out = copy_detections(detections)
    grown = out.xyxy.astype(np.float64) + np.array([-offset_x / 2, -offset_y / 2, offset_x / 2, offset_y / 2])
    out.xyxy = _clip(grown, out).astype(np.float32)
    return out


def shift_detections(detections: sv.Detections, shift_x: int, shift_y: int) -> sv.Detections:
    """Boxes moved by ``(shift_x, shift_y)``, clipped to the image."""
    out = copy_detections(detections)
    out.xyxy = _clip(out.xyxy.astype(np.float64) + np.array([shift_x, shift_y, shift_x, shift_y]), out
                     ).astype(np.float32)
    return out


def rename_detections(detections: sv.Detections, op: Any, params: dict[str, Any]) -> sv.Detections:
    """Class names replaced by ``op.class_map`` (a dict, or the name of a parameter holding one)."""
    class_map = params.get(op.class_map) if isinstance(op.class_map, str) else op.class_map
    strict = params.get(op.strict) if isinstance(op.strict, str) else op.strict
    if not isinstance(class_map, dict):
        raise InvalidInputError("DetectionsRename: class_map must be a dictionary (or name a parameter holding one)")
    out = copy_detections(detections)
    names = [str(n) for n in out.data.get(CLASS_NAME_KEY, [])]
    new_ids = {name: op.new_classes_id_offset + i for i, name in enumerate(sorted(set(class_map.values())))}
    class_id = np.array(out.class_id if out.class_id is not None else np.zeros(len(out)), dtype=int)
    for i, name in enumerate(names):
        if name in class_map:
            names[i] = class_map[name]
            class_id[i] = new_ids[names[i]]
        elif strict:
            raise InvalidInputError(f"DetectionsRename: class '{name}' is not in class_map (strict mode)")
    out.class_id = class_id
    out.data[CLASS_NAME_KEY] = np.array(names, dtype=object)
    return out


def select_detections(detections: sv.Detections, mode: str) -> sv.Detections:
    """One detection picked by ``mode`` (empty stays empty)."""
    if len(detections) == 0:
        return detections
    picks = {
        "first": lambda: 0,
        "last": lambda: len(detections) - 1,
        "left_most": lambda: int(np.argmin(detections.xyxy[:, 0])),
        "right_most": lambda: int(np.argmax(detections.xyxy[:, 2])),
        "top_confidence": lambda: int(np.argmax(np.asarray(detections.confidence))),
    }
    return pick(detections, [picks[mode]()])


def sort_detections(detections: sv.Detections, mode: str, ascending: bool) -> sv.Detections:
    """Detections reordered by ``mode``."""
    if len(detections) == 0:
        return detections
    b = detections.xyxy
    keys = {
        "confidence": lambda: np.asarray(detections.confidence), "x_min": lambda: b[:, 0], "y_min": lambda: b[:, 1],
        "x_max": lambda: b[:, 2], "y_max": lambda: b[:, 3], "size": lambda: (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]),
        "center_x": lambda: (b[:, 0] + b[:, 2]) / 2, "center_y": lambda: (b[:, 1] + b[:, 3]) / 2,
    }
    order = np.argsort(keys[mode](), kind="stable")
    return pick(detections, order if ascending else order[::-1])


def pick_by_parent_class(detections: sv.Detections, parent_class: str) -> sv.Detections:
    """Detections (not of ``parent_class``) whose centre lies inside a ``parent_class`` detection."""
    names = np.array([str(n) for n in detections.data.get(CLASS_NAME_KEY, [])], dtype=object)
    parents = detections.xyxy[names == parent_class]
    centres = (detections.xyxy[:, :2] + detections.xyxy[:, 2:]) / 2
    inside = np.zeros(len(detections), dtype=bool)
    for box in parents:
        inside |= ((centres[:, 0] >= box[0]) & (centres[:, 0] <= box[2]) & (centres[:, 1] >= box[1])
                   & (centres[:, 1] <= box[3]))
    return pick(detections, inside & (names != parent_class))
