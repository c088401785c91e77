# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Detections Difference: which reference detections were removed, which persisted and which are new.

Pairs are matched greedily by a cost mixing the boxes' distance (1 − IoU, or 1 + the normalised centre distance
for disjoint boxes) and a class-mismatch penalty, as the reference's block does; a pair costing more than
``reject_cost`` is no match.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import supervision as sv
from pydantic import Field

from argus.workflows.blocks.base import Block, BlockManifest, OutputDefinition, Selector, block_config
from argus.workflows.data import CLASS_NAME_KEY, pick
from argus.workflows.kinds import (
    BOOLEAN_KIND,
    FLOAT_KIND,
    FLOAT_ZERO_TO_ONE_KIND,
    INTEGER_KIND,
    OBJECT_DETECTION_PREDICTION_KIND,
)


class DetectionsDifferenceManifest(BlockManifest):
    model_config = block_config(name="Detections Difference", category="fusion",
                                description="Compare two sets of detections: removed, persisted and new ones.")
    type: Literal["roboflow_core/detections_difference@v1", "DetectionsDifference"]
    reference_predictions: Selector(kind=[OBJECT_DETECTION_PREDICTION_KIND])
    candidate_predictions: Selector(kind=[OBJECT_DETECTION_PREDICTION_KIND])
    spatial_weight: float | Selector(kind=[FLOAT_ZERO_TO_ONE_KIND]) = Field(default=0.4, ge=0, le=1)
    class_mismatch_penalty: float | Selector(kind=[FLOAT_KIND]) = Field(default=0.15, ge=0)
    reject_cost: float | Selector(kind=[FLOAT_KIND]) = Field(default=0.75, ge=0)
    class_strict: bool | Selector(kind=[BOOLEAN_KIND]) = False
    min_removed_to_verify: int | Selector(kind=[INTEGER_KIND]) = Field(default=1, ge=1)

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        detections = [OBJECT_DETECTION_PREDICTION_KIND]
        return [OutputDefinition(name="removed_detections", kind=detections),
                OutputDefinition(name="persisted_detections", kind=detections),
                OutputDefinition(name="new_detections", kind=detections),
                OutputDefinition(name="removed_count", kind=[INTEGER_KIND]),
                OutputDefinition(name="new_count", kind=[INTEGER_KIND]),
                OutputDefinition(name="verified", kind=[BOOLEAN_KIND])]


class DetectionsDifferenceBlockV1(Block):
    manifest_class = DetectionsDifferenceManifest

    def run(self, reference_predictions: sv.Detections, candidate_predictions: sv.Detections,
            spatial_weight: float = 0.4, class_mismatch_penalty: float = 0.15, reject_cost: float = 0.75,
            class_strict: bool = False, min_removed_to_verify: int = 1) -> dict[str, Any]:
        reference, candidate = reference_predictions, candidate_predictions
        matches: list[tuple[int, int]] = []
        if len(reference) and len(candidate):
            costs = pair_costs(reference, candidate, spatial_weight, class_mismatch_penalty, class_strict)
            matches = greedy_match(costs, reject_cost)
        matched_reference = {i for i, _ in matches}
        persisted = sorted(j for _, j in matches)
        removed = [i for i in range(len(reference)) if i not in matched_reference]
        new = [j for j in range(len(candidate)) if j not in persisted]
        return {"removed_detections": _subset(reference, removed), "persisted_detections": _subset(candidate, persisted),
                "new_detections": _subset(candidate, new), "removed_count": len(removed), "new_count": len(new),
                "verified": len(reference) > 0 and len(removed) >= min_removed_to_verify}


def pair_costs(reference: sv.Detections, candidate: sv.Detections, spatial_weight: float, mismatch_penalty: float,
               class_strict: bool) -> np.ndarray:
    """The matching cost of every (reference, candidate) pair."""
    iou = sv.box_iou_batch(reference.xyxy, candidate.xyxy)
    spatial = 1.0 - iou
    disjoint = iou <= 0.0
    if disjoint.any():
        centres_r = (reference.xyxy[:, :2] + reference.xyxy[:, 2:]) / 2
        centres_c = (candidate.xyxy[:, :2] + candidate.xyxy[:, 2:]) / 2
        distance = np.linalg.norm(centres_r[:, None, :] - centres_c[None, :, :], axis=2)
        low = np.minimum(reference.xyxy[:, None, :2], candidate.xyxy[None, :, :2])
        high = np.maximum(reference.xyxy[:, None, 2:], candidate.xyxy[None, :, 2:])
        diagonal = np.hypot(*(high - low).transpose(2, 0, 1))
        normalised = np.divide(distance, diagonal, out=np.zeros_like(distance), where=diagonal > 0)
        spatial = np.where(disjoint, 1.0 + normalised, spatial)
    cost = spatial_weight * spatial
    mismatch = _class_mismatch(reference, candidate)
    if mismatch is not None:
        cost = np.where(mismatch, np.inf, cost) if class_strict else cost + mismatch_penalty * mismatch
    return np.asarray(cost, dtype=float)


def greedy_match(costs: np.ndarray, reject_cost: float) -> list[tuple[int, int]]:
    """The cheapest pair first, each row and column used once, until the cheapest left exceeds ``reject_cost``."""
    cost = costs.astype(float, copy=True)
    matches: list[tuple[int, int]] = []
    for _ in range(min(cost.shape)):
        i, j = divmod(int(np.argmin(cost)), cost.shape[1])
        if not np.isfinite(cost[i, j]) or cost[i, j] > reject_cost:
            break
        matches.append((i, j))
        cost[i, :] = np.inf
        cost[:, j] = np.inf
    return matches


def _class_mismatch(reference: sv.Detections, candidate: sv.Detections) -> np.ndarray | None:
    for labels in (lambda d: d.data.get(CLASS_NAME_KEY), lambda d: d.class_id):
        ref, cand = labels(reference), labels(candidate)
        if ref is not None and cand is not None and len(ref) == len(reference) and len(cand) == len(candidate):
            return np.asarray(ref)[:, None] != np.asarray(cand)[None, :]
    return None


def _subset(detections: sv.Detections, indices: list[int]) -> sv.Detections:
    return pick(detections, np.asarray(indices, dtype=int)) if indices else sv.Detections.empty()
