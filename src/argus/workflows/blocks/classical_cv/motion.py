# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Motion Detection and Distance Measurement, as the reference's blocks compute them.

Motion: MOG2 foreground, opened with an elliptic kernel, outer contours above ``minimum_contour_area`` (clipped to
``detection_zone`` when given), simplified to polygons; the alarm rises on the first frame with motion after one
without. The first ``history`` frames only train the background when ``suppress_first_detections`` is on.
State is per video here (the reference keeps one background for the step).

Distance: the gap between the boxes of two classes along one axis, in pixels and in centimetres (from a reference
object of known size, or a pixels-per-centimetre ratio); 0 when the boxes overlap or do not leave a gap.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

import cv2
import numpy as np
import supervision as sv
from pydantic import AliasChoices, Field, PositiveInt

from argus.errors import InvalidInputError
from argus.workflows.blocks.base import Block, BlockManifest, OutputDefinition, Selector, block_config
from argus.workflows.data import CLASS_NAME_KEY, WorkflowImageData, attach_lineage
from argus.workflows.kinds import (
    BOOLEAN_KIND,
    BOX_DETECTION_KINDS,
    FLOAT_KIND,
    IMAGE_KIND,
    INTEGER_KIND,
    LIST_OF_VALUES_KIND,
    OBJECT_DETECTION_PREDICTION_KIND,
    STRING_KIND,
    ZONE_KIND,
)

MAX_HISTORY = 10_000
MAX_KERNEL = 255


class MotionDetectionManifest(BlockManifest):
    model_config = block_config(name="Motion Detection", category="classical_computer_vision",
                                description="Detect motion in a video against a learned background.")
    type: Literal["roboflow_core/motion_detection@v1"]
    image: Selector(kind=[IMAGE_KIND]) = Field(validation_alias=AliasChoices("image", "images"))
    minimum_contour_area: PositiveInt | Selector(kind=[INTEGER_KIND]) = 200
    morphological_kernel_size: PositiveInt | Selector(kind=[INTEGER_KIND]) = 3
    threshold: PositiveInt | Selector(kind=[INTEGER_KIND]) = 16
    history: PositiveInt | Selector(kind=[INTEGER_KIND]) = 30
    detection_zone: list | str | Selector(kind=[ZONE_KIND]) | Selector(kind=[LIST_OF_VALUES_KIND]) | None = None
    suppress_first_detections: Selector(kind=[BOOLEAN_KIND]) | bool = True

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="motion", kind=[BOOLEAN_KIND]), OutputDefinition(name="alarm", kind=[BOOLEAN_KIND]),
                OutputDefinition(name="detections", kind=[OBJECT_DETECTION_PREDICTION_KIND]),
                OutputDefinition(name="motion_zones", kind=[LIST_OF_VALUES_KIND])]


@dataclass
class _Background:
    subtractor: Any
    frames: int = 0
    last_motion: bool = False
    kernels: dict[int, np.ndarray] = field(default_factory=dict)


