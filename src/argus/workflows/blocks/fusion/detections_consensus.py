# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Detections Consensus: keep objects that enough models agree on, merging their boxes."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import supervision as sv
from pydantic import Field

from argus.workflows.blocks.base import (
    Block,
    BlockManifest,
    FloatZeroToOne,
    OutputDefinition,
    PositiveInt,
    Selector,
    block_config,
)
from argus.workflows.data import CLASS_NAME_KEY, DETECTION_ID_KEY, PARENT_ID_KEY, pick
from argus.workflows.kinds import (
    BOOLEAN_KIND,
    DETECTION_KINDS,
    DICTIONARY_KIND,
    FLOAT_ZERO_TO_ONE_KIND,
    INSTANCE_SEGMENTATION_PREDICTION_KIND,
    INTEGER_KIND,
    LIST_OF_VALUES_KIND,
    OBJECT_DETECTION_PREDICTION_KIND,
    PARENT_ID_KIND,
)

Aggregation = Literal["average", "max", "min"]


class DetectionsConsensusManifest(BlockManifest):
    model_config = block_config(name="Detections Consensus", category="fusion",
                                description="Combine predictions from multiple detections models to make a decision "
                                            "about object presence.")
    type: Literal["roboflow_core/detections_consensus@v1", "DetectionsConsensus"]
    predictions_batches: list[Selector(kind=list(DETECTION_KINDS))] = Field(min_length=1)
    required_votes: PositiveInt | Selector(kind=[INTEGER_KIND])
    class_aware: bool | Selector(kind=[BOOLEAN_KIND]) = True
    iou_threshold: FloatZeroToOne | Selector(kind=[FLOAT_ZERO_TO_ONE_KIND]) = 0.3
    confidence: FloatZeroToOne | Selector(kind=[FLOAT_ZERO_TO_ONE_KIND]) = 0.0
    classes_to_consider: list[str] | Selector(kind=[LIST_OF_VALUES_KIND]) | None = None
    required_objects: PositiveInt | dict[str, PositiveInt] | Selector(kind=[INTEGER_KIND, DICTIONARY_KIND]) | None \
        = None
    presence_confidence_aggregation: Aggregation = "max"
    detections_merge_confidence_aggregation: Aggregation = "average"
    detections_merge_coordinates_aggregation: Literal["average", "min", "max"] = "average"

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="parent_id", kind=[PARENT_ID_KIND]),
                OutputDefinition(name="predictions", kind=[OBJECT_DETECTION_PREDICTION_KIND,
                                                           INSTANCE_SEGMENTATION_PREDICTION_KIND]),
                OutputDefinition(name="object_present", kind=[BOOLEAN_KIND, DICTIONARY_KIND]),
                OutputDefinition(name="presence_confidence", kind=[FLOAT_ZERO_TO_ONE_KIND, DICTIONARY_KIND])]


_AGGREGATE: dict[str, Callable[[np.ndarray], Any]] = {"average": np.mean, "max": np.max, "min": np.min}


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(sv.box_iou_batch(a[None, :], b[None, :])[0, 0])


def _merge(group: list[sv.Detections], confidence_mode: str, box_mode: str) -> sv.Detections:
    """One detection from a group of matched ones: aggregated confidence and box; the class by majority vote
    (``average``) or of the most (``max``) or least (``min``) confident member, as the reference picks it."""
    merged = sv.Detections.merge(group)
    boxes = merged.xyxy.astype(np.float64)
    if box_mode == "average":
        box = boxes.mean(axis=0)
    else:
        areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        box = boxes[np.argmin(areas) if box_mode == "min" else np.argmax(areas)]
    names = [str(n) for n in merged.data[CLASS_NAME_KEY]]
    scores = np.asarray(merged.confidence)
    if confidence_mode == "max":
        top = int(np.argmax(scores))
    elif confidence_mode == "min":
        top = int(np.argmin(scores))
    else:
        top = names.index(Counter(names).most_common(1)[0][0])
    result = pick(merged, [top])
    result.xyxy = box.reshape(1, 4).astype(np.float32)
    result.confidence = np.array([_AGGREGATE[confidence_mode](np.asarray(merged.confidence))], dtype=np.float32)
    result.data[DETECTION_ID_KEY] = np.array([str(uuid.uuid4())], dtype=object)
    if result.mask is not None:
        result.mask = np.any(merged.mask, axis=0, keepdims=True)
    return result


