"""Text drawn on images: a classification's labels, and a free text box (Text Display).

Both lay their text out as the reference's blocks do, so the pixels agree: classification labels are stacked with
``sv.LabelAnnotator`` over pseudo-boxes spanning the image; the text box measures its lines with OpenCV's Hershey
font, places the box by anchor or absolute position, clamps it into the image and fills it (rounded, translucent).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

import cv2
import numpy as np
import supervision as sv
from pydantic import Field

from argus.errors import InvalidInputError
from argus.workflows.blocks.analytics.common import AnchorField
from argus.workflows.blocks.analytics.common import position as anchor_position
from argus.workflows.blocks.base import Block, Selector, StepOutputSelector
from argus.workflows.blocks.sinks.email_notification import fill_message
from argus.workflows.blocks.visualization.common import (
    ColorableVisualizationManifest,
    VisualizationManifest,
    annotator_colors,
    canvas,
    drawn,
    str_to_color,
    visualization_config,
)
from argus.workflows.data import WorkflowImageData
from argus.workflows.kinds import (
    CLASSIFICATION_PREDICTION_KIND,
    FLOAT_KIND,
    FLOAT_ZERO_TO_ONE_KIND,
    INTEGER_KIND,
    STRING_KIND,
)
from argus.workflows.query_language import AllOperationsType

_Str = str | Selector(kind=[STRING_KIND])  # type: ignore[valid-type]
_Int = int | Selector(kind=[INTEGER_KIND])  # type: ignore[valid-type]


class ClassificationLabelManifest(ColorableVisualizationManifest):
    """A classification's top class (single-label) or every predicted class (multi-label)."""

    model_config = visualization_config("Classification Label Visualization",
                                        "Draw a classification's labels on the image.")
    type: Literal["roboflow_core/classification_label_visualization@v1"]
    predictions: StepOutputSelector(kind=[CLASSIFICATION_PREDICTION_KIND])  # type: ignore[valid-type]
    text: Literal["Class", "Confidence", "Class and Confidence"] | Selector(kind=[STRING_KIND]) = "Class"  # type: ignore[valid-type]
    text_position: AnchorField = "TOP_LEFT"
    text_color: _Str = "WHITE"  # type: ignore[valid-type]
    text_scale: float | Selector(kind=[FLOAT_KIND]) = 1.0  # type: ignore[valid-type]
    text_thickness: _Int = 1  # type: ignore[valid-type]
    text_padding: _Int = 10  # type: ignore[valid-type]
    border_radius: _Int = 0  # type: ignore[valid-type]


def ranked_classes(predictions: Any) -> list[dict[str, Any]]:
    """The top class of a single-label result, or every predicted class of a multi-label one, best first."""
    if not isinstance(predictions, dict) or "predictions" not in predictions:
        raise InvalidInputError("'predictions' must be a classification model's output")
    if isinstance(predictions["predictions"], list):
        return sorted(predictions["predictions"], key=lambda p: p["confidence"], reverse=True)[:1]
    rows = [{"class": name, "class_id": predictions["predictions"][name]["class_id"],
             "confidence": predictions["predictions"][name]["confidence"]}
            for name in predictions.get("predicted_classes", [])]
    return sorted(rows, key=lambda p: p["confidence"], reverse=True)


def _caption(row: dict[str, Any], text: str) -> str:
    if text == "Class":
        return f"{row['class']}"
    if text == "Confidence":
        return f"{row['confidence']:.2f}"
    if text == "Class and Confidence":
        return f"{row['class']} {row['confidence']:.2f}"
    raise InvalidInputError(f"text must be 'Class', 'Confidence' or 'Class and Confidence', not {text!r}")


def label_boxes(labels: list[str], position: str, width: int, height: int, spacing: float, scale: float,
                padding: int) -> np.ndarray:
    """Pseudo-boxes whose anchors stack the labels: down from the top, up from the bottom, or around the middle
    (beside a column as wide as the longest label, for CENTER_LEFT and CENTER_RIGHT), as the reference places them."""
    n = len(labels)
    if position.startswith("BOTTOM"):
        return np.array([[0, 0, width, height - (i + 1) * spacing] for i in range(n)], dtype=float)
    if not position.startswith("CENTER"):
        return np.array([[0, (i + 1) * spacing, width, height] for i in range(n)], dtype=float)
    start = max(0.0, min((height - spacing * n) / 2, height - spacing * n))
    column = max(len(label) for label in labels) * 15 * scale + padding * 2 + 20 + max(0, 10 - padding) * 3
    left = column if position == "CENTER_LEFT" else 0.0
    right = width - column if position == "CENTER_RIGHT" else float(width)
    return np.array([[left, start + i * spacing, right, start + (i + 1) * spacing] for i in range(n)], dtype=float)