def _zone(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise InvalidInputError("'detection_zone' is not valid JSON: give a list of [x, y] points") from None
    return value


def clip_to_zone(contours: list[np.ndarray], zone: Any) -> list[np.ndarray]:
    """Each contour cut to the zone polygon (a contour may become several)."""
    from shapely.geometry import Polygon

    area = Polygon(zone)
    clipped = []
    for contour in contours:
        points = contour.reshape(-1, 2)
        if len(points) < 3:
            continue
        shape = Polygon(points).intersection(area)
        parts = [shape] if shape.geom_type == "Polygon" else list(getattr(shape, "geoms", []))
        for part in parts:
            coords = list(part.exterior.coords[:-1]) if not part.is_empty and part.geom_type == "Polygon" else []
            if len(coords) >= 3:
                clipped.append(np.array([[int(x), int(y)] for x, y in coords], dtype=np.int32).reshape(-1, 1, 2))
    return clipped


class MotionDetectionBlockV1(Block):
    manifest_class = MotionDetectionManifest
    stateful = True

    def run(self, image: WorkflowImageData, minimum_contour_area: int = 200, morphological_kernel_size: int = 3,
            threshold: int = 16, history: int = 30, detection_zone: Any = None,
            suppress_first_detections: bool = True) -> dict[str, Any]:
        if not 0 < int(history) <= MAX_HISTORY or not 0 < int(morphological_kernel_size) <= MAX_KERNEL:
            raise InvalidInputError(f"'history' must be from 1 to {MAX_HISTORY} and 'morphological_kernel_size' from 1 "
                                    f"to {MAX_KERNEL}")
        zone = _zone(detection_zone)
        state: _Background = self.video_state(image.video_metadata.video_identifier, lambda: _Background(
            cv2.createBackgroundSubtractorMOG2(history=history, varThreshold=threshold, detectShadows=True)))
        mask = state.subtractor.apply(image.numpy_image)
        if state.frames < history and suppress_first_detections:
            state.frames += 1
            return {"motion": False, "detections": sv.Detections.empty(), "alarm": False, "motion_zones": []}
        kernel = state.kernels.setdefault(morphological_kernel_size, cv2.getStructuringElement(
            cv2.MORPH_ELLIPSE, (morphological_kernel_size, morphological_kernel_size)))
        contours, _ = cv2.findContours(cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_SIMPLE)
        moving = [c for c in contours if len(c) > 2 and cv2.contourArea(c) > minimum_contour_area]
        if zone:
            moving = clip_to_zone(moving, zone)
        shapes = [s for s in (cv2.approxPolyDP(c, 0.01 * cv2.arcLength(c, True), True) for c in moving) if len(s) >= 3]
        boxes = [[x, y, x + w, y + h] for x, y, w, h in (cv2.boundingRect(s) for s in shapes)]
        polygons = [np.squeeze(s).tolist() for s in shapes if np.squeeze(s).ndim > 1]
        detections = sv.Detections.empty()
        if boxes:
            n = len(boxes)
            detections = sv.Detections(xyxy=np.array(boxes), confidence=np.ones(n, dtype=int),
                                       class_id=np.zeros(n, dtype=int),
                                       data={CLASS_NAME_KEY: np.array(["motion"] * n)})
            attach_lineage(detections, image)
        motion = bool(moving)
        alarm = motion and not state.last_motion
        state.last_motion = motion
        return {"motion": motion, "detections": detections, "alarm": alarm, "motion_zones": polygons}


class DistanceMeasurementManifest(BlockManifest):
    model_config = block_config(name="Distance Measurement", category="classical_computer_vision",
                                description="The distance between two detected objects along one axis.")
    type: Literal["roboflow_core/distance_measurement@v1"]
    predictions: Selector(kind=list(BOX_DETECTION_KINDS))
    object_1_class_name: str
    object_2_class_name: str
    reference_axis: Literal["horizontal", "vertical"]
    calibration_method: Literal["reference object", "pixel to centimeter"]
    reference_object_class_name: str | Selector(kind=[STRING_KIND]) = "reference-object"
    reference_width: float | Selector(kind=[FLOAT_KIND]) = Field(default=2.5, gt=0)
    reference_height: float | Selector(kind=[FLOAT_KIND]) = Field(default=2.5, gt=0)
    pixel_ratio: float | Selector(kind=[FLOAT_KIND]) = Field(default=100, gt=0)

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="distance_cm", kind=[INTEGER_KIND]),
                OutputDefinition(name="distance_pixel", kind=[INTEGER_KIND])]


Box = tuple[int, int, int, int]


def _rounded_boxes(predictions: sv.Detections) -> list[tuple[str, Box]]:
    names = predictions.data.get(CLASS_NAME_KEY, [])
    return [(str(name), (int(b[0]), int(b[1]), int(b[2]), int(b[3])))
            for b, name in zip(predictions.xyxy.round().astype(int), names)]


def _pair(predictions: sv.Detections, first: str, second: str) -> tuple[Box | None, Box | None]:
    """The two classes' boxes as the reference picks them: scanning in order, a later box of a class replaces the
    earlier one until both classes have been seen."""
    found: dict[str, Box] = {}
    for name, box in _rounded_boxes(predictions):
        if name == first:
            found[first] = box
        elif name == second:
            found[second] = box
        if first in found and second in found:
            break
    return found.get(first), found.get(second)


def _gap(first: Box, second: Box, axis: str) -> int | None:
    """Pixels between the boxes along ``axis``; None when they overlap or share that axis's span."""
    apart = first[2] < second[0] or second[2] < first[0] or first[3] < second[1] or second[3] < first[1]
    low, high = (0, 2) if axis == "horizontal" else (1, 3)
    if not apart or (first[low] < second[high] and first[high] > second[low]):
        return None
    return abs(second[low] - first[high]) if second[low] > first[high] else abs(first[low] - second[high])


class DistanceMeasurementBlockV1(Block):
    manifest_class = DistanceMeasurementManifest

    def run(self, predictions: sv.Detections, object_1_class_name: str, object_2_class_name: str,
            reference_axis: str, calibration_method: str, reference_object_class_name: str = "reference-object",
            reference_width: float = 2.5, reference_height: float = 2.5, pixel_ratio: float = 100
            ) -> dict[str, Any]:
        first, second = _pair(predictions, object_1_class_name, object_2_class_name)
        if first is None or second is None:
            raise InvalidInputError(f"classes '{object_1_class_name}' and '{object_2_class_name}' must both be in the "
                                    "predictions")
        gap = _gap(first, second, reference_axis)
        if gap is None:
            return {"distance_cm": 0, "distance_pixel": 0}
        if calibration_method == "reference object":
            reference = next((box for name, box in _rounded_boxes(predictions) if name == reference_object_class_name),
                             None)
            if reference is None:
                raise InvalidInputError(f"reference class '{reference_object_class_name}' is not in the predictions")
            if reference_width <= 0 or reference_height <= 0:
                raise InvalidInputError("the reference object's width and height must be above zero")
            pixel_ratio = (abs(reference[2] - reference[0]) / reference_width
                           + abs(reference[3] - reference[1]) / reference_height) / 2
        elif not isinstance(pixel_ratio, (int, float)) or pixel_ratio <= 0:
            raise InvalidInputError("'pixel_ratio' must be a number above zero")
        return {"distance_cm": gap / pixel_ratio, "distance_pixel": gap}
