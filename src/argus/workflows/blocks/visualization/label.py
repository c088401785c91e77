"""Label Visualization (``roboflow_core/label_visualization@v1``): text labels, ``sv.LabelAnnotator``.

``text`` picks what each label says, with the reference's choices and formats: ``Class``,
``Confidence``, ``Class and Confidence``, ``Tracker Id``, ``Time In Zone``, ``Index``,
``Dimensions``, ``Area``, or the name of any ``data`` field of the detections.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import supervision as sv
from pydantic import Field

from argus.errors import InvalidInputError
from argus.workflows.blocks.analytics.common import AnchorField
from argus.workflows.blocks.analytics.common import position as anchor_position
from argus.workflows.blocks.base import Selector
from argus.workflows.blocks.visualization.common import (
    AnnotatorBlock,
    ColorableVisualizationManifest,
    str_to_color,
    visualization_config,
)
from argus.workflows.data import CLASS_NAME_KEY, TIME_IN_ZONE_KEY, WorkflowImageData
from argus.workflows.kinds import FLOAT_KIND, INTEGER_KIND, STRING_KIND

TEXT_CHOICES = ("Class", "Confidence", "Class and Confidence", "Tracker Id", "Time In Zone", "Index", "Dimensions",
                "Area", "Area (mask)", "Area (converted)")
# v2's "Automatic" text size: the manual scale is meant for an image whose short side is 1080 pixels.
REFERENCE_MIN_DIMENSION_PX = 1080
MIN_LABEL_TEXT_SCALE, MAX_LABEL_TEXT_SCALE = 0.3, 5.0


class LabelManifest(ColorableVisualizationManifest):
    """What the label says and how it looks."""

    model_config = visualization_config("Label Visualization", "Draw labels on an image at specific coordinates.")
    type: Literal["roboflow_core/label_visualization@v1", "LabelVisualization"]
    text: str | Selector(kind=[STRING_KIND]) = Field(  # type: ignore[valid-type]
        default="Class", description=f"Label content: one of {', '.join(TEXT_CHOICES)}, or a data field name.")
    text_position: AnchorField = Field(default="TOP_LEFT", description="Anchor of the box where the label goes.")
    text_color: str | Selector(kind=[STRING_KIND]) = Field(  # type: ignore[valid-type]
        default="WHITE", description="Color of the text.")
    text_scale: float | Selector(kind=[FLOAT_KIND]) = Field(  # type: ignore[valid-type]
        default=1.0, description="Scale of the text.")
    text_thickness: int | Selector(kind=[INTEGER_KIND]) = Field(  # type: ignore[valid-type]
        default=1, description="Thickness of the text characters.")
    text_padding: int | Selector(kind=[INTEGER_KIND]) = Field(  # type: ignore[valid-type]
        default=10, description="Padding around the text in pixels.")
    border_radius: int | Selector(kind=[INTEGER_KIND]) = Field(  # type: ignore[valid-type]
        default=0, description="Radius of the label's corners.")


def labels_for(predictions: sv.Detections, text: str) -> list[str]:
    """The label of each detection for the reference's ``text`` choice.

    Example:
        >>> d = sv.Detections(xyxy=np.array([[0., 0., 4., 2.]]), confidence=np.array([0.5]),
        ...                   data={"class_name": np.array(["cat"])})
        >>> labels_for(d, "Class and Confidence"), labels_for(d, "Dimensions"), labels_for(d, "Area")
        (['cat 0.50'], ['2, 1 4x2'], ['8'])
    """
    n = len(predictions)
    if text == "Class":
        return [str(c) for c in _names(predictions)]
    if text == "Confidence":
        return [f"{c:.2f}" for c in _confidence(predictions)]
    if text == "Class and Confidence":
        return [f"{name} {c:.2f}" for name, c in zip(_names(predictions), _confidence(predictions))]
    if text == "Tracker Id":
        ids = predictions.tracker_id if predictions.tracker_id is not None else [None] * n
        return [str(t) if t is not None else "No Tracker ID" for t in ids]
    if text == "Time In Zone":
        times = predictions.data.get(TIME_IN_ZONE_KEY)
        return [f"In zone: {round(float(t), 2)}s" if t else "In zone: N/A" for t in (times if times is not None
                                                                                       else [None] * n)]
    if text == "Index":
        return [str(i) for i in range(n)]
    if text == "Dimensions":
        return [f"{int((x1 + x2) / 2)}, {int((y1 + y2) / 2)} {int(x2 - x1)}x{int(y2 - y1)}"
                for x1, y1, x2, y2 in predictions.xyxy]
    if text == "Area":
        return [str(int(a)) for a in predictions.area]
    if text in ("Area (mask)", "Area (converted)"):
        key, caption = ("area_px", "Area (mask)") if text == "Area (mask)" else ("area_converted", "Area (conv)")
        areas = predictions.data.get(key)
        return [f"{caption}: {float(a):.2f}" if a is not None else f"{caption}: N/A"
                for a in (areas if areas is not None else [None] * n)]
    if text in predictions.data:
        return [str(v) if v is not None else "" for v in predictions.data[text]]
    raise InvalidInputError(f"text {text!r} is neither one of {', '.join(TEXT_CHOICES)} nor a field of the "
                            f"detections ({', '.join(sorted(predictions.data)) or 'none'}).")


def _names(predictions: sv.Detections) -> list[Any]:
    names = predictions.data.get(CLASS_NAME_KEY)
    if names is None:
        names = predictions.class_id if predictions.class_id is not None else [""] * len(predictions)
    return list(names)


def _confidence(predictions: sv.Detections) -> np.ndarray:
    return predictions.confidence if predictions.confidence is not None else np.ones(len(predictions))


class LabelVisualizationBlockV1(AnnotatorBlock):
    """One label per detection."""

    manifest_class = LabelManifest
    colorable = True

    def annotator(self, text: str, text_position: str, text_color: str, text_scale: float, text_thickness: int,
                  text_padding: int, border_radius: int, **colors: Any) -> Any:
        self._text = text
        return sv.LabelAnnotator(text_position=anchor_position(text_position, "text_position"),
                                 text_color=str_to_color(text_color), text_scale=float(text_scale),
                                 text_thickness=int(text_thickness), text_padding=int(text_padding),
                                 border_radius=int(border_radius), **colors)

    def annotate(self, annotator: Any, scene: np.ndarray, predictions: sv.Detections) -> np.ndarray:
        return annotator.annotate(scene=scene, detections=predictions, labels=labels_for(predictions, self._text))


class LabelManifestV2(LabelManifest):
    """v2 adds ``text_size_mode``: ``Automatic`` scales the text with the image."""

    model_config = visualization_config("Label Visualization", "Draw labels on an image at specific coordinates.",
                                        "v2")
    type: Literal["roboflow_core/label_visualization@v2"]  # type: ignore[assignment]
    text_size_mode: Literal["Manual", "Automatic"] | Selector(kind=[STRING_KIND]) = Field(  # type: ignore[valid-type]
        default="Manual", description="Manual: text_scale as given; Automatic: scaled with the image's short side.")


def adaptive_text_scale(height: int, width: int, text_scale: float, text_size_mode: str) -> float:
    """The reference's label scale: ``text_scale`` as is, or grown with the image's short side (``Automatic``)."""
    if text_size_mode != "Automatic":
        return float(text_scale)
    return max(MIN_LABEL_TEXT_SCALE, min(MAX_LABEL_TEXT_SCALE,
                                         float(text_scale) * min(height, width) / REFERENCE_MIN_DIMENSION_PX))


class LabelVisualizationBlockV2(LabelVisualizationBlockV1):
    manifest_class = LabelManifestV2  # type: ignore[assignment]  # (a v2 manifest is its v1 one plus fields)

    def run(self, image: WorkflowImageData, predictions: sv.Detections, copy_image: bool = True,
            text_size_mode: str = "Manual", **params: Any) -> dict[str, Any]:
        height, width = image.numpy_image.shape[:2]
        params["text_scale"] = adaptive_text_scale(height, width, params.get("text_scale", 1.0), text_size_mode)
        return super().run(image, predictions, copy_image, **params)
