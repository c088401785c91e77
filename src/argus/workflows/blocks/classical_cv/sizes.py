# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Measuring detections, and the moving parts of a video: mask area, real-world size, background subtraction.

As the reference's blocks compute them: an area is the mask's pixel count (the box's when there is no mask), a
size is the minimum-area rectangle's sides, the one nearer horizontal taken as the width, scaled by a reference
object of known size. Background subtraction is OpenCV's MOG2 (shadows in grey), one model per video here (the
reference keeps one per step, so two interleaved videos would blur into one background there).
"""

from __future__ import annotations

from typing import Any, Literal

import cv2
import numpy as np
import supervision as sv
from pydantic import AliasChoices, Field

from argus.errors import InvalidInputError
from argus.workflows.blocks.base import Block, BlockManifest, OutputDefinition, Selector, block_config
from argus.workflows.data import WorkflowImageData, copy_detections
from argus.workflows.kinds import (
    BOX_DETECTION_KINDS,
    FLOAT_KIND,
    IMAGE_KIND,
    INTEGER_KIND,
    LIST_OF_VALUES_KIND,
    STRING_KIND,
)

MAX_HISTORY = 10_000


class MaskAreaMeasurementManifest(BlockManifest):
    model_config = block_config(name="Mask Area Measurement", category="classical_computer_vision",
                                description="The area of each detection, in pixels and in units.")
    type: Literal["roboflow_core/mask_area_measurement@v1"]
    predictions: Selector(kind=list(BOX_DETECTION_KINDS))
    pixels_per_unit: float | Selector(kind=[FLOAT_KIND]) = 1.0

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="predictions", kind=list(BOX_DETECTION_KINDS))]


def detection_areas(detections: sv.Detections) -> np.ndarray:
    """Each detection's mask pixel count, or its box area when it has no mask (or an empty one)."""
    areas = []
    for i in range(len(detections)):
        count = int(np.count_nonzero(detections.mask[i])) if detections.mask is not None else 0
        x1, y1, x2, y2 = detections.xyxy[i]
        areas.append(float(count) if count else float((x2 - x1) * (y2 - y1)))
    return np.array(areas, dtype=float)


class MaskAreaMeasurementBlockV1(Block):
    manifest_class = MaskAreaMeasurementManifest

    def run(self, predictions: sv.Detections, pixels_per_unit: float = 1.0) -> dict[str, Any]:
        out = copy_detections(predictions)  # the reference writes into its input; Argus leaves it as it was
        areas = detection_areas(out)
        out.data["area_px"] = areas
        out.data["area_converted"] = areas / (pixels_per_unit ** 2 if pixels_per_unit > 0 else 1.0)
        return {"predictions": out}


class SizeMeasurementManifest(BlockManifest):
    model_config = block_config(name="Size Measurement", category="classical_computer_vision",
                                description="Real-world sizes of objects, scaled by a reference object.")
    type: Literal["roboflow_core/size_measurement@v1"]
    object_predictions: Selector(kind=list(BOX_DETECTION_KINDS))
    reference_predictions: list | Selector(kind=[*BOX_DETECTION_KINDS, LIST_OF_VALUES_KIND])
    reference_dimensions: str | tuple[float, float] | list[float] | Selector(kind=[STRING_KIND, LIST_OF_VALUES_KIND])

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="dimensions", kind=[LIST_OF_VALUES_KIND])]


def _tilt(angle: float) -> float:
    """How far a direction is from horizontal, in degrees (0 to 90)."""
    folded = abs(angle % 180)
    return min(folded, 180 - folded)


def aligned_sides(contour: np.ndarray) -> tuple[float, float]:
    """The minimum-area rectangle's (width, height): the width is the side nearer horizontal."""
    corners = np.array(cv2.boxPoints(cv2.minAreaRect(contour)), dtype=np.float32)
    first, second = corners[1] - corners[0], corners[2] - corners[1]
    lengths = float(np.linalg.norm(first)), float(np.linalg.norm(second))
    tilts = _tilt(np.degrees(np.arctan2(first[1], first[0]))), _tilt(np.degrees(np.arctan2(second[1], second[0])))
    return lengths if tilts[0] < tilts[1] else (lengths[1], lengths[0])


