# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Detections Stabilizer: tracked boxes smoothed over frames, and briefly kept where a track goes missing.

The reference's method, per video: each track's box is blended with its previous one (``bbox_smoothing_coefficient``
on the new); a Kalman filter over each track's frame-to-frame velocity (the mean of the last
``smoothing_window_size`` measurements) moves a missing track's last box on, for as many frames as its window holds
measurements. The velocity is measured, as there, on the boxes' bottom-right corners.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import supervision as sv
from pydantic import Field

from argus.errors import InvalidInputError
from argus.workflows.blocks.base import Block, BlockManifest, OutputDefinition, Selector, block_config
from argus.workflows.data import WorkflowImageData, pick
from argus.workflows.kinds import BOX_DETECTION_KINDS, FLOAT_ZERO_TO_ONE_KIND, IMAGE_KIND, INTEGER_KIND

MAX_WINDOW = 1_000


class StabilizeDetectionsManifest(BlockManifest):
    model_config = block_config(name="Detections Stabilizer", category="transformation",
                                description="Smooth tracked boxes over frames and bridge short gaps.")
    type: Literal["roboflow_core/stabilize_detections@v1"]
    image: Selector(kind=[IMAGE_KIND])
    detections: Selector(kind=list(BOX_DETECTION_KINDS))
    smoothing_window_size: int | None | Selector(kind=[INTEGER_KIND]) = Field(default=3)
    bbox_smoothing_coefficient: float | None | Selector(kind=[FLOAT_ZERO_TO_ONE_KIND]) = Field(default=0.2)

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="tracked_detections", kind=list(BOX_DETECTION_KINDS))]


@dataclass
class _Velocity:
    velocity: np.ndarray
    covariance: np.ndarray
    history: deque[np.ndarray]


@dataclass
class VelocityKalmanFilter:
    """A constant-velocity Kalman filter per track (process noise 0.001, measurement noise 0.01)."""

    window: int
    tracks: dict[Any, _Velocity] = field(default_factory=dict)

    def update(self, measured: dict[Any, tuple[float, float]]) -> dict[Any, np.ndarray]:
        """Fold in this frame's velocities; the predicted velocity of every track still held."""
        for track, velocity in measured.items():
            vector = np.array(velocity, dtype=float).reshape(2, 1)
            state = self.tracks.get(track)
            if state is None:
                self.tracks[track] = _Velocity(vector, np.eye(2), deque([vector], maxlen=self.window))
                continue
            state.history.appendleft(vector)
            residual = np.mean(state.history, axis=0) - state.velocity
            gain = state.covariance @ np.linalg.inv(state.covariance + np.eye(2) * 0.01)
            state.velocity = state.velocity + gain @ residual
            state.covariance = state.covariance - gain @ state.covariance
        predicted = {}
        for track, state in self.tracks.items():
            state.covariance = state.covariance + np.eye(2) * 0.001
            predicted[track] = state.velocity
        for track in set(self.tracks) - set(measured):
            history = self.tracks[track].history
            if history:
                history.popleft()
            if not history:
                del self.tracks[track]
        return predicted


def _corner(xyxy: np.ndarray) -> tuple[float, float]:
    x1, y1, x2, y2 = xyxy
    return x1 + abs(x2 - x1), y1 + abs(y2 - y1)


class StabilizeDetectionsBlockV1(Block):
    manifest_class = StabilizeDetectionsManifest
    stateful = True

    def run(self, image: WorkflowImageData, detections: sv.Detections, smoothing_window_size: int = 3,
            bbox_smoothing_coefficient: float = 0.2) -> dict[str, Any]:
        window = smoothing_window_size
        if not isinstance(window, int) or isinstance(window, bool) or not 0 < window <= MAX_WINDOW:
            raise InvalidInputError(f"smoothing_window_size must be from 1 to {MAX_WINDOW}, not {window!r}")
        if len(detections) and detections.tracker_id is None:
            raise InvalidInputError("stabilize_detections needs tracked detections (put a tracker step first)")
        alpha = float(bbox_smoothing_coefficient)
        state: dict[str, Any] = self.video_state(image.video_metadata.video_identifier, lambda: {
            "last": {}, "filter": VelocityKalmanFilter(window)})
        last: dict[Any, sv.Detections] = state["last"]
        ids = list(detections.tracker_id) if detections.tracker_id is not None else []
        measured = {}
        for tid, xyxy in zip(ids, detections.xyxy):
            if tid in last:
                now, before = _corner(xyxy), _corner(last[tid].xyxy[0])
                measured[tid] = (now[0] - before[0], now[1] - before[1])
        predicted = state["filter"].update(measured)
        out: dict[Any, sv.Detections] = {}
        for i, tid in enumerate(ids):
            row = pick(detections, [i])
            if tid in last:
                row.xyxy[0] = alpha * row.xyxy[0] + (1 - alpha) * last[tid].xyxy[0]
            out[tid] = row
            last[tid] = pick(detections, [i])
        for tid, velocity in predicted.items():
            if tid in out:
                continue
            held = last[tid]  # a missing track: its last box moved on by the predicted velocity, blended
            moved = np.array([held.xyxy[0] + np.array([velocity, velocity]).flatten()])
            held.xyxy = alpha * moved + (1 - alpha) * held.xyxy[0]
            out[tid] = held
        for tid in list(last):
            if tid not in state["filter"].tracks and tid not in out:
                del last[tid]
        merged = sv.Detections.merge(list(out.values()))
        if not len(merged):
            merged.tracker_id = np.array([])
        return {"tracked_detections": merged}
