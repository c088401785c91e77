"""Keypoint Visualization (``roboflow_core/keypoint_visualization@v1``): skeleton edges, vertices or labels.

``annotator_type`` picks ``sv.EdgeAnnotator`` (``edges``: pairs of keypoint indices), ``sv.VertexAnnotator``
or ``sv.VertexLabelAnnotator`` (labels are the keypoint class names). Keypoints come from the
detections' ``keypoints_xy`` / ``keypoints_confidence`` / ``keypoints_class_name`` data.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import supervision as sv
from pydantic import Field

from argus.errors import InvalidInputError
from argus.workflows.blocks.base import Selector
from argus.workflows.blocks.visualization.common import (
    AnnotatorBlock,
    VisualizationManifest,
    str_to_color,
    visualization_config,
)
from argus.workflows.data import (
    KEYPOINTS_CLASS_NAME_KEY,
    KEYPOINTS_CONFIDENCE_KEY,
    KEYPOINTS_XY_KEY,
)
from argus.workflows.kinds import (
    FLOAT_KIND,
    INTEGER_KIND,
    KEYPOINT_DETECTION_PREDICTION_KIND,
    LIST_OF_VALUES_KIND,
    STRING_KIND,
)


class KeypointManifest(VisualizationManifest):
    """Drawing mode, colours and sizes."""

    model_config = visualization_config("Keypoint Visualization", "Draw keypoints on detected objects.")
    type: Literal["roboflow_core/keypoint_visualization@v1", "KeypointVisualization"]
    predictions: Selector(kind=[KEYPOINT_DETECTION_PREDICTION_KIND]) = Field(  # type: ignore[valid-type]
        description="Keypoint detections.")
    annotator_type: Literal["edge", "vertex", "vertex_label"] = Field(default="edge", description="Drawing mode.")
    color: str | Selector(kind=[STRING_KIND]) = Field(  # type: ignore[valid-type]
        default="#A351FB", description="Color of the keypoints / edges.")
    text_color: str | Selector(kind=[STRING_KIND]) = Field(  # type: ignore[valid-type]
        default="black", description="Label text color (vertex_label).")
    text_scale: float | Selector(kind=[FLOAT_KIND]) = Field(  # type: ignore[valid-type]
        default=0.5, description="Label text scale (vertex_label).")
    text_thickness: int | Selector(kind=[INTEGER_KIND]) = Field(  # type: ignore[valid-type]
        default=1, description="Label text thickness (vertex_label).")
    text_padding: int | Selector(kind=[INTEGER_KIND]) = Field(  # type: ignore[valid-type]
        default=10, description="Label padding (vertex_label).")
    thickness: int | Selector(kind=[INTEGER_KIND]) = Field(  # type: ignore[valid-type]
        default=2, description="Edge thickness (edge).")
    radius: int | Selector(kind=[INTEGER_KIND]) = Field(  # type: ignore[valid-type]
        default=10, description="Vertex radius (vertex, vertex_label).")
    edges: list | None | Selector(kind=[LIST_OF_VALUES_KIND]) = Field(  # type: ignore[valid-type]
        default=None, description="Pairs of keypoint indices joined by edges (edge); 1-based, as supervision.")


def to_key_points(predictions: sv.Detections) -> sv.KeyPoints:
    """The detections' keypoints as ``sv.KeyPoints`` (names in ``data['class_name']``)."""
    if KEYPOINTS_XY_KEY not in predictions.data:
        raise InvalidInputError("Keypoint Visualization needs keypoint detections (a keypoint detection model's "
                                "predictions); these carry no keypoints_xy.")
    xy = np.array([np.asarray(row, dtype=np.float32) for row in predictions.data[KEYPOINTS_XY_KEY]])
    confidence = np.array([np.asarray(row, dtype=np.float32) for row in predictions.data[KEYPOINTS_CONFIDENCE_KEY]])
    names = predictions.data.get(KEYPOINTS_CLASS_NAME_KEY)
    data: dict[str, Any] = {}
    if names is not None:
        data["class_name"] = np.array([list(row) for row in names], dtype=object)
    class_id = np.asarray(predictions.class_id if predictions.class_id is not None else np.zeros(len(xy)), dtype=int)
    return sv.KeyPoints(xy=xy, keypoint_confidence=confidence, class_id=class_id, data=data)


class KeypointVisualizationBlockV1(AnnotatorBlock):
    """Edges, vertices or labelled vertices of each detection's keypoints."""

    manifest_class = KeypointManifest

    def annotator(self, annotator_type: str, color: str, text_color: str, text_scale: float, text_thickness: int,
                  text_padding: int, thickness: int, radius: int, edges: list | None) -> Any:
        if annotator_type == "edge":
            pairs = [(int(a), int(b)) for a, b in edges] if edges else None
            return sv.EdgeAnnotator(color=str_to_color(color), thickness=int(thickness), edges=pairs)
        if annotator_type == "vertex":
            return sv.VertexAnnotator(color=str_to_color(color), radius=int(radius))
        return sv.VertexLabelAnnotator(color=str_to_color(color), text_color=str_to_color(text_color),
                                       text_scale=float(text_scale), text_thickness=int(text_thickness),
                                       text_padding=int(text_padding), border_radius=int(radius))

    def annotate(self, annotator: Any, scene: np.ndarray, predictions: sv.Detections) -> np.ndarray:
        key_points = to_key_points(predictions)
        try:
            if isinstance(annotator, sv.VertexLabelAnnotator) and "class_name" in key_points.data:
                return annotator.annotate(scene=scene, key_points=key_points,
                                          labels=[str(n) for n in key_points.data["class_name"][0]])
            return annotator.annotate(scene=scene, key_points=key_points)
        except ValueError as error:  # supervision checks edges against the keypoints (1-based indices)
            raise InvalidInputError(f"edges: {error}") from None
