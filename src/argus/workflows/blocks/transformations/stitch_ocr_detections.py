# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Stitch OCR Detections v1 and v2: detections whose class names are text pieces (characters, words) → one string.

The reference's rules. ``tolerance`` (v1, and v2's default algorithm): boxes are grouped into lines by their top
edge rounded to ``tolerance`` pixels (their left edge for vertical text), lines are read in order and boxes within
a line by their leading edge; pieces are joined by ``delimiter`` and lines by a newline (a space for vertical
text). v2 adds ``otsu`` (lines by centre within half the median height; word breaks where the gap, normalised by
the neighbours' widths, is above Otsu's threshold over every gap, only when the gaps are bimodal) and
``collimate`` (greedy chains: a box joins a line when it is aligned with the line's last box and after it).
``auto`` reads horizontally when the first image's boxes are on average wider than tall.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import supervision as sv
from pydantic import Field

from argus.errors import InvalidInputError
from argus.workflows.blocks.base import Block, BlockManifest, Element, OutputDefinition, Selector, block_config
from argus.workflows.data import CLASS_NAME_KEY
from argus.workflows.kinds import FLOAT_KIND, INTEGER_KIND, OBJECT_DETECTION_PREDICTION_KIND, STRING_KIND

Algorithm = Literal["tolerance", "otsu", "collimate"]
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


class StitchOcrManifestV2(StitchOcrManifest):
    type: Literal["roboflow_core/stitch_ocr_detections@v2"]  # type: ignore[assignment]
    stitching_algorithm: Algorithm
    otsu_threshold_multiplier: float | Selector(kind=[FLOAT_KIND]) = 1.0
    collimate_tolerance: int | Selector(kind=[INTEGER_KIND]) = 10


class StitchOcrDetectionsBlockV1(Block):
    manifest_class: ClassVar[type[BlockManifest]] = StitchOcrManifest

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
    names = _names(detections)
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


class StitchOcrDetectionsBlockV2(StitchOcrDetectionsBlockV1):
    manifest_class = StitchOcrManifestV2

    def run(self, predictions: sv.Detections, reading_direction: str, tolerance: int = 10,  # type: ignore[override]
            delimiter: str = "", stitching_algorithm: str = "tolerance", otsu_threshold_multiplier: float = 1.0,
            collimate_tolerance: int = 10) -> dict[str, Any]:
        if reading_direction == "auto":
            reading_direction = detect_reading_direction(predictions)
        if stitching_algorithm == "otsu":
            text = stitch_otsu(predictions, reading_direction, delimiter, otsu_threshold_multiplier)
        elif stitching_algorithm == "collimate":
            text = stitch_collimate(predictions, reading_direction, delimiter, collimate_tolerance)
        else:
            text = stitch(predictions, reading_direction, tolerance, delimiter)
        return {"ocr_text": text}


def _names(detections: sv.Detections) -> np.ndarray:
    names = detections.data.get(CLASS_NAME_KEY)
    if names is None:
        raise InvalidInputError("the predictions carry no class names to stitch")
    return np.asarray(names, dtype=object)


def _axes(detections: sv.Detections, direction: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Centres along and across the reading direction, and sizes along and across it."""
    x0, y0, x1, y1 = detections.xyxy.T.astype(np.float64)
    along, across, length, thickness = (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0
    if direction in _VERTICAL:
        return across, along, thickness, length
    return along, across, length, thickness


def otsu_threshold(gaps: np.ndarray) -> tuple[float, bool]:
    """The gap that best splits the gaps in two (Otsu's criterion over a histogram's bin centres), and whether they
    look bimodal: the upper class's mean must be a real word gap (> 0.3 of a character)."""
    if len(gaps) < 2:
        return 0.0, False
    _, edges = np.histogram(gaps, bins=min(50, len(gaps)))
    best, best_variance, below_mean, above_mean = 0.0, 0.0, 0.0, 0.0
    for threshold in (edges[:-1] + edges[1:]) / 2:
        below, above = gaps[gaps <= threshold], gaps[gaps > threshold]
        if not len(below) or not len(above):
            continue
        variance = len(below) * len(above) * (below.mean() - above.mean()) ** 2
        if variance > best_variance:
            best, best_variance, below_mean, above_mean = float(threshold), variance, below.mean(), above.mean()
    spread = gaps.std()
    separation = abs(above_mean - below_mean)
    relative = separation / spread if spread > 0 else 0
    bimodal = above_mean > 0.3 and (separation > 0.3 or (relative > 1.5 and separation > 0.3))
    return best, bool(bimodal)


def stitch_otsu(detections: sv.Detections, direction: str, delimiter: str, multiplier: float) -> str:
    """Lines by centre, words by Otsu's threshold on gaps normalised by the neighbours' sizes."""
    if len(detections) == 0:
        return ""
    names = _names(detections)
    along, across, length, thickness = _axes(detections, direction)
    tolerance = np.median(thickness) * 0.5
    order = np.argsort(across)
    lines: list[list[int]] = [[int(order[0])]]
    line_position = across[order[0]]
    for index in order[1:]:
        if abs(across[index] - line_position) <= tolerance:
            lines[-1].append(int(index))
            line_position = np.mean([across[i] for i in lines[-1]])
        else:
            lines.append([int(index)])
            line_position = across[index]
    positions = [np.mean([across[i] for i in line]) for line in lines]
    line_order = np.argsort(positions)[::-1] if direction == "vertical_bottom_to_top" else np.argsort(positions)
    backward = direction in ("right_to_left", "vertical_bottom_to_top")
    prepared: list[tuple[list[int], np.ndarray | None]] = []
    all_gaps: list[float] = []
    for line_index in line_order:
        line = lines[line_index]
        if len(line) == 1:
            prepared.append((line, None))
            continue
        within = np.argsort(along[line])
        sorted_line = [line[i] for i in (within[::-1] if backward else within)]
        centres, sizes = along[sorted_line], length[sorted_line]
        gaps = []
        for k in range(1, len(sorted_line)):
            raw = (centres[k - 1] - centres[k] if backward else centres[k] - centres[k - 1]) - (
                sizes[k - 1] + sizes[k]) / 2
            scale = (sizes[k - 1] + sizes[k]) / 2
            gaps.append(raw / scale if scale > 0 else 0.0)
        all_gaps.extend(gaps)
        prepared.append((sorted_line, np.array(gaps)))
    threshold, bimodal = otsu_threshold(np.array(all_gaps))
    threshold *= multiplier
    texts = []
    for sorted_line, gaps_of_line in prepared:
        if gaps_of_line is None or not bimodal:
            texts.append(delimiter.join(str(names[i]) for i in sorted_line))
            continue
        words = [[sorted_line[0]]]
        for gap, index in zip(gaps_of_line, sorted_line[1:]):
            if gap > threshold:
                words.append([index])
            else:
                words[-1].append(index)
        texts.append((" " if delimiter == "" else delimiter).join(
            delimiter.join(str(names[i]) for i in word) for word in words))
    return ("\n" if direction not in _VERTICAL else " ").join(texts)


def stitch_collimate(detections: sv.Detections, direction: str, delimiter: str, tolerance: int) -> str:
    """Greedy chains: sorted along the reading direction, a box joins the first line whose last box it follows
    (aligned within half the larger size plus ``tolerance``, and not before it)."""
    if len(detections) == 0:
        return ""
    names = _names(detections)
    along, across, length, thickness = _axes(detections, direction)
    backward = direction in ("right_to_left", "vertical_bottom_to_top")
    remaining = sorted(range(len(detections)), key=lambda i: along[i], reverse=backward)

    def follows(parent: int, child: int) -> bool:
        aligned = abs(across[parent] - across[child]) < max(thickness[parent], thickness[child]) / 2 + tolerance
        return bool(aligned and (along[parent] >= along[child] if backward else along[parent] <= along[child]))

    lines = [[remaining.pop(0)]]
    while remaining:
        found = False
        for line in lines:
            parent = line[-1]
            for candidate in list(remaining):
                if follows(parent, candidate):
                    found = True
                    line.append(candidate)
                    parent = candidate
                    remaining.remove(candidate)
        if not found and remaining:
            lines.append([remaining.pop(0)])
    lines.sort(key=lambda line: float(np.mean([across[i] for i in line])),
               reverse=direction == "vertical_bottom_to_top")
    return ("\n" if direction not in _VERTICAL else " ").join(
        delimiter.join(str(names[i]) for i in line) for line in lines)