def detection_sides(detections: sv.Detections, index: int) -> tuple[float, float] | None:
    """A detection's (width, height) in pixels: its mask's largest outline's rectangle, or its box."""
    if detections.mask is None:
        x1, y1, x2, y2 = detections.xyxy[index]
        return float(x2 - x1), float(y2 - y1)
    contours, _ = cv2.findContours(detections.mask[index].astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    largest = max(contours, key=cv2.contourArea) if contours else None
    return aligned_sides(largest) if largest is not None and cv2.contourArea(largest) > 0 else None


def _known_size(value: Any) -> tuple[float, float]:
    try:
        parts = [float(p) for p in value.split(",")] if isinstance(value, str) else [float(p) for p in value]
    except (TypeError, ValueError):
        raise InvalidInputError("reference_dimensions must be 'width,height' or two numbers") from None
    if len(parts) != 2:
        raise InvalidInputError("reference_dimensions must have two values (width, height)")
    return parts[0], parts[1]


class SizeMeasurementBlockV1(Block):
    manifest_class = SizeMeasurementManifest

    def run(self, object_predictions: sv.Detections, reference_predictions: Any, reference_dimensions: Any
            ) -> dict[str, Any]:
        known_w, known_h = _known_size(reference_dimensions)
        if isinstance(reference_predictions, sv.Detections):
            if reference_predictions.confidence is None or not len(reference_predictions):
                return {"dimensions": None}
            sides = detection_sides(reference_predictions, int(np.argmax(reference_predictions.confidence)))
        else:  # a polygon of the reference object
            polygon = np.array(reference_predictions, dtype=np.float32) if reference_predictions else np.zeros((0, 2))
            if len(polygon) < 2:
                return {"dimensions": None}
            sides = aligned_sides(polygon) if len(polygon) >= 3 and cv2.contourArea(polygon) > 0 else None
        if not sides or not sides[0] or not sides[1]:
            return {"dimensions": None}
        scale_w, scale_h = known_w / sides[0], known_h / sides[1]
        dimensions: list[dict[str, float] | None] = []
        for i in range(len(object_predictions)):
            size = detection_sides(object_predictions, i)
            if size and size[0] > 0 and size[1] > 0:
                width, height = size[0] * scale_w, size[1] * scale_h
                dimensions.append({"width": width, "height": height, "longer": max(width, height),
                                   "shorter": min(width, height)})
            else:
                dimensions.append(None)
        return {"dimensions": dimensions}


class BackgroundSubtractionManifest(BlockManifest):
    model_config = block_config(name="Background Subtraction", category="classical_computer_vision",
                                description="Mask of what moves against a learned background (MOG2).")
    type: Literal["roboflow_core/background_subtraction@v1"]
    image: Selector(kind=[IMAGE_KIND]) = Field(validation_alias=AliasChoices("image", "images"))
    threshold: Selector(kind=[INTEGER_KIND]) | int = 16
    history: Selector(kind=[INTEGER_KIND]) | int = 30

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="image", kind=[IMAGE_KIND])]


class BackgroundSubtractionBlockV1(Block):
    manifest_class = BackgroundSubtractionManifest
    stateful = True

    def run(self, image: WorkflowImageData, threshold: int = 16, history: int = 30) -> dict[str, Any]:
        if not isinstance(history, int) or not 0 < history <= MAX_HISTORY:
            raise InvalidInputError(f"'history' must be an integer from 1 to {MAX_HISTORY}, not {history!r}")
        subtractor = self.video_state(image.video_metadata.video_identifier, lambda: cv2.createBackgroundSubtractorMOG2(
            history=history, varThreshold=threshold, detectShadows=True))
        foreground = subtractor.apply(image.numpy_image)
        return {"image": image.with_image(np.stack((foreground,) * 3, axis=-1))}
