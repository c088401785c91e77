# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Dynamic Zone: each mask simplified to a polygon with a chosen number of vertices, as the reference does it.

The convex hull of the mask's longest outline is simplified with ``approxPolyDP``, its tolerance found by
bisection until the vertex count is right; optionally each side is refitted by least squares to the outline points
between its corners; the polygon is then padded or cut to the count (``simplification_converged`` says whether it
had to be), scaled about its centroid, and becomes the detection's mask.
"""

from __future__ import annotations

from typing import Any, Literal

import cv2
import numpy as np
import supervision as sv
from pydantic import Field

from argus.errors import InvalidInputError
from argus.workflows.blocks.base import Block, BlockManifest, OutputDefinition, Selector, block_config
from argus.workflows.data import POLYGON_KEY, pick
from argus.workflows.kinds import (
    BOOLEAN_KIND,
    FLOAT_KIND,
    FLOAT_ZERO_TO_ONE_KIND,
    INSTANCE_SEGMENTATION_PREDICTION_KIND,
    INTEGER_KIND,
    LIST_OF_VALUES_KIND,
)

MAX_VERTICES = 1_000
BISECTION_STEPS = 1_000


class DynamicZoneManifest(BlockManifest):
    model_config = block_config(name="Dynamic Zone", category="transformation",
                                description="Simplify masks to polygons with a given number of vertices.")
    type: Literal["roboflow_core/dynamic_zone@v1", "DynamicZone"]
    predictions: Selector(kind=[INSTANCE_SEGMENTATION_PREDICTION_KIND])
    required_number_of_vertices: int | Selector(kind=[INTEGER_KIND])
    scale_ratio: float | Selector(kind=[FLOAT_KIND]) = 1
    apply_least_squares: bool | Selector(kind=[BOOLEAN_KIND]) = False
    midpoint_fraction: float | Selector(kind=[FLOAT_ZERO_TO_ONE_KIND]) = Field(default=1)

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="zones", kind=[LIST_OF_VALUES_KIND]),
                OutputDefinition(name="predictions", kind=[INSTANCE_SEGMENTATION_PREDICTION_KIND]),
                OutputDefinition(name="simplification_converged", kind=[BOOLEAN_KIND])]


def simplified_polygon(outlines: list[np.ndarray], vertices: int) -> tuple[np.ndarray, np.ndarray]:
    """The hull of the longest outline simplified to ``vertices`` corners (as near as bisection gets), and that
    outline."""
    longest = max(outlines, key=len)
    hull = cv2.convexHull(longest, returnPoints=True, clockwise=True)
    low, high = 1e-7, cv2.arcLength(hull, True)
    epsilon = low + high / 2
    polygon = cv2.approxPolyDP(hull, epsilon, True)
    for _ in range(BISECTION_STEPS):
        if len(polygon) == vertices:
            break
        low, high = (epsilon, high) if len(polygon) > vertices else (low, epsilon)
        epsilon = low + (high - low) / 2
        polygon = cv2.approxPolyDP(hull, epsilon, True)
    return polygon.reshape(-1, 2), longest


def least_squares_polygon(outline: np.ndarray, polygon: np.ndarray, midpoint_fraction: float) -> np.ndarray:
    """Each side refitted (y = a·x + b) to the outline points between its corners; corners where sides meet."""
    def nearest(point: np.ndarray) -> int:
        return int(np.argmin(np.linalg.norm(outline - point, axis=1)))

    lines: list[tuple[float, float] | None] = []
    for start, end in [(polygon[-1], polygon[0]), *zip(polygon[:-1], polygon[1:])]:
        i, j = nearest(start), nearest(end)
        points = outline[i:j + 1] if i <= j else np.concatenate((outline[i:], outline[:j + 1]), axis=0)
        if midpoint_fraction < 1:
            keep = int(round(len(points) * midpoint_fraction))
            if keep > 2:
                drop = (len(points) - keep) // 2
                points = points[drop:len(points) - drop]
        if len(points) < 2:
            lines.append(None)
            continue
        design = np.vstack([points[:, 0], np.ones_like(points[:, 0])]).T
        slope, intercept = np.linalg.lstsq(design, points[:, 1], rcond=None)[0]
        lines.append((float(slope), float(intercept)))
    corners: list[Any] = []
    for k, first in enumerate(lines):
        second = lines[(k + 1) % len(lines)]
        if first is None or second is None or np.isclose(first[0], second[0]):
            corners.append(None)
            continue
        x = (second[1] - first[1]) / (first[0] - second[0])
        corners.append(np.array([x, first[0] * x + first[1]]))
    return np.array(corners, dtype=float).round().astype(int)


def scaled(polygon: np.ndarray, scale: float) -> np.ndarray:
    """The polygon scaled about its centroid (unchanged for scale 1 or a zero-area polygon)."""
    if scale == 1:
        return polygon
    moments = cv2.moments(polygon)
    if moments["m00"] == 0:
        return polygon
    centre = np.array([moments["m10"] / moments["m00"], moments["m01"] / moments["m00"]])
    result: np.ndarray = ((polygon - centre) * scale + centre).round().astype(np.int32)
    return result


class DynamicZoneBlockV1(Block):
    manifest_class = DynamicZoneManifest

    def run(self, predictions: sv.Detections, required_number_of_vertices: int, scale_ratio: float = 1,
            apply_least_squares: bool = False, midpoint_fraction: float = 1) -> dict[str, Any]:
        vertices = required_number_of_vertices
        if not isinstance(vertices, int) or isinstance(vertices, bool) or not 0 < vertices <= MAX_VERTICES:
            raise InvalidInputError(f"required_number_of_vertices must be from 1 to {MAX_VERTICES}, not {vertices!r}")
        if predictions.mask is None:
            return {"zones": [], "predictions": None, "simplification_converged": False}
        zones, rows, converged = [], [], True
        for i, mask in enumerate(predictions.mask):
            outlines = sv.mask_to_polygons(mask)
            if not outlines:
                raise InvalidInputError(f"detection {i} has an empty mask")
            polygon, outline = simplified_polygon(outlines, vertices)
            if apply_least_squares:
                polygon = least_squares_polygon(outline, polygon, midpoint_fraction)
            if len(polygon) != vertices:
                converged = False
                polygon = polygon[:vertices] if len(polygon) > vertices else np.concatenate(
                    [polygon, np.repeat(polygon[-1:], vertices - len(polygon), axis=0)])
            polygon = scaled(polygon, scale_ratio)
            row = pick(predictions, [i])
            row.data[POLYGON_KEY] = np.array([polygon])
            row.mask = np.array([sv.polygon_to_mask(polygon, mask.shape[::-1]).astype(bool)])
            zones.append(polygon.tolist())
            rows.append(row)
        merged = sv.Detections.merge(rows) if rows else predictions
        return {"zones": zones, "predictions": merged, "simplification_converged": converged}