def consensus(sources: list[sv.Detections], required_votes: int, class_aware: bool, iou_threshold: float,
              confidence: float, merge_confidence: str, merge_boxes: str) -> sv.Detections:
    """Greedy matching across sources (each detection joins the best-overlapping one of every other source)."""
    singles = [[(s, pick(d, [i])) for i in range(len(d))] for s, d in enumerate(sources)]
    used: set[str] = set()
    agreed: list[sv.Detections] = []
    for source_singles in singles:
        for source, detection in source_singles:
            det_id = str(detection.data[DETECTION_ID_KEY][0])
            if det_id in used:
                continue
            best: dict[int, tuple[sv.Detections, float]] = {}
            for other_singles in singles:
                for other_source, other in other_singles:
                    other_id = str(other.data[DETECTION_ID_KEY][0])
                    if other_source == source or other_id in used:
                        continue
                    if class_aware and str(other.data[CLASS_NAME_KEY][0]) != str(detection.data[CLASS_NAME_KEY][0]):
                        continue
                    iou = _iou(detection.xyxy[0], other.xyxy[0])
                    if iou > iou_threshold and (other_source not in best or best[other_source][1] < iou):
                        best[other_source] = (other, iou)
            if len(best) < required_votes - 1:
                continue
            merged = _merge([detection] + [m for m, _ in best.values()], merge_confidence, merge_boxes)
            if float(np.asarray(merged.confidence)[0]) < confidence:
                continue
            agreed.append(merged)
            used.add(det_id)
            used.update(str(m.data[DETECTION_ID_KEY][0]) for m, _ in best.values())
    if agreed:
        return sv.Detections.merge(agreed)
    return pick(sources[0], np.zeros(len(sources[0]), dtype=bool)) if sources else sv.Detections.empty()


def presence(detections: sv.Detections, class_aware: bool, mode: str, required: int | dict[str, int] | None
             ) -> tuple[bool, dict[str, float]]:
    """Whether the required objects are present, and the aggregated confidence per class (or 'any_object')."""
    if len(detections) == 0:
        return False, {}
    required = required or 0
    if isinstance(required, dict) and not class_aware:
        required = sum(required.values())
    if isinstance(required, int) and len(detections) < required:
        return False, {}
    if not class_aware:
        return True, {"any_object": float(_AGGREGATE[mode](np.asarray(detections.confidence)))}
    names = np.array([str(n) for n in detections.data[CLASS_NAME_KEY]])
    if isinstance(required, dict) and any(int((names == c).sum()) < n for c, n in required.items()):
        return False, {}
    return True, {c: float(_AGGREGATE[mode](np.asarray(detections.confidence)[names == c])) for c in dict.fromkeys(names)}


class DetectionsConsensusBlock(Block):
    manifest_class = DetectionsConsensusManifest

    def run(self, predictions_batches: list[sv.Detections], required_votes: int, class_aware: bool,
            iou_threshold: float, confidence: float, classes_to_consider: list[str] | None,
            required_objects: int | dict[str, int] | None, presence_confidence_aggregation: str,
            detections_merge_confidence_aggregation: str, detections_merge_coordinates_aggregation: str
            ) -> dict[str, Any]:
        sources = [d for d in predictions_batches if d is not None]
        if classes_to_consider is not None:
            wanted = set(classes_to_consider)
            sources = [pick(d, np.array([str(n) in wanted for n in d.data.get(CLASS_NAME_KEY, [])], dtype=bool))
                       if len(d) else d for d in sources]
        agreed = consensus(sources, required_votes, class_aware, iou_threshold, confidence,
                           detections_merge_confidence_aggregation, detections_merge_coordinates_aggregation)
        if len(agreed) and PARENT_ID_KEY not in agreed.data:
            agreed.data[PARENT_ID_KEY] = np.array(["undefined"] * len(agreed), dtype=object)
        present, confidences = presence(agreed, class_aware, presence_confidence_aggregation, required_objects)
        parents = [str(d.data[PARENT_ID_KEY][0]) for d in sources if len(d) and PARENT_ID_KEY in d.data]
        return {"parent_id": parents[0] if parents else "undefined", "predictions": agreed,
                "object_present": present, "presence_confidence": confidences}
