"""Detections given as workflow inputs: the reference's prediction JSON read back into ``sv.Detections``.

A ``WorkflowBatchInput`` declared with a detections kind takes, per batch element, what a model route answers
(``{"image": {"width", "height"}, "predictions": [...]}``), as the reference's ``deserialize_detections_kind``
does: boxes from the centre form, masks from ``points`` polygons, keypoints, tracker ids, and the lineage keys
(``parent_id`` defaults to the input's name; ``detection_id`` is kept when given).

Example:
    >>> d = detections_from_prediction_json("dets", {"image": {"width": 20, "height": 10}, "predictions": [
    ...     {"x": 5, "y": 5, "width": 4, "height": 2, "confidence": 0.9, "class": "a", "class_id": 0}]})
    >>> d.xyxy.tolist(), d.data["parent_id"].tolist()
    ([[3.0, 4.0, 7.0, 6.0]], ['dets'])
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import supervision as sv

from argus.workflows.data import (
    CLASS_NAME_KEY,
    DETECTION_ID_KEY,
    IMAGE_DIMENSIONS_KEY,
    KEYPOINTS_CLASS_ID_KEY,
    KEYPOINTS_CLASS_NAME_KEY,
    KEYPOINTS_CONFIDENCE_KEY,
    KEYPOINTS_XY_KEY,
    PARENT_COORDINATES_KEY,
    PARENT_DIMENSIONS_KEY,
    PARENT_ID_KEY,
    ROOT_PARENT_COORDINATES_KEY,
    ROOT_PARENT_DIMENSIONS_KEY,
    ROOT_PARENT_ID_KEY,
    object_rows,
)
from argus.workflows.errors import WorkflowInputError

# Per-prediction fields the reference carries into ``data`` when given (its ``_attach_optional_detection_element``);
# ``width`` and ``height`` among them, so every deserialised detection keeps its box size there too.
_PLAIN_KEYS = ("time_in_zone", "path_deviation", "velocity", "speed", "smoothed_velocity", "smoothed_speed",
               "area_px", "area_converted", "data", "nearest_target_distance", "polygon", "rect", "width", "height",
               "angle")


def detections_from_prediction_json(name: str, value: Any) -> sv.Detections:
    """``value`` (a model route's answer for one image) as ``sv.Detections``; 400 naming ``name`` when malformed."""
    if isinstance(value, sv.Detections):
        return value
    if not isinstance(value, dict) or not isinstance(value.get("predictions"), list) \
            or not isinstance(value.get("image"), dict):
        raise WorkflowInputError(f"Workflow input '{name}' holds detections: give an object with 'image' "
                                 "({width, height}) and a 'predictions' list, as a model route answers.")
    predictions = [p for p in value["predictions"] if isinstance(p, dict)]
    try:
        height, width = int(value["image"]["height"]), int(value["image"]["width"])
        rows = [p for p in predictions if "points" not in p or len(p["points"]) >= 3]  # as the reference
        detections = _boxes(rows, height, width)
    except (KeyError, TypeError, ValueError) as exc:
        raise WorkflowInputError(f"Workflow input '{name}': a prediction is malformed ({exc!r}); each needs "
                                 "numeric x, y, width, height and confidence, and a class.") from exc
    n = len(rows)
    detections.data[IMAGE_DIMENSIONS_KEY] = np.array([[height, width]] * n, dtype=int).reshape(n, 2)
    detections.data[DETECTION_ID_KEY] = np.array([str(p.get("detection_id") or uuid.uuid4()) for p in rows],
                                                 dtype=object)
    detections.data[PARENT_ID_KEY] = np.array([p.get("parent_id", name) for p in rows], dtype=object)
    detections.data[ROOT_PARENT_ID_KEY] = np.array([p.get("root_parent_id", name) for p in rows], dtype=object)
    for key, coordinates, dimensions in (("parent_origin", PARENT_COORDINATES_KEY, PARENT_DIMENSIONS_KEY),
                                         ("root_parent_origin", ROOT_PARENT_COORDINATES_KEY,
                                          ROOT_PARENT_DIMENSIONS_KEY)):
        origins = [p.get(key) or {"offset_x": 0, "offset_y": 0, "height": height, "width": width} for p in rows]
        detections.data[coordinates] = np.array([[o["offset_x"], o["offset_y"]] for o in origins],
                                                dtype=int).reshape(n, 2)
        detections.data[dimensions] = np.array([[o["height"], o["width"]] for o in origins], dtype=int).reshape(n, 2)
    for key in _PLAIN_KEYS:
        if rows and all(key in p for p in rows):
            detections.data[key] = np.array([p[key] for p in rows], dtype=object if key == "data" else None)
    if rows and all("keypoints" in p for p in rows):
        _attach_keypoints(detections, rows)
    return detections


def _boxes(rows: list[dict[str, Any]], height: int, width: int) -> sv.Detections:
    if not rows:
        return sv.Detections.empty()
    centre = np.array([[float(p["x"]), float(p["y"]), float(p["width"]), float(p["height"])] for p in rows])
    xyxy = np.column_stack([centre[:, 0] - centre[:, 2] / 2, centre[:, 1] - centre[:, 3] / 2,
                            centre[:, 0] + centre[:, 2] / 2, centre[:, 1] + centre[:, 3] / 2])
    mask = None
    if all("points" in p for p in rows):
        mask = np.stack([sv.polygon_to_mask(np.array([[pt["x"], pt["y"]] for pt in p["points"]], dtype=np.int32),
                                            (width, height)).astype(bool) for p in rows])
    tracker_id = np.array([int(p["tracker_id"]) for p in rows]) if all("tracker_id" in p for p in rows) else None
    return sv.Detections(
        xyxy=xyxy, mask=mask, confidence=np.array([float(p["confidence"]) for p in rows]),
        class_id=np.array([int(p.get("class_id", 0)) for p in rows]), tracker_id=tracker_id,
        data={CLASS_NAME_KEY: np.array([str(p["class"]) for p in rows])})


def _attach_keypoints(detections: sv.Detections, rows: list[dict[str, Any]]) -> None:
    points = [p["keypoints"] for p in rows]
    detections.data[KEYPOINTS_XY_KEY] = object_rows([np.array([[k["x"], k["y"]] for k in kps], dtype=np.float64)
                                                     .reshape(-1, 2) for kps in points])
    detections.data[KEYPOINTS_CONFIDENCE_KEY] = object_rows([np.array([k.get("confidence", 1.0) for k in kps],
                                                                      dtype=np.float64) for kps in points])
    detections.data[KEYPOINTS_CLASS_NAME_KEY] = object_rows([np.array([k.get("class", "") for k in kps],
                                                                      dtype=object) for kps in points])
    detections.data[KEYPOINTS_CLASS_ID_KEY] = object_rows([np.array([k.get("class_id", i) for i, k in enumerate(kps)])
                                                           for kps in points])
