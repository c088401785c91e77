"""The perspective polygon as the reference's perspective_correction block prepares it, extension included.

The four corners are ordered bottom-left, top-left, top-right, bottom-right (clockwise about the bounding box's
centre, then rolled to start nearest the box's bottom-left corner). With an anchor (a ``sv.Position`` name, or
``ALL`` for every box corner), each side moves outwards, keeping its direction and sliding along its neighbours,
until every detection's anchor lies inside; the output rectangle grows by the same proportion. Hand-written
because no kept library does this (it is the reference's geometry, so both answer alike).
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np
import supervision as sv

from argus.workflows.data import pick

ALL_POSITIONS = "ALL"
Line = tuple[float | None, float]  # y = a·x + b, or (None, x) for a vertical line


def order_corners(polygon: np.ndarray) -> np.ndarray:
    """Corners as [bottom-left, top-left, top-right, bottom-right] (the reference's order)."""
    cx = min(polygon[:, 0]) / 2 + max(polygon[:, 0]) / 2
    cy = min(polygon[:, 1]) / 2 + max(polygon[:, 1]) / 2
    clockwise = np.array(sorted(polygon.tolist(), key=lambda p: math.atan2(cx - p[0], cy - p[1]), reverse=True))
    x_min, x_max, y_min, y_max = (min(clockwise[:, 0]), max(clockwise[:, 0]), min(clockwise[:, 1]),
                                  max(clockwise[:, 1]))
    box = [[x_min, y_max], [x_min, y_min], [x_max, y_min], [x_max, y_max]]

    def distance(corners: np.ndarray) -> float:
        return float(sum(((x1 - x2) ** 2 + (y1 - y2) ** 2) ** 0.5 for (x1, y1), (x2, y2) in zip(box, corners)))

    best, best_distance = clockwise, distance(clockwise)
    for shift in range(4):
        rolled = np.roll(clockwise, shift=(0, shift), axis=(0, 0))
        d = distance(rolled)
        if d < best_distance or (d == best_distance and rolled[0][0] < best[0][0]):
            best, best_distance = rolled, d
    return best


def _line(p: np.ndarray, q: np.ndarray) -> Line:
    if p[0] == q[0]:
        return None, float(p[0])
    return (q[1] - p[1]) / (q[0] - p[0]), (p[1] * q[0] - q[1] * p[0]) / (q[0] - p[0])


def _meet(first: Line, second: Line) -> tuple[float, float]:
    (a1, b1), (a2, b2) = first, second
    if a1 is None and a2 is None:
        raise ValueError("Both lines are vertical")
    if a1 is None:
        return b1, a2 * b1 + b2  # type: ignore[operator]
    if a2 is None:
        return b2, a1 * b2 + b1
    x = (b2 - b1) / (a1 - a2)
    return x, a1 * x + b1


def _moved_side(v1: np.ndarray, v2: np.ndarray, v3_from_1: np.ndarray, v4_from_2: np.ndarray, x: float,
                y: float) -> tuple[np.ndarray, np.ndarray]:
    """Side v1–v2 moved parallel through (x, y), its ends sliding along the sides towards v3 and v4."""
    slope, _ = _line(v1, v2)
    through: Line = (None, x) if slope is None else (slope, y - slope * x)
    return (np.array(_meet(_line(v1, v3_from_1), through)).round().astype(int),
            np.array(_meet(_line(v2, v4_from_2), through)).round().astype(int))


def _outside(corners: list[np.ndarray], x: float, y: float) -> bool:
    return cv2.pointPolygonTest(np.array(corners, dtype=np.float32), (float(x), float(y)), False) < 0


def _left_of(p: np.ndarray, q: np.ndarray, x: float, y: float) -> bool:
    return bool((q[0] - p[0]) * (y - p[1]) - (q[1] - p[1]) * (x - p[0]) > 0)


def _anchors(detection: sv.Detections, anchor: Any, pair: tuple[sv.Position, sv.Position]) -> list[np.ndarray]:
    if anchor == ALL_POSITIONS:
        return [detection.get_anchors_coordinates(anchor=p)[0] for p in pair]
    return [detection.get_anchors_coordinates(anchor=anchor)[0]]


# Each side of [bottom-left, top-left, top-right, bottom-right]: the corners it joins (its outside is to their
# right), the corners they slide towards, the corner whose move is measured, whether that grows the width, and the
# box anchors that must end up inside when the anchor is ALL. In the reference's order: left, right, bottom, top.
_SIDES = ((0, 1, 3, 2, 0, True, (sv.Position.BOTTOM_LEFT, sv.Position.TOP_LEFT)),
          (2, 3, 1, 0, 3, True, (sv.Position.BOTTOM_RIGHT, sv.Position.TOP_RIGHT)),
          (3, 0, 2, 1, 0, False, (sv.Position.BOTTOM_RIGHT, sv.Position.BOTTOM_LEFT)),
          (1, 2, 0, 3, 1, False, (sv.Position.TOP_RIGHT, sv.Position.TOP_LEFT)))


def extend_polygon(corners: np.ndarray, detections: sv.Detections, anchor: Any
                   ) -> tuple[np.ndarray, float, float, float, float]:
    """The ordered corners grown to hold every detection's anchor; original width/height and the growth of each."""
    c = [np.asarray(corner) for corner in corners]
    width = max(float(np.hypot(*(c[0] - c[3]))), float(np.hypot(*(c[1] - c[2]))))
    height = max(float(np.hypot(*(c[0] - c[1]))), float(np.hypot(*(c[3] - c[2]))))
    grown = {True: 0.0, False: 0.0}
    for i in range(len(detections)):
        detection = pick(detections, [i])
        for first, second, along_first, along_second, measured, widens, pair in _SIDES:
            for x, y in _anchors(detection, anchor, pair):
                if _outside(c, x, y) and not _left_of(c[first], c[second], x, y):
                    old = c[measured]
                    c[first], c[second] = _moved_side(c[first], c[second], c[along_first], c[along_second], x, y)
                    grown[widens] += float(np.hypot(*(c[measured] - old)))
    return np.array(c), width, height, grown[True], grown[False]


def transformation(polygon: np.ndarray, width: int, height: int, detections: sv.Detections | None = None,
                   anchor: str = "") -> tuple[np.ndarray, float, float]:
    """The perspective matrix onto a width×height rectangle (grown by the extension), and that growth."""
    corners = order_corners(np.asarray(polygon, dtype=float))
    original_w, original_h, grown_w, grown_h = float(width), float(height), 0.0, 0.0
    if detections is not None and len(detections) and anchor:
        position = anchor if anchor == ALL_POSITIONS else sv.Position(anchor)
        corners, original_w, original_h, grown_w, grown_h = extend_polygon(corners, detections, position)
    grown_w = grown_w * width / max(original_w, 1)
    grown_h = grown_h * height / max(original_h, 1)
    right, bottom = width + int(round(grown_w)) - 1, height + int(round(grown_h)) - 1
    target = np.array([[0, bottom], [0, 0], [right, 0], [right, bottom]], dtype=np.float32)
    return cv2.getPerspectiveTransform(corners.astype(np.float32), target), grown_w, grown_h
