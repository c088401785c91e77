"""Workflow outputs as JSON in the reference's wire shape (detections, images, metadata).

Example:
    >>> import numpy as np, supervision as sv
    >>> dets = sv.Detections(xyxy=np.array([[0., 0., 10., 20.]]), confidence=np.array([0.5]),
    ...                      class_id=np.array([1]), data={"class_name": np.array(["b"]),
    ...                      "detection_id": np.array(["d1"])})
    >>> serialise_sv_detections(dets)["predictions"][0]["y"]
    10.0
"""

from __future__ import annotations

import base64
import logging
from datetime import datetime
from typing import Any

import numpy as np
import supervision as sv

from argus.core.geometry import mask_to_polygon
from argus.core.predictions import keypoint_json, prediction_json
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
    PATH_DEVIATION_KEY,
    POLYGON_KEY,
    ROOT_PARENT_COORDINATES_KEY,
    ROOT_PARENT_DIMENSIONS_KEY,
    ROOT_PARENT_ID_KEY,
    SMOOTHED_SPEED_KEY,
    SMOOTHED_VELOCITY_KEY,
    SPEED_KEY,
    TIME_IN_ZONE_KEY,
    VELOCITY_KEY,
    VideoMetadata,
    WorkflowImageData,
)

logger = logging.getLogger(__name__)

_PLAIN_DATA_KEYS = (PATH_DEVIATION_KEY, TIME_IN_ZONE_KEY, VELOCITY_KEY, SPEED_KEY, SMOOTHED_VELOCITY_KEY,
                    SMOOTHED_SPEED_KEY, "data", "area_px", "area_converted")


def _origin(coordinates: Any, dimensions: Any) -> dict[str, int]:
    x, y = (round(float(v)) for v in coordinates)
    height, width = (round(float(v)) for v in dimensions)
    return {"offset_x": x, "offset_y": y, "width": width, "height": height}


def _detection_json(xyxy: np.ndarray, mask: np.ndarray | None, confidence: Any, class_id: Any, tracker_id: Any,
                    data: dict[str, Any]) -> dict[str, Any] | None:
    polygon = data.get(POLYGON_KEY)
    if mask is not None and (polygon is None or len(polygon) < 3):
        polygon = mask_to_polygon(mask)
        if not len(polygon):
            return None  # an empty mask: the reference drops the instance
    keypoints = None
    if all(k in data for k in (KEYPOINTS_XY_KEY, KEYPOINTS_CLASS_ID_KEY, KEYPOINTS_CLASS_NAME_KEY,
                               KEYPOINTS_CONFIDENCE_KEY)):
        keypoints = [keypoint_json(x, y, conf, int(cid), str(name))
                     for cid, name, conf, (x, y) in zip(data[KEYPOINTS_CLASS_ID_KEY], data[KEYPOINTS_CLASS_NAME_KEY],
                                                        data[KEYPOINTS_CONFIDENCE_KEY], data[KEYPOINTS_XY_KEY])]
    class_number = int(class_id) if class_id is not None else 0
    item = prediction_json(xyxy, confidence if confidence is not None else 1.0,
                           str(data.get(CLASS_NAME_KEY, class_number)), class_number,
                           str(data.get(DETECTION_ID_KEY, "")),
                           tracker_id=int(tracker_id) if tracker_id is not None else None,
                           polygon=polygon, keypoints=keypoints)
    for key in _PLAIN_DATA_KEYS:
        if key in data:
            item[key] = to_jsonable(data[key])
    if PARENT_ID_KEY in data:
        item["parent_id"] = str(data[PARENT_ID_KEY])
        if ROOT_PARENT_ID_KEY in data and str(data[ROOT_PARENT_ID_KEY]) != item["parent_id"]:
            if PARENT_COORDINATES_KEY in data and PARENT_DIMENSIONS_KEY in data:
                item["parent_origin"] = _origin(data[PARENT_COORDINATES_KEY], data[PARENT_DIMENSIONS_KEY])
            item["root_parent_id"] = str(data[ROOT_PARENT_ID_KEY])
            if ROOT_PARENT_COORDINATES_KEY in data and ROOT_PARENT_DIMENSIONS_KEY in data:
                item["root_parent_origin"] = _origin(data[ROOT_PARENT_COORDINATES_KEY],
                                                     data[ROOT_PARENT_DIMENSIONS_KEY])
    return item


def serialise_sv_detections(detections: sv.Detections) -> dict[str, Any]:
    """``{"image": {"width", "height"}, "predictions": [...]}`` as the reference's workflow serialiser writes."""
    predictions = []
    dimensions = None
    for xyxy, mask, confidence, class_id, tracker_id, data in detections:
        dimensions = data.get(IMAGE_DIMENSIONS_KEY, dimensions)
        item = _detection_json(xyxy, mask, confidence, class_id, tracker_id, data)
        if item is not None:
            predictions.append(item)
    image: dict[str, int | None] = {"width": None, "height": None}
    if dimensions is not None:
        image = {"width": int(dimensions[1]), "height": int(dimensions[0])}
    return {"image": image, "predictions": predictions}


def serialise_image(image: WorkflowImageData) -> dict[str, Any]:
    """An image output: base64 JPEG plus video metadata and, for crops, where they come from."""
    result: dict[str, Any] = {"type": "base64", "value": image.base64_image,
                              "video_metadata": image.video_metadata.to_dict()}
    if not image.is_root():
        parent = image.parent_metadata
        root = image.workflow_root_ancestor_metadata
        result["parent_id"] = parent.parent_id
        result["parent_origin"] = parent.origin_coordinates.origin()
        result["root_parent_id"] = root.parent_id
        result["root_parent_origin"] = root.origin_coordinates.origin()
    return result


def to_jsonable(value: Any) -> Any:
    """Any workflow value as JSON-ready data."""
    if isinstance(value, sv.Detections):
        return serialise_sv_detections(value)
    if isinstance(value, WorkflowImageData):
        return serialise_image(value)
    if isinstance(value, VideoMetadata):
        return value.to_dict()
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist() if value.dtype != object else [to_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def serialize_outputs(outputs: list[dict[str, Any]], excluded_fields: list[str] | None = None
                      ) -> list[dict[str, Any]]:
    """The run's outputs as the JSON the HTTP API returns (``excluded_fields`` left out)."""
    excluded = set(excluded_fields or [])
    return [{name: to_jsonable(value) for name, value in output.items() if name not in excluded}
            for output in outputs]
