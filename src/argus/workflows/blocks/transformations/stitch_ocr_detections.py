# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Stitch OCR Detections v1: detections whose class names are text pieces (characters, words) → one string.

The reference's rules: boxes are grouped into lines by their top edge rounded to ``tolerance`` pixels (their
left edge for vertical text), lines are read in order and boxes within a line by their leading edge; pieces
are joined by ``delimiter`` and lines by a newline (a space for vertical text). ``auto`` reads horizontally when
the first image's boxes are on average wider than tall.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import supervision as sv
from pydantic import Field

from argus.errors import InvalidInputError
from argus.workflows.blocks.base import Block, BlockManifest, Element, OutputDefinition, Selector, block_config
from argus.workflows.data import CLASS_NAME_KEY
from argus.workflows.kinds import INTEGER_KIND, OBJECT_DETECTION_PREDICTION_KIND, STRING_KIND

Direction = Literal["left_to_right", "right_to_left", "vertical_top_to_bottom", "vertical_bottom_to_top", "auto"]
_VERTICAL = ("vertical_top_to_bottom", "vertical_bottom_to_top")


class StitchOcrManifest(BlockManifest):
    model_config = block_config(name="Stitch OCR Detections", category="transformation",
                                description="Combine OCR detection results into a coherent text string.")
    type: Literal["roboflow_core/stitch_ocr_detections@v1"]
    predictions: Selector(kind=[OBJECT_DETECTION_PREDICTION_KIND])
    reading_direction: Direction
    tolerance: int | Selector(kind=[INTEGER_KIND]) = Field(default=10)
    delimiter: str | Selector(kind=[STRING_KIND]) = ""

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="ocr_text", kind=[STRING_KIND])]


class StitchOcrDetectionsBlockV1(Block):
    manifest_class = StitchOcrManifest

    def run(self, predictions: sv.Detections, reading_direction: str, tolerance: int = 10,
            delimiter: str = "") -> dict[str, Any]:
        if reading_direction == "auto":
            reading_direction = detect_reading_direction(predictions)
        return {"ocr_text": stitch(predictions, reading_direction, tolerance, delimiter)}

    def run_batch(self, elements: list[Element]) -> list[Any]:
        """``auto`` decides once, from the batch's first predictions, as the reference does."""
        if elements and elements[0].kwargs.get("reading_direction") == "auto":
            direction = detect_reading_direction(elements[0].kwargs["predictions"])
            elements = [Element({**e.kwargs, "reading_direction": direction}, e.index, e.video_metadata,
                                e.disable_sinks) for e in elements]
        return super().run_batch(elements)


def detect_reading_direction(detections: sv.Detections) -> str:
    """Horizontal when the boxes are on average wider than tall."""
    if len(detections) == 0:
        return "left_to_right"
    widths = detections.xyxy[:, 2] - detections.xyxy[:, 0]
    heights = detections.xyxy[:, 3] - detections.xyxy[:, 1]
    return "left_to_right" if widths.mean() > heights.mean() else "vertical_top_to_bottom"


def stitch(detections: sv.Detections, direction: str, tolerance: int, delimiter: str) -> str:
    """The pieces' text in reading order."""
    if not isinstance(tolerance, int) or isinstance(tolerance, bool) or tolerance <= 0:
        raise InvalidInputError(f"'tolerance' must be a positive number of pixels, not {tolerance!r}")
    if len(detections) == 0:
        return ""
    names = detections.data.get(CLASS_NAME_KEY)
    if names is None:
        raise InvalidInputError("the predictions carry no class names to stitch")
    xyxy = detections.xyxy.round().astype(int)
    if direction in _VERTICAL:
        xyxy = xyxy[:, [1, 0, 3, 2]]
    lines: dict[float, list[int]] = {}
    for index, position in enumerate(np.round(xyxy[:, 1] / tolerance) * tolerance):
        lines.setdefault(float(position), []).append(index)
    forward = direction in ("left_to_right", "vertical_top_to_bottom")
    separator = "\n" if direction not in _VERTICAL else " "
    pieces: list[str] = []
    for number, key in enumerate(sorted(lines, reverse=direction == "vertical_bottom_to_top")):
        members = np.array(lines[key])
        leading = xyxy[members, 0]
        order = leading.argsort() if forward else (-leading).argsort()
        pieces.extend(str(names[i]) for i in members[order])
        if number < len(lines) - 1:
            pieces.append(separator)
    return delimiter.join(pieces)
