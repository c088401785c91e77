# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Nearest Neighbor Detection Match: each query detection's nearest target (by anchor point or keypoint).

As the reference's block: every target within 1 pixel of a query's nearest counts as a match (ties), a target with
the query's own detection id is not its neighbour, and ``max_distance`` leaves farther ones out. Each query gets
``nearest_target_distance`` (None without a target). Bounded as there: 1,000 detections per side, 10,000 matched
pairs (100 when masks are carried).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import supervision as sv
from pydantic import Field

from argus.errors import InvalidInputError
from argus.workflows.blocks.base import Block, BlockManifest, OutputDefinition, Selector, block_config
from argus.workflows.data import DETECTION_ID_KEY, KEYPOINTS_CLASS_NAME_KEY, KEYPOINTS_XY_KEY, copy_detections, pick
from argus.workflows.kinds import DETECTION_KINDS, INTEGER_KIND, STRING_KIND

TIE_PIXELS = 1.0
MAX_DETECTIONS = 1_000
MAX_PAIRS, MAX_PAIRS_WITH_MASKS = 10_000, 100
POINTS = ("CENTER", "CENTER_LEFT", "CENTER_RIGHT", "TOP_CENTER", "TOP_LEFT", "TOP_RIGHT", "BOTTOM_LEFT",
          "BOTTOM_CENTER", "BOTTOM_RIGHT", "KEYPOINT")
_Point = Literal[POINTS] | Selector(kind=[STRING_KIND])  # type: ignore[valid-type]


class NearestNeighborManifest(BlockManifest):
    model_config = block_config(name="Nearest Neighbor Detection Match", category="classical_computer_vision",
                                description="Match each detection to its nearest detection of another set.")
    type: Literal["roboflow_core/detections_nearest_neighbor@v1"]
    query_predictions: Selector(kind=list(DETECTION_KINDS))
    target_predictions: Selector(kind=list(DETECTION_KINDS))
    query_point: _Point = "CENTER"
    target_point: _Point = "CENTER"
    query_keypoint_name: str | None | Selector(kind=[STRING_KIND]) = None
    target_keypoint_name: str | None | Selector(kind=[STRING_KIND]) = None
    max_distance: int | None | Selector(kind=[INTEGER_KIND]) = Field(default=None, ge=0)

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        kinds = list(DETECTION_KINDS)
        return [OutputDefinition(name="query_predictions", kind=kinds),
                OutputDefinition(name="matched_query_detections", kind=kinds),
                OutputDefinition(name="matched_target_detections", kind=kinds)]


def anchor_points(detections: sv.Detections, point: str, keypoint: str | None, side: str) -> np.ndarray:
    """Each detection's point: an anchor of its box, or the named keypoint (NaN where it has none)."""
    if point != "KEYPOINT":
        if point not in POINTS:
            raise InvalidInputError(f"{side}_point must be one of {', '.join(POINTS)}, not {point!r}")
        return detections.get_anchors_coordinates(getattr(sv.Position, point))
    if not keypoint:
        raise InvalidInputError(f"{side}_keypoint_name is needed when {side}_point is 'KEYPOINT'")
    xy, names = detections.data.get(KEYPOINTS_XY_KEY), detections.data.get(KEYPOINTS_CLASS_NAME_KEY)
    if xy is None or names is None:
        raise InvalidInputError(f"{side}_point is 'KEYPOINT' but the {side} predictions have no keypoints")
    points = np.full((len(detections), 2), np.nan)
    for i, row_names in enumerate(names):
        found = np.where(np.asarray(row_names) == keypoint)[0]
        if len(found):
            points[i] = xy[i][found[0]]
    return points


class NearestNeighborBlockV1(Block):
    manifest_class = NearestNeighborManifest

    def run(self, query_predictions: sv.Detections, target_predictions: sv.Detections, query_point: str = "CENTER",
            target_point: str = "CENTER", query_keypoint_name: str | None = None,
            target_keypoint_name: str | None = None, max_distance: int | None = None) -> dict[str, Any]:
        query, target = copy_detections(query_predictions), target_predictions
        for side, detections in (("query", query), ("target", target)):
            if len(detections) > MAX_DETECTIONS:
                raise InvalidInputError(f"{side}_predictions has {len(detections)} detections; at most "
                                        f"{MAX_DETECTIONS} are compared pairwise")
        query_xy = anchor_points(query, query_point, query_keypoint_name, "query")
        target_xy = anchor_points(target, target_point, target_keypoint_name, "target")
        matched_q: list[int] = []
        matched_t: list[int] = []
        if not len(target):
            distances: list[float | None] = [None] * len(query)
        else:
            matrix = np.sqrt(((query_xy[:, None, :] - target_xy[None, :, :]) ** 2).sum(axis=-1))
            ids_q, ids_t = query.data.get(DETECTION_ID_KEY), target.data.get(DETECTION_ID_KEY)
            if ids_q is not None and ids_t is not None:
                matrix[np.asarray(ids_q)[:, None] == np.asarray(ids_t)[None, :]] = np.nan
            if max_distance is not None:
                matrix[matrix > max_distance] = np.nan
            valid = ~np.all(np.isnan(matrix), axis=1)
            nearest = np.full(len(query), np.nan)
            nearest[valid] = np.nanmin(matrix[valid], axis=1)
            ties = matrix <= nearest[:, None] + TIE_PIXELS
            limit = MAX_PAIRS_WITH_MASKS if query.mask is not None or target.mask is not None else MAX_PAIRS
            if int(np.count_nonzero(ties)) > limit:
                raise InvalidInputError(f"{int(np.count_nonzero(ties))} matched pairs, more than {limit}: many "
                                        "detections share the same nearest distance; set max_distance")
            matched_q, matched_t = (x.tolist() for x in np.where(ties))
            distances = [None if np.isnan(d) else float(d) for d in nearest]
        query.data["nearest_target_distance"] = np.array(distances, dtype=object)
        return {"query_predictions": query, "matched_query_detections": pick(query, np.array(matched_q, dtype=int)),
                "matched_target_detections": pick(target, np.array(matched_t, dtype=int))}
