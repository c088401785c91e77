"""Model Comparison and Reference Path visualizations, drawn as the reference's blocks draw them.

Model comparison tints where only model A predicted, where only model B did, and where neither did (masks when
the detections have them, boxes otherwise); both agreeing leaves the pixels untouched.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import cv2
import numpy as np
import supervision as sv
from pydantic import Field, field_validator

from argus.errors import InvalidInputError
from argus.workflows.blocks.base import Block, Selector
from argus.workflows.blocks.visualization.common import (
    VisualizationManifest,
    canvas,
    drawn,
    str_to_color,
    visualization_config,
)
from argus.workflows.data import WorkflowImageData
from argus.workflows.kinds import (
    DETECTION_KINDS,
    FLOAT_ZERO_TO_ONE_KIND,
    INTEGER_KIND,
    LIST_OF_VALUES_KIND,
    STRING_KIND,
)


class ModelComparisonManifest(VisualizationManifest):
    """Two sets of detections and the colours of what only one of them covers."""

    model_config = visualization_config("Model Comparison Visualization",
                                        "Show where two models' predictions differ.")
    type: Literal["roboflow_core/model_comparison_visualization@v1"]
    predictions_a: Selector(kind=list(DETECTION_KINDS))  # type: ignore[valid-type]
    color_a: str | Selector(kind=[STRING_KIND]) = "GREEN"  # type: ignore[valid-type]
    predictions_b: Selector(kind=list(DETECTION_KINDS))  # type: ignore[valid-type]
    color_b: str | Selector(kind=[STRING_KIND]) = "RED"  # type: ignore[valid-type]
    background_color: str | Selector(kind=[STRING_KIND]) = "BLACK"  # type: ignore[valid-type]
    opacity: Annotated[float, Field(ge=0, le=1)] | Selector(kind=[FLOAT_ZERO_TO_ONE_KIND]) = 0.7  # type: ignore[valid-type]


def covered(detections: sv.Detections, shape: tuple[int, ...]) -> np.ndarray:
    """Pixels the detections cover: their masks, or their boxes when they have none."""
    area = np.zeros(shape[:2], dtype=bool)
    if detections.mask is not None:
        for mask in detections.mask:
            area |= mask.astype(bool)
        return area
    for x1, y1, x2, y2 in detections.xyxy.astype(int):
        area[max(y1, 0):max(y2, 0), max(x1, 0):max(x2, 0)] = True
    return area


def tint(scene: np.ndarray, where: np.ndarray, color: sv.Color, opacity: float) -> np.ndarray:
    """``scene`` blended towards ``color`` by ``opacity`` where ``where`` holds."""
    overlay = np.full_like(scene, color.as_bgr(), dtype=np.uint8)
    blended = cv2.addWeighted(scene, 1 - opacity, overlay, opacity, 0)
    scene[where] = blended[where]
    return scene


class ModelComparisonVisualizationBlockV1(Block):
    manifest_class = ModelComparisonManifest

    def run(self, image: WorkflowImageData, predictions_a: sv.Detections, predictions_b: sv.Detections,
            color_a: str = "GREEN", color_b: str = "RED", background_color: str = "BLACK", opacity: float = 0.7,
            copy_image: bool = True) -> dict[str, Any]:
        scene = canvas(image, copy_image)
        a, b = covered(predictions_a, scene.shape), covered(predictions_b, scene.shape)
        scene = tint(scene, ~(a | b), str_to_color(background_color), opacity)
        scene = tint(scene, a & ~b, str_to_color(color_a), opacity)
        return drawn(image, tint(scene, b & ~a, str_to_color(color_b), opacity))


class ReferencePathManifest(VisualizationManifest):
    """The path (a list of x, y points) and how it is drawn."""

    model_config = visualization_config("Reference Path Visualization", "Draw a reference path on an image.")
    type: Literal["roboflow_core/reference_path_visualization@v1"]
    reference_path: list | Selector(kind=[LIST_OF_VALUES_KIND])  # type: ignore[valid-type]
    color: str | Selector(kind=[STRING_KIND]) = "#5bb573"  # type: ignore[valid-type]
    thickness: int | Selector(kind=[INTEGER_KIND]) = 2  # type: ignore[valid-type]

    @field_validator("thickness")
    @classmethod
    def _positive(cls, value: Any) -> Any:
        if isinstance(value, int) and value <= 0:
            raise ValueError("thickness must be at least 1")
        return value


class ReferencePathVisualizationBlockV1(Block):
    manifest_class = ReferencePathManifest

    def run(self, image: WorkflowImageData, reference_path: Any, color: str = "#5bb573", thickness: int = 2,
            copy_image: bool = True) -> dict[str, Any]:
        try:
            points = np.array(reference_path, dtype=float)[:, :2].astype(np.int32)
        except (ValueError, TypeError, IndexError):
            raise InvalidInputError("'reference_path' must be a list of [x, y] points") from None
        if not isinstance(thickness, int) or isinstance(thickness, bool) or not 0 < thickness <= 1000:
            raise InvalidInputError(f"'thickness' must be an integer from 1 to 1000, not {thickness!r}")
        scene = canvas(image, copy_image)
        return drawn(image, cv2.polylines(scene, [points], False, str_to_color(color).as_bgr(), thickness))
