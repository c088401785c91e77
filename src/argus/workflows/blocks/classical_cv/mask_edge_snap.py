# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Mask Edge Snap: move each mask's outline onto the image's strong edges nearby, as the reference's block does.

Edges are Sobel magnitudes above a local mean + ``sigma`` × local deviation (in an ``adaptive_window_size`` box),
closed, thinned once (Zhang–Suen), kept within ``boundary_band_width`` of the masks and in pieces of at least
``min_contour_area``. Each outline point then moves along its normal, up to ``pixel_tolerance`` pixels either way,
to the edge pixel scoring best on magnitude × nearness, and the moved outline is filled as the new mask.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

import cv2
import numpy as np
import supervision as sv
from pydantic import AliasChoices, Field

from argus.workflows.blocks.base import Block, BlockManifest, OutputDefinition, Selector, block_config
from argus.workflows.data import CLASS_NAME_KEY, DETECTION_ID_KEY, WorkflowImageData
from argus.workflows.kinds import FLOAT_KIND, IMAGE_KIND, INSTANCE_SEGMENTATION_PREDICTION_KIND, INTEGER_KIND

TANGENT_WINDOW = 5


class MaskEdgeSnapManifest(BlockManifest):
    model_config = block_config(name="Mask Edge Snap", category="classical_computer_vision",
                                description="Snap segmentation outlines to nearby image edges.")
    type: Literal["roboflow_core/mask_edge_snap@v1"]
    image: Selector(kind=[IMAGE_KIND]) = Field(validation_alias=AliasChoices("image", "images"))
    segmentation: Selector(kind=[INSTANCE_SEGMENTATION_PREDICTION_KIND])
    pixel_tolerance: int | Selector(kind=[INTEGER_KIND]) = Field(default=15, ge=1, le=100)
    sigma: float | Selector(kind=[FLOAT_KIND]) = Field(default=1.0, ge=0.01, le=10.0)
    min_contour_area: float | Selector(kind=[FLOAT_KIND]) = Field(default=50.0, ge=0.0, le=10_000.0)
    dilation_iterations: int | Selector(kind=[INTEGER_KIND]) = Field(default=2, ge=0, le=20)
    boundary_band_width: int | Selector(kind=[INTEGER_KIND]) = Field(default=15, ge=1, le=100)
    adaptive_window_size: int | Selector(kind=[INTEGER_KIND]) = Field(default=41, ge=3, le=201)

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="refined_segmentation", kind=[INSTANCE_SEGMENTATION_PREDICTION_KIND]),
                OutputDefinition(name="edges", kind=[INSTANCE_SEGMENTATION_PREDICTION_KIND])]


def thin_once(binary: np.ndarray) -> np.ndarray:
    """One Zhang–Suen thinning iteration (both sub-steps) of a 0/255 image, vectorised."""
    image = (binary > 0).astype(np.uint8)
    if min(image.shape) < 3:
        return (image * 255).astype(np.uint8)

    def ring(a: np.ndarray) -> list[np.ndarray]:  # P2..P9, clockwise from north
        return [a[:-2, 1:-1], a[:-2, 2:], a[1:-1, 2:], a[2:, 2:], a[2:, 1:-1], a[2:, :-2], a[1:-1, :-2], a[:-2, :-2]]

    for step in (0, 1):
        centre = image[1:-1, 1:-1]
        p = ring(image)
        neighbours = sum(q.astype(np.int16) for q in p)
        transitions = sum(((p[k] == 0) & (p[(k + 1) % 8] == 1)).astype(np.int16) for k in range(8))
        removable = (centre == 1) & (neighbours >= 2) & (neighbours <= 6) & (transitions == 1)
        if step == 0:
            removable &= (p[0] * p[2] * p[4] == 0) & (p[2] * p[4] * p[6] == 0)
        else:
            removable &= (p[0] * p[2] * p[6] == 0) & (p[0] * p[4] * p[6] == 0)
        image[1:-1, 1:-1] = np.where(removable, 0, centre)
    return (image * 255).astype(np.uint8)


def _gray(pixels: np.ndarray) -> np.ndarray:
    if pixels.ndim == 2:
        return pixels.copy()
    if pixels.shape[2] == 1:
        return pixels[:, :, 0]
    return cv2.cvtColor(pixels, cv2.COLOR_BGRA2GRAY if pixels.shape[2] == 4 else cv2.COLOR_BGR2GRAY)


def _masks(segmentation: sv.Detections, height: int, width: int) -> list[np.ndarray]:
    masks: Any = segmentation.mask if segmentation.mask is not None else []
    return [m.astype(np.uint8) if m.shape[:2] == (height, width) else
            cv2.resize(m.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST) for m in masks]


