# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Perspective Correction: map detections (and optionally the image) from a quadrilateral onto a rectangle."""

from __future__ import annotations

from typing import Any, Literal

import cv2
import numpy as np
import supervision as sv

from argus.errors import InvalidInputError
from argus.workflows.blocks.base import (
    Block,
    BlockManifest,
    ImageSelector,
    OutputDefinition,
    PositiveInt,
    Selector,
    block_config,
)
from argus.workflows.blocks.transformations.perspective_polygon import ALL_POSITIONS, transformation
from argus.workflows.data import (
    IMAGE_DIMENSIONS_KEY,
    KEYPOINTS_XY_KEY,
    POLYGON_KEY,
    WorkflowImageData,
    copy_detections,
)
from argus.workflows.kinds import (
    BOOLEAN_KIND,
    BOX_DETECTION_KINDS,
    IMAGE_KIND,
    INTEGER_KIND,
    LIST_OF_VALUES_KIND,
    STRING_KIND,
)

_KINDS = list(BOX_DETECTION_KINDS)


class PerspectiveCorrectionManifest(BlockManifest):
    model_config = block_config(name="Perspective Correction", category="transformation",
                                description="Adjust detections and images for perspective distortion.")
    type: Literal["roboflow_core/perspective_correction@v1", "PerspectiveCorrection"]
    predictions: Selector(kind=_KINDS) | None = None
    images: ImageSelector() | None = None
    perspective_polygons: list | Selector(kind=[LIST_OF_VALUES_KIND])
    transformed_rect_width: PositiveInt | Selector(kind=[INTEGER_KIND]) = 1000
    transformed_rect_height: PositiveInt | Selector(kind=[INTEGER_KIND]) = 1000
    extend_perspective_polygon_by_detections_anchor: str | Selector(kind=[STRING_KIND]) = ""
    warp_image: bool | Selector(kind=[BOOLEAN_KIND]) = False

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="corrected_coordinates", kind=_KINDS),
                OutputDefinition(name="warped_image", kind=[IMAGE_KIND]),
                OutputDefinition(name="extended_transformed_rect_width", kind=[INTEGER_KIND]),
                OutputDefinition(name="extended_transformed_rect_height", kind=[INTEGER_KIND])]


def largest_quadrilateral(polygons: Any) -> np.ndarray:
    """The four corners given (the largest polygon's, if several)."""
    array = np.asarray(polygons, dtype=np.float32)
    if array.ndim == 3:
        array = max(array, key=lambda p: cv2.contourArea(p.reshape(-1, 1, 2)))
    if array.ndim != 2 or array.shape != (4, 2):
        raise InvalidInputError("perspective_polygons must be 4 points [[x, y], ...] (or a list of such polygons), "
                                f"got shape {array.shape}")
    return array


def _warp_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    return cv2.perspectiveTransform(np.asarray(points, dtype=np.float32).reshape(-1, 1, 2), matrix).reshape(-1, 2)


def correct_detections(detections: sv.Detections, matrix: np.ndarray, width: int, height: int) -> sv.Detections:
    """Detections with boxes (corners), polygons and keypoints mapped through ``matrix``."""
    out = copy_detections(detections)
    boxes = []
    for x1, y1, x2, y2 in out.xyxy:
        corners = _warp_points(np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]]), matrix)
        boxes.append([*corners.min(axis=0), *corners.max(axis=0)])
    out.xyxy = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    if out.mask is not None:
        out.mask = np.stack([cv2.warpPerspective(m.astype(np.uint8), matrix, (width, height)) > 0
                             for m in out.mask]) if len(out) else np.zeros((0, height, width), dtype=bool)
    for key in (POLYGON_KEY, KEYPOINTS_XY_KEY):
        if key in out.data:
            moved = np.empty(len(out), dtype=object)
            for i, points in enumerate(out.data[key]):
                moved[i] = _warp_points(points, matrix).astype(np.float64)
            out.data[key] = moved
    out.data[IMAGE_DIMENSIONS_KEY] = np.array([[height, width]] * len(out), dtype=int).reshape(-1, 2)
    return out


class PerspectiveCorrectionBlock(Block):
    manifest_class = PerspectiveCorrectionManifest

    def run(self, predictions: sv.Detections | None, images: WorkflowImageData | None, perspective_polygons: Any,
            transformed_rect_width: int, transformed_rect_height: int,
            extend_perspective_polygon_by_detections_anchor: str, warp_image: bool) -> dict[str, Any]:
        anchor = extend_perspective_polygon_by_detections_anchor or ""
        if anchor and anchor != ALL_POSITIONS and anchor not in {p.value for p in sv.Position}:
            raise InvalidInputError(f"extend_perspective_polygon_by_detections_anchor must be ALL or one of "
                                    f"{', '.join(p.value for p in sv.Position)}, not {anchor!r}")
        width, height = transformed_rect_width, transformed_rect_height
        matrix, grown_w, grown_h = transformation(largest_quadrilateral(perspective_polygons), width, height,
                                                  predictions, anchor)
        width, height = width + int(round(grown_w)), height + int(round(grown_h))
        warped = None
        if warp_image and images is not None:
            warped = images.with_image(cv2.warpPerspective(images.numpy_image, matrix, (width, height)))
        corrected = correct_detections(predictions, matrix, width, height) if predictions is not None else None
        return {"corrected_coordinates": corrected, "warped_image": warped,
                "extended_transformed_rect_width": width, "extended_transformed_rect_height": height}
