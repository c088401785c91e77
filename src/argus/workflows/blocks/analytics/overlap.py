# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Overlap Filter and Overlap Analysis: which detections overlap others, as the reference measures it.

The filter keeps detections of other classes whose centre (or any part) lies inside a detection of
``overlap_class_name``. The analysis lists every (reference, candidate) pair whose intersection covers at least
``min_overlap`` of the reference's shape: its mask outline when it has one, its box otherwise (``shapely``).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import supervision as sv
from pydantic import Field

from argus.workflows.blocks.base import Block, BlockManifest, OutputDefinition, Selector, block_config
from argus.workflows.data import CLASS_NAME_KEY, DETECTION_ID_KEY, pick
from argus.workflows.kinds import (
    BOX_DETECTION_KINDS,
    DETECTIONS_OVERLAPS_KIND,
    FLOAT_ZERO_TO_ONE_KIND,
    OBJECT_DETECTION_PREDICTION_KIND,
)


class OverlapManifest(BlockManifest):
    model_config = block_config(name="Overlap Filter", category="analytics",
                                description="Keep detections that overlap a detection of a given class.")
    type: Literal["roboflow_core/overlap@v1"]
    predictions: Selector(kind=list(BOX_DETECTION_KINDS))
    overlap_type: Literal["Center Overlap", "Any Overlap"] = "Center Overlap"
    overlap_class_name: str

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="overlaps", kind=[OBJECT_DETECTION_PREDICTION_KIND])]


def _inside(region: np.ndarray, other: np.ndarray, overlap_type: str) -> bool:
    if overlap_type == "Center Overlap":
        x, y = (other[0] + other[2]) / 2, (other[1] + other[3]) / 2
        return bool(region[0] < x < region[2] and region[1] < y < region[3])
    return not (other[2] < region[0] or other[0] > region[2] or other[3] < region[1] or other[1] > region[3])


class OverlapBlockV1(Block):
    manifest_class = OverlapManifest

    def run(self, predictions: sv.Detections, overlap_class_name: str, overlap_type: str = "Center Overlap"
            ) -> dict[str, Any]:
        names = predictions.data.get(CLASS_NAME_KEY, np.array([None] * len(predictions)))
        regions = [predictions.xyxy[i] for i in range(len(predictions)) if names[i] == overlap_class_name]
        others = [i for i in range(len(predictions)) if names[i] != overlap_class_name]
        kept = sorted({i for i in others if any(_inside(r, predictions.xyxy[i], overlap_type) for r in regions)})
        return {"overlaps": pick(predictions, np.array(kept, dtype=int))}


class OverlapAnalysisManifest(BlockManifest):
    model_config = block_config(name="Overlap Analysis", category="fusion",
                                description="Pairs of detections that overlap, and by how much.")
    type: Literal["roboflow_core/overlap_analysis@v1", "OverlapAnalysis"]
    reference_predictions: Selector(kind=list(BOX_DETECTION_KINDS))
    candidate_predictions: Selector(kind=list(BOX_DETECTION_KINDS))
    min_overlap: float | Selector(kind=[FLOAT_ZERO_TO_ONE_KIND]) = Field(default=0.1, ge=0, le=1)

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="overlaps", kind=[DETECTIONS_OVERLAPS_KIND])]


def outline(detections: sv.Detections, index: int) -> Any:
    """A detection's shape: the longest outline of its mask when that is a valid polygon, its box otherwise."""
    from shapely.geometry import Polygon, box

    x1, y1, x2, y2 = (float(v) for v in detections.xyxy[index])
    if detections.mask is not None and detections.mask[index].any():
        polygons = sv.mask_to_polygons(detections.mask[index].astype(np.uint8))
        longest: Any = max(polygons, key=len) if polygons else []
        if len(longest) >= 3:
            shape = Polygon([(float(x), float(y)) for x, y in longest])
            if shape.is_valid and not shape.is_empty:
                return shape
    return box(x1, y1, x2, y2)


def _item(values: Any, index: int) -> Any:
    if values is None or len(values) <= index:
        return None
    value = values[index]
    return value.item() if hasattr(value, "item") and not isinstance(value, (bytes, str)) else value


class OverlapAnalysisBlockV1(Block):
    manifest_class = OverlapAnalysisManifest

    def run(self, reference_predictions: sv.Detections, candidate_predictions: sv.Detections,
            min_overlap: float = 0.1) -> dict[str, Any]:
        reference, candidate = reference_predictions, candidate_predictions
        if not len(reference) or not len(candidate):
            return {"overlaps": []}
        iou = sv.box_iou_batch(reference.xyxy, candidate.xyxy)
        shapes_r: dict[int, Any] = {}
        shapes_c: dict[int, Any] = {}
        overlaps = []
        for i, j in zip(*np.nonzero(iou > 0)):
            shape_r = shapes_r.setdefault(int(i), outline(reference, int(i)))
            shape_c = shapes_c.setdefault(int(j), outline(candidate, int(j)))
            if shape_r.area <= 0:
                continue
            ratio = shape_r.intersection(shape_c).area / shape_r.area
            if ratio < min_overlap:
                continue
            record = {"reference_class": _item(reference.data.get(CLASS_NAME_KEY), i),
                      "reference_confidence": None if reference.confidence is None else float(reference.confidence[i]),
                      "candidate_class": _item(candidate.data.get(CLASS_NAME_KEY), j),
                      "candidate_confidence": None if candidate.confidence is None else float(candidate.confidence[j]),
                      "overlap_ratio": float(ratio)}
            if reference.data.get(DETECTION_ID_KEY) is not None:
                record["reference_detection_id"] = _item(reference.data[DETECTION_ID_KEY], i)
            if candidate.data.get(DETECTION_ID_KEY) is not None:
                record["candidate_detection_id"] = _item(candidate.data[DETECTION_ID_KEY], j)
            overlaps.append(record)
        return {"overlaps": overlaps}
