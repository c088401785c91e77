# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Blocks that reshape a set of detections: per-class confidence filter, combine, merge into one, rotated rectangles.

Each does what the reference's block does, row for row (the kept order, the merged box, the confidence kept).
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

import cv2
import numpy as np
import supervision as sv
from pydantic import Field

from argus.errors import InvalidInputError
from argus.workflows.blocks.base import Block, BlockManifest, OutputDefinition, Selector, block_config
from argus.workflows.data import CLASS_NAME_KEY, DETECTION_ID_KEY, pick
from argus.workflows.kinds import (
    BOX_DETECTION_KINDS,
    DETECTION_KINDS,
    DICTIONARY_KIND,
    FLOAT_ZERO_TO_ONE_KIND,
    INSTANCE_SEGMENTATION_PREDICTION_KIND,
    OBJECT_DETECTION_PREDICTION_KIND,
)


class PerClassConfidenceFilterManifest(BlockManifest):
    model_config = block_config(name="Per-Class Confidence Filter", category="transformation",
                                description="Keep detections whose confidence reaches their class's threshold.")
    type: Literal["roboflow_core/per_class_confidence_filter@v1"]
    predictions: Selector(kind=list(DETECTION_KINDS))
    class_thresholds: dict[str, float] | Selector(kind=[DICTIONARY_KIND])
    default_threshold: float | Selector(kind=[FLOAT_ZERO_TO_ONE_KIND]) = Field(default=0.3, ge=0, le=1)

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="predictions", kind=list(DETECTION_KINDS))]


class PerClassConfidenceFilterBlockV1(Block):
    manifest_class = PerClassConfidenceFilterManifest

    def run(self, predictions: sv.Detections, class_thresholds: dict[str, Any], default_threshold: float = 0.3
            ) -> dict[str, Any]:
        if len(predictions) == 0 or predictions.confidence is None:
            return {"predictions": predictions}
        try:
            thresholds = {str(k): float(v) for k, v in (class_thresholds or {}).items()}
            default = float(default_threshold)
        except (TypeError, ValueError, AttributeError):
            raise InvalidInputError("'class_thresholds' must map class names to numbers") from None
        names = predictions.data.get(CLASS_NAME_KEY, [])
        keep = [i for i, confidence in enumerate(predictions.confidence)
                if float(confidence) >= thresholds.get(str(names[i]) if i < len(names) else "None", default)]
        return {"predictions": predictions if len(keep) == len(predictions) else pick(predictions, np.array(keep))}


class DetectionsCombineManifest(BlockManifest):
    model_config = block_config(name="Detections Combine", category="transformation",
                                description="Combine two sets of detections into one.")
    type: Literal["roboflow_core/detections_combine@v1"]
    prediction_one: Selector(kind=list(BOX_DETECTION_KINDS))
    prediction_two: Selector(kind=list(BOX_DETECTION_KINDS))

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="predictions", kind=list(BOX_DETECTION_KINDS))]


class DetectionsCombineBlockV1(Block):
    manifest_class = DetectionsCombineManifest

    def run(self, prediction_one: sv.Detections, prediction_two: sv.Detections) -> dict[str, Any]:
        try:
            return {"predictions": sv.Detections.merge([prediction_one, prediction_two])}
        except ValueError as exc:  # supervision refuses sets with different fields (masks on one side only, ...)
            raise InvalidInputError(f"the two sets of detections cannot be combined: {exc}") from None


class DetectionsMergeManifest(BlockManifest):
    model_config = block_config(name="Detections Merge", category="transformation",
                                description="Merge detections into one box that encloses them all.")
    type: Literal["roboflow_core/detections_merge@v1"]
    predictions: Selector(kind=list(DETECTION_KINDS))
    class_name: str = "merged_detection"

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="predictions", kind=[OBJECT_DETECTION_PREDICTION_KIND])]


class DetectionsMergeBlockV1(Block):
    manifest_class = DetectionsMergeManifest

    def run(self, predictions: sv.Detections, class_name: str = "merged_detection") -> dict[str, Any]:
        if len(predictions) == 0:
            return {"predictions": sv.Detections(xyxy=np.empty((0, 4), dtype=np.float32))}
        xyxy = predictions.xyxy
        union = np.array([[xyxy[:, 0].min(), xyxy[:, 1].min(), xyxy[:, 2].max(), xyxy[:, 3].max()]])
        confidence = None if predictions.confidence is None else \
            np.array([predictions.confidence.min()], dtype=np.float32)  # the lowest, as the reference
        return {"predictions": sv.Detections(
            xyxy=union, confidence=confidence, class_id=np.array([0], dtype=np.int32),
            data={CLASS_NAME_KEY: np.array([class_name]), DETECTION_ID_KEY: np.array([str(uuid.uuid4())])})}


class BoundingRectManifest(BlockManifest):
    model_config = block_config(name="Bounding Rectangle", category="transformation",
                                description="The minimum-area rotated rectangle around each mask.")
    type: Literal["roboflow_core/bounding_rect@v1"]
    predictions: Selector(kind=[INSTANCE_SEGMENTATION_PREDICTION_KIND])

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="detections_with_rect", kind=[INSTANCE_SEGMENTATION_PREDICTION_KIND])]


class BoundingRectBlockV1(Block):
    manifest_class = BoundingRectManifest

    def run(self, predictions: sv.Detections) -> dict[str, Any]:
        if predictions.mask is None:
            raise InvalidInputError("'predictions' have no masks: bounding_rect takes a segmentation model's output")
        rows = []
        for i in range(len(predictions)):
            row = pick(predictions, [i])
            mask = row.mask[0]  # type: ignore[index]
            polygons = sv.mask_to_polygons(mask)
            if not polygons:
                raise InvalidInputError(f"detection {i} has an empty mask")
            rect = _angle_from_0_to_90(cv2.minAreaRect(max(polygons, key=len)))
            corners = np.around(np.array(cv2.boxPoints(rect), dtype=int)).astype(np.int32)
            row.mask = np.array([sv.polygon_to_mask(corners, (mask.shape[1], mask.shape[0])).astype(bool)])
            row.xyxy = np.array([sv.polygon_to_xyxy(corners)])
            row.data["rect"] = np.array([np.array(cv2.boxPoints(rect), dtype=int)], dtype=np.float16)
            row.data["width"] = np.array([rect[1][0]], dtype=np.float16)
            row.data["height"] = np.array([rect[1][1]], dtype=np.float16)
            row.data["angle"] = np.array([rect[2]], dtype=np.float16)
            rows.append(row)
        return {"detections_with_rect": sv.Detections.merge(rows) if rows else predictions}


def _angle_from_0_to_90(rect: Any) -> Any:
    """``minAreaRect``'s rectangle with its angle in [0, 90), as OpenCV up to 4.12 (the reference's) gives it.

    Newer OpenCV answers the same rectangle as [-90, 0) with width and height swapped; this turns it back, so
    ``boxPoints`` lists the corners from the same one."""
    (cx, cy), (width, height), angle = rect
    return ((cx, cy), (height, width), angle + 90) if angle < 0 else rect