class ClassificationLabelVisualizationBlockV1(Block):
    manifest_class = ClassificationLabelManifest

    def run(self, image: WorkflowImageData, predictions: Any, copy_image: bool = True,
            color_palette: str = "DEFAULT", palette_size: int = 10, custom_colors: list[str] | None = None,
            color_axis: str = "CLASS", text: str = "Class", text_position: str = "TOP_LEFT",
            text_color: str = "WHITE", text_scale: float = 1.0, text_thickness: int = 1, text_padding: int = 10,
            border_radius: int = 0) -> dict[str, Any]:
        rows = ranked_classes(predictions)
        scene = canvas(image, copy_image)
        if not rows:
            return drawn(image, scene)
        spacing = 20 * text_scale + text_padding * 2 + text_thickness * 2 + 5
        size = predictions.get("image") or {"width": scene.shape[1], "height": scene.shape[0]}
        width, height = int(size["width"]), int(size["height"])
        if text_position.startswith("BOTTOM"):  # stacked upwards: the best class nearest the bottom
            rows = rows[::-1]
        labels = [_caption(row, text) for row in rows]
        boxes = label_boxes(labels, text_position, width, height, spacing, text_scale, text_padding)
        annotator = sv.LabelAnnotator(
            **annotator_colors(color_palette, palette_size, custom_colors or [], color_axis, tracked=True),
            text_position=anchor_position(text_position, "text_position"), text_color=str_to_color(text_color),
            text_scale=float(text_scale), text_thickness=int(text_thickness), text_padding=int(text_padding),
            border_radius=int(border_radius))
        pseudo = sv.Detections(xyxy=boxes, class_id=np.array([row["class_id"] for row in rows]),
                               confidence=np.array([row["confidence"] for row in rows]),
                               tracker_id=np.zeros(len(rows), dtype=int))
        return drawn(image, annotator.annotate(scene=scene, detections=pseudo, labels=labels))


# ------------------------------------------------------------------ Text Display

ANCHORS = {"top_left": (0.0, 0.0), "top_center": (0.5, 0.0), "top_right": (1.0, 0.0), "center_left": (0.0, 0.5),
           "center": (0.5, 0.5), "center_right": (1.0, 0.5), "bottom_left": (0.0, 1.0),
           "bottom_center": (0.5, 1.0), "bottom_right": (1.0, 1.0)}
FONT = cv2.FONT_HERSHEY_SIMPLEX
MAX_TEXT_CHARACTERS = 10_000


class TextDisplayManifest(VisualizationManifest):
    """The text (``{{ $parameters.x }}`` filled from ``text_parameters``), its box and where it goes."""

    model_config = visualization_config("Text Display", "Draw a box of text on an image.")
    type: Literal["roboflow_core/text_display@v1"]
    text: str = Field(max_length=MAX_TEXT_CHARACTERS)
    text_parameters: dict[str, Selector() | str | int | float | bool] = Field(default_factory=dict)  # type: ignore[valid-type]
    text_parameters_operations: dict[str, list[AllOperationsType]] = Field(default_factory=dict)
    text_color: _Str = "WHITE"  # type: ignore[valid-type]
    background_color: _Str = "BLACK"  # type: ignore[valid-type]
    background_opacity: Annotated[float, Field(ge=0, le=1)] | Selector(kind=[FLOAT_ZERO_TO_ONE_KIND]) = 1.0  # type: ignore[valid-type]
    font_scale: Annotated[float, Field(ge=0.1, le=10)] | Selector(kind=[FLOAT_KIND]) = 1.0  # type: ignore[valid-type]
    font_thickness: Annotated[int, Field(ge=1, le=10)] | Selector(kind=[INTEGER_KIND]) = 2  # type: ignore[valid-type]
    padding: Annotated[int, Field(ge=0)] | Selector(kind=[INTEGER_KIND]) = 10  # type: ignore[valid-type]
    text_align: Literal["left", "center", "right"] | Selector(kind=[STRING_KIND]) = "left"  # type: ignore[valid-type]
    border_radius: Annotated[int, Field(ge=0)] | Selector(kind=[INTEGER_KIND]) = 0  # type: ignore[valid-type]
    position_mode: Literal["absolute", "relative"] | Selector(kind=[STRING_KIND]) = "relative"  # type: ignore[valid-type]
    position_x: _Int = 0  # type: ignore[valid-type]
    position_y: _Int = 0  # type: ignore[valid-type]
    anchor: Literal[tuple(ANCHORS)] | Selector(kind=[STRING_KIND]) = "top_left"  # type: ignore[valid-type]
    offset_x: _Int = 10  # type: ignore[valid-type]
    offset_y: _Int = 10  # type: ignore[valid-type]


@dataclass(frozen=True)
class TextLayout:
    """Measured lines and the box around them, in image pixels."""

    lines: list[str]
    widths: list[int]
    text_height: int
    advance: int
    spacing: int
    x: int
    y: int
    width: int
    height: int