def edge_map(gray: np.ndarray, masks: list[np.ndarray], sigma: float, window: int, closing: int, band: int,
             min_area: float) -> tuple[np.ndarray, np.ndarray]:
    """The strong edges kept for snapping (bool) and the gradient magnitude."""
    gx, gy = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    magnitude = cv2.magnitude(gx, gy)
    window = max(3, window) | 1
    mean = cv2.boxFilter(magnitude, cv2.CV_32F, (window, window))
    spread = np.sqrt(np.maximum(cv2.boxFilter(magnitude * magnitude, cv2.CV_32F, (window, window)) - mean * mean, 0))
    edges: Any = (magnitude > mean + sigma * spread).astype(np.uint8) * 255
    if closing > 0:
        edges = cv2.morphologyEx(edges, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3)),
                                 iterations=closing)
        edges = thin_once(edges)
    if masks:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (band * 2 + 1, band * 2 + 1))
        near = np.zeros(gray.shape[:2], np.uint8)
        for mask in masks:
            near = np.maximum(near, ((cv2.dilate(mask, kernel) > 0) & (cv2.erode(mask, kernel) == 0)).astype(np.uint8))
        edges = (edges * near).astype(np.uint8)
    count, labels, _, _ = cv2.connectedComponentsWithStats(edges, connectivity=8)
    kept = np.zeros(gray.shape[:2], np.uint8)
    for label in range(1, count):
        piece = (labels == label).astype(np.uint8)
        outlines, _ = cv2.findContours(piece, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        if outlines and cv2.contourArea(max(outlines, key=cv2.contourArea)) >= min_area:
            kept[labels == label] = 255
    return kept > 0, magnitude


def snap_mask(mask: np.ndarray, edges: np.ndarray, magnitude: np.ndarray, tolerance: int) -> np.ndarray:
    """The mask with each outline point moved along its normal to the best nearby edge pixel."""
    height, width = mask.shape
    inside = cv2.distanceTransform(mask, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    allowed = edges & ((inside <= tolerance) | (cv2.dilate(mask, np.ones((3, 3), np.uint8)) == 0))
    outlines, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not outlines:
        return mask.astype(bool)
    snapped = np.zeros((height, width), np.uint8)
    for outline in outlines:
        points = outline.reshape(-1, 2).astype(np.float32)
        moved = points.copy()
        n = len(points)
        for i, (px, py) in enumerate(points):
            tangent = points[(i + TANGENT_WINDOW) % n] - points[(i - TANGENT_WINDOW) % n]
            length = float(np.linalg.norm(tangent))
            if length < 1e-6:
                continue
            nx, ny = -tangent[1] / length, tangent[0] / length
            best, best_score = None, 0.0
            for sign in (1.0, -1.0):
                for d in range(1, tolerance + 1):
                    sx, sy = int(round(px + sign * nx * d)), int(round(py + sign * ny * d))
                    if 0 <= sx < width and 0 <= sy < height and allowed[sy, sx]:
                        score = float(magnitude[sy, sx]) * (1.0 - d / (tolerance + 1))
                        if score > best_score:
                            best, best_score = (sx, sy), score
            if best is not None:
                moved[i] = best
        cv2.fillPoly(snapped, [moved.reshape(-1, 1, 2).astype(np.int32)], color=1)
    return snapped.astype(bool)


class MaskEdgeSnapBlockV1(Block):
    manifest_class = MaskEdgeSnapManifest

    def run(self, image: WorkflowImageData, segmentation: sv.Detections, pixel_tolerance: int = 15,
            sigma: float = 1.0, min_contour_area: float = 50.0, dilation_iterations: int = 2,
            boundary_band_width: int = 15, adaptive_window_size: int = 41) -> dict[str, Any]:
        height, width = image.numpy_image.shape[:2]
        masks = _masks(segmentation, height, width) if len(segmentation) else []
        edges, magnitude = edge_map(_gray(image.numpy_image), masks, float(sigma), int(adaptive_window_size),
                                    max(0, int(dilation_iterations)), max(1, int(boundary_band_width)),
                                    max(0.0, float(min_contour_area)))
        found = sv.Detections.empty()
        if edges.any():
            ys, xs = np.where(edges)
            found = sv.Detections(xyxy=np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], dtype=np.float32),
                                  mask=edges[None, :, :], confidence=np.array([1.0], dtype=np.float32),
                                  class_id=np.array([0]), data={CLASS_NAME_KEY: np.array(["edges"]),
                                                                DETECTION_ID_KEY: np.array([str(uuid.uuid4())])})
        if not masks:
            return {"refined_segmentation": segmentation, "edges": found}
        refined = np.stack([snap_mask(mask, edges, magnitude, int(pixel_tolerance)) for mask in masks])
        return {"refined_segmentation": sv.Detections(
            xyxy=segmentation.xyxy.copy(), mask=refined, confidence=segmentation.confidence,
            class_id=segmentation.class_id, tracker_id=segmentation.tracker_id, data=dict(segmentation.data)),
            "edges": found}
