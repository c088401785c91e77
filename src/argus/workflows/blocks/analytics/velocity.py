"""Velocity (``roboflow_core/velocity@v1``): speed of tracked objects from their box centres over time.

Per video and tracker id the block remembers the last centre and time. Velocity is the
displacement over the elapsed frame time (0 on first sight), smoothed with an exponential moving
average (``smoothing_alpha``) and divided by ``pixels_per_meter``. Unlike the reference, which
stores dicts keyed by tracker id in ``data``, each detection carries its own values
(``velocity`` / ``smoothed_velocity``: (N, 2); ``speed`` / ``smoothed_speed``: (N,)), so they
survive filtering and serialise per prediction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import supervision as sv
from pydantic import Field

from argus.errors import InvalidInputError
from argus.workflows.blocks.analytics.common import (
    TrackedDetectionsManifest,
    frame_metadata,
    frame_time,
    require_tracked,
    subset,
)
from argus.workflows.blocks.base import (
    Block,
    ImageSelector,
    Selector,
    block_config,
)
from argus.workflows.data import (
    SMOOTHED_SPEED_KEY,
    SMOOTHED_VELOCITY_KEY,
    SPEED_KEY,
    VELOCITY_KEY,
    WorkflowImageData,
)
from argus.workflows.kinds import (
    FLOAT_KIND,
)

OUTPUT_KEY = "velocity_detections"


class VelocityManifest(TrackedDetectionsManifest):
    """Fields of the reference's velocity block."""

    model_config = block_config(name="Velocity", category="analytics", version="v1",
                                description="Calculate the velocity and speed of tracked objects with smoothing "
                                            "and unit conversion.")
    type: Literal["roboflow_core/velocity@v1"]
    output_name = OUTPUT_KEY
    image: ImageSelector()  # type: ignore[valid-type]
    smoothing_alpha: float | Selector(kind=[FLOAT_KIND]) = Field(  # type: ignore[valid-type]
        default=0.5, description="EMA factor in (0, 1]; lower smooths more.")
    pixels_per_meter: float | Selector(kind=[FLOAT_KIND]) = Field(  # type: ignore[valid-type]
        default=1.0, description="Pixels per meter; velocities are reported in meters per second.")


@dataclass
class _Motion:
    """One video's last position, time and smoothed velocity per tracker id."""

    last: dict[int, tuple[np.ndarray, float]] = field(default_factory=dict)
    smoothed: dict[int, np.ndarray] = field(default_factory=dict)


class VelocityBlockV1(Block):
    """Adds velocity and speed to each tracked detection."""

    manifest_class = VelocityManifest
    stateful = True

    def run(self, image: WorkflowImageData, detections: sv.Detections, smoothing_alpha: float = 0.5,
            pixels_per_meter: float = 1.0) -> dict[str, Any]:
        tracker_ids = require_tracked(detections, "Velocity")
        if not 0 < smoothing_alpha <= 1:
            raise InvalidInputError(f"smoothing_alpha must be in (0, 1], got {smoothing_alpha}.")
        if not pixels_per_meter > 0:
            raise InvalidInputError(f"pixels_per_meter must be greater than 0, got {pixels_per_meter}.")
        metadata = frame_metadata(self, image)
        now = frame_time(metadata)
        motion = self.video_state(metadata.video_identifier, _Motion)
        centers = detections.get_anchors_coordinates(sv.Position.CENTER).astype(np.float64)
        n = len(detections)
        velocity = np.zeros((n, 2))
        smoothed = np.zeros((n, 2))
        for i, tracker_id in enumerate(int(t) for t in tracker_ids):
            previous = motion.last.get(tracker_id)
            if previous is not None and now > previous[1]:
                velocity[i] = (centers[i] - previous[0]) / (now - previous[1])
            prior = motion.smoothed.get(tracker_id)
            smoothed[i] = velocity[i] if prior is None else (
                smoothing_alpha * velocity[i] + (1 - smoothing_alpha) * prior)
            motion.last[tracker_id] = (centers[i], now)
            motion.smoothed[tracker_id] = smoothed[i]
        result = subset(detections, np.arange(n))
        result.data[VELOCITY_KEY] = velocity / pixels_per_meter
        result.data[SPEED_KEY] = np.linalg.norm(velocity, axis=1) / pixels_per_meter
        result.data[SMOOTHED_VELOCITY_KEY] = smoothed / pixels_per_meter
        result.data[SMOOTHED_SPEED_KEY] = np.linalg.norm(smoothed, axis=1) / pixels_per_meter
        return {OUTPUT_KEY: result}
