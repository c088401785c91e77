"""Shapes derived from masks: the one polygon function every path uses.

Example:
    >>> import numpy as np
    >>> mask = np.zeros((10, 10), bool); mask[2:5, 3:8] = True
    >>> mask_to_polygon(mask).tolist()
    [[3.0, 2.0], [3.0, 4.0], [7.0, 4.0], [7.0, 2.0]]
"""

from __future__ import annotations

import cv2
import numpy as np


def mask_to_polygon(mask: np.ndarray) -> np.ndarray:
    """Outline of the largest connected region of a mask, ``(K, 2)`` float32 (empty when the mask is).

    One polygon per instance, as the reference's responses carry; ``/infer`` and workflow outputs both use this,
    so one model gives one outline whichever way it is called.
    """
    polygons = mask_to_polygons(mask)
    if not polygons:
        return np.zeros((0, 2), dtype=np.float32)
    return max(polygons, key=lambda polygon: cv2.contourArea(polygon))


def mask_to_polygons(mask: np.ndarray) -> list[np.ndarray]:
    """Outlines of every connected region of a mask, each ``(K, 2)`` float32 (SAM's multi-polygon answers)."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return [contour.reshape(-1, 2).astype(np.float32) for contour in contours]