def layout_text(text: str, scale: float, thickness: int, padding: int, mode: str, position: tuple[int, int],
                anchor: str, offset: tuple[int, int], image_w: int, image_h: int) -> TextLayout:
    """Lines measured in Hershey Simplex, a quarter-line apart, the box placed and then clamped into the image."""
    lines = text.split("\n") if text else [""]
    (_, text_h), baseline = cv2.getTextSize("Ag", FONT, scale, thickness)
    advance = text_h + baseline
    spacing = max(1, int(round(0.25 * advance)))
    widths = [cv2.getTextSize(line, FONT, scale, thickness)[0][0] if line.strip() else 0 for line in lines]
    box_w = max(widths, default=0) + 2 * padding
    box_h = len(lines) * advance + max(0, len(lines) - 1) * spacing + 2 * padding
    if mode == "absolute":
        x, y = position
    else:
        if anchor.lower() not in ANCHORS:
            raise InvalidInputError(f"anchor {anchor!r} is not one of {', '.join(ANCHORS)}")
        ax, ay = ANCHORS[anchor.lower()]
        x = int(round(ax * image_w)) - int(round(ax * box_w)) + offset[0]
        y = int(round(ay * image_h)) - int(round(ay * box_h)) + offset[1]
    x = 0 if box_w > image_w else max(0, min(x, image_w - box_w))
    y = 0 if box_h > image_h else max(0, min(y, image_h - box_h))
    return TextLayout(lines, widths, text_h, advance, spacing, x, y, box_w, box_h)


def rounded_box(img: np.ndarray, top_left: tuple[int, int], bottom_right: tuple[int, int],
                color: tuple[int, int, int], radius: int) -> None:
    """A filled rectangle with quarter-circle corners (a plain one when the radius is 0)."""
    (x1, y1), (x2, y2) = top_left, bottom_right
    if x2 <= x1 or y2 <= y1:
        return
    radius = min(radius, (x2 - x1) // 2, (y2 - y1) // 2)
    if radius <= 0:
        cv2.rectangle(img, top_left, bottom_right, color, -1)
        return
    cv2.rectangle(img, (x1 + radius, y1), (x2 - radius, y2), color, -1)
    cv2.rectangle(img, (x1, y1 + radius), (x2, y2 - radius), color, -1)
    for centre, start in (((x1 + radius, y1 + radius), 180), ((x2 - radius, y1 + radius), 270),
                          ((x1 + radius, y2 - radius), 90), ((x2 - radius, y2 - radius), 0)):
        cv2.ellipse(img, centre, (radius, radius), start, 0, 90, color, -1)


def fill_background(img: np.ndarray, box: tuple[int, int, int, int], color: tuple[int, int, int] | None,
                    opacity: float, radius: int) -> None:
    """The text box's background: opaque, or blended into the image by ``opacity``."""
    x1, y1, x2, y2 = box
    if color is None or opacity <= 0 or x2 <= x1 or y2 <= y1:
        return
    if opacity >= 1.0:
        rounded_box(img, (x1, y1), (x2 - 1, y2 - 1), color, radius)
        return
    region = img[y1:y2, x1:x2]
    overlay = region.copy()
    rounded_box(overlay, (0, 0), (x2 - x1 - 1, y2 - y1 - 1), color, radius)
    img[y1:y2, x1:x2] = cv2.addWeighted(overlay, opacity, region, 1 - opacity, 0)


class TextDisplayVisualizationBlockV1(Block):
    manifest_class = TextDisplayManifest

    def run(self, image: WorkflowImageData, text: str, text_parameters: dict[str, Any],
            text_parameters_operations: dict[str, list[Any]], copy_image: bool = True, text_color: str = "WHITE",
            background_color: str = "BLACK", background_opacity: float = 1.0, font_scale: float = 1.0,
            font_thickness: int = 2, padding: int = 10, text_align: str = "left", border_radius: int = 0,
            position_mode: str = "relative", position_x: int = 0, position_y: int = 0, anchor: str = "top_left",
            offset_x: int = 10, offset_y: int = 10) -> dict[str, Any]:
        shown = fill_message(text, text_parameters, text_parameters_operations)[:MAX_TEXT_CHARACTERS]
        scene = canvas(image, copy_image)
        image_h, image_w = scene.shape[:2]
        layout = layout_text(shown, float(font_scale), int(font_thickness), int(padding), position_mode,
                             (int(position_x), int(position_y)), anchor, (int(offset_x), int(offset_y)),
                             image_w, image_h)
        box = (max(0, layout.x), max(0, layout.y), min(image_w, layout.x + layout.width),
               min(image_h, layout.y + layout.height))
        background = None if background_color.lower() == "transparent" else str_to_color(background_color).as_bgr()
        fill_background(scene, box, background, float(background_opacity), int(border_radius))
        colour = str_to_color(text_color).as_bgr()
        top = layout.y + padding
        widest = max(layout.widths, default=0)
        for i, line in enumerate(layout.lines):
            if line.strip():
                shift = {"center": (widest - layout.widths[i]) // 2, "right": widest - layout.widths[i]}.get(
                    text_align, 0)
                x, baseline_y = layout.x + padding + shift, top + layout.text_height
                if baseline_y > 0 and top < image_h and x < image_w:
                    cv2.putText(scene, line, (x, baseline_y), FONT, font_scale, colour, font_thickness, cv2.LINE_AA)
            top += layout.advance + (layout.spacing if i < len(layout.lines) - 1 else 0)
        return drawn(image, scene)
