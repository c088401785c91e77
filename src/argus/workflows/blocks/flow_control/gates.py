# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Gates that let a branch run or stop by time or change: Rate Limiter and Delta Filter.

Both keep state across frames, as the reference's do: the rate limiter the time it last let a branch through
(video time, from the reference image's frame number and fps, when one is given; wall-clock time otherwise),
the delta filter the last value seen per video.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import Field

from argus.workflows.blocks.base import (
    Block,
    BlockManifest,
    FlowControl,
    ImageSelector,
    Selector,
    StepSelector,
    block_config,
)
from argus.workflows.data import WorkflowImageData
from argus.workflows.kinds import WILDCARD_KIND


class RateLimiterManifest(BlockManifest):
    model_config = block_config(name="Rate Limiter", category="flow_control",
                                description="Run the next steps at most once per cooldown.")
    type: Literal["roboflow_core/rate_limiter@v1"]
    cooldown_seconds: float = Field(default=1.0, ge=0.0)
    depends_on: Selector()
    next_steps: list[StepSelector()]
    video_reference_image: ImageSelector() | None = None


class RateLimiterBlockV1(Block):
    manifest_class = RateLimiterManifest
    stateful = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._last_passed_at: float | None = None

    def run(self, depends_on: Any, next_steps: list[str], cooldown_seconds: float = 1.0,
            video_reference_image: Any = None) -> FlowControl:
        now = time.time()
        if isinstance(video_reference_image, WorkflowImageData):
            metadata = video_reference_image.video_metadata
            if metadata.fps:  # the video's own clock: a file processed faster than real time is limited alike
                now = metadata.frame_number / metadata.fps
        if self._last_passed_at is not None and now - self._last_passed_at < cooldown_seconds:
            return FlowControl(())
        self._last_passed_at = now
        return FlowControl(tuple(next_steps))


class DeltaFilterManifest(BlockManifest):
    model_config = block_config(name="Delta Filter", category="flow_control",
                                description="Run the next steps only when a value changes (per video).")
    type: Literal["roboflow_core/delta_filter@v1"]
    image: ImageSelector()
    value: Selector(kind=[WILDCARD_KIND])
    next_steps: list[StepSelector()]


class DeltaFilterBlockV1(Block):
    manifest_class = DeltaFilterManifest
    stateful = True

    def run(self, image: Any, value: Any, next_steps: list[str]) -> FlowControl:
        video = image.video_metadata.video_identifier if isinstance(image, WorkflowImageData) else None
        last = self.video_state(video, lambda: {"value": None})  # as the reference: a first None is no change
        if last["value"] == value:
            return FlowControl(())
        last["value"] = value
        return FlowControl(tuple(next_steps))
