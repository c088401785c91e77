# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""SORT and ByteTrack tracker blocks (``trackers_sort``, ``trackers_bytetrack``) on Roboflow's ``trackers``.

As the reference's blocks: one tracker per video made with the video's fps (30 when unknown), only confirmed
tracks come out, and each frame's tracks are split into ``new_instances`` and ``already_seen_instances``. Ids count
from 0 in each video, as ``trackers`` 2.4 numbers them (``VideoTracks``, shared with the byte_tracker blocks).

OC-SORT and BoT-SORT live in ``trackers`` 2.2+, which requires the non-headless OpenCV build (and so libGL on the
server); Argus stays on the headless build, so those two answer 501 (``reference_catalogue``).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import supervision as sv
from pydantic import Field
from trackers import ByteTrackTracker, SORTTracker  # type: ignore[import-untyped]

from argus.workflows.blocks.analytics.byte_tracker import DEFAULT_FPS, VideoTracks
from argus.workflows.blocks.analytics.common import subset
from argus.workflows.blocks.base import Block, BlockManifest, OutputDefinition, Selector, block_config
from argus.workflows.data import WorkflowImageData
from argus.workflows.kinds import DETECTION_KINDS, FLOAT_ZERO_TO_ONE_KIND, IMAGE_KIND, INTEGER_KIND

_Share = float | Selector(kind=[FLOAT_ZERO_TO_ONE_KIND])
_Count = int | Selector(kind=[INTEGER_KIND])
MAX_INSTANCES_CACHE = 1_000_000


class _TrackerManifest(BlockManifest):
    image: Selector(kind=[IMAGE_KIND])
    detections: Selector(kind=list(DETECTION_KINDS))
    instances_cache_size: int = Field(default=16384, ge=1, le=MAX_INSTANCES_CACHE)

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        kinds = list(DETECTION_KINDS)
        return [OutputDefinition(name="tracked_detections", kind=kinds),
                OutputDefinition(name="new_instances", kind=kinds),
                OutputDefinition(name="already_seen_instances", kind=kinds)]


class SORTManifest(_TrackerManifest):
    model_config = block_config(name="SORT Tracker", category="transformation",
                                description="Fast, lightweight object tracking (SORT).")
    type: Literal["roboflow_core/trackers_sort@v1"]
    minimum_iou_threshold: _Share = 0.3
    minimum_consecutive_frames: _Count = 3
    lost_track_buffer: _Count = 30
    track_activation_threshold: _Share = 0.25


class ByteTrackManifest(_TrackerManifest):
    model_config = block_config(name="ByteTrack Tracker", category="transformation",
                                description="Track objects across frames (ByteTrack).")
    type: Literal["roboflow_core/trackers_bytetrack@v1"]
    minimum_iou_threshold: _Share = 0.1
    minimum_consecutive_frames: _Count = 2
    lost_track_buffer: _Count = 30
    track_activation_threshold: _Share = 0.7
    high_conf_det_threshold: _Share = 0.6


class _TrackerBlock(Block):
    stateful = True
    tracker_class: Any

    def run(self, image: WorkflowImageData, detections: sv.Detections, instances_cache_size: int = 16384,
            **params: Any) -> dict[str, Any]:
        fps = image.video_metadata.fps or DEFAULT_FPS
        tracks: VideoTracks = self.video_state(
            image.video_metadata.video_identifier,
            lambda: VideoTracks(self.tracker_class(frame_rate=float(fps), **params), first_id=0))
        tracked = tracks.update(detections)
        ids = tracked.tracker_id if tracked.tracker_id is not None else np.zeros(0, dtype=int)
        seen = np.asarray([tracks.record(int(i), instances_cache_size) for i in ids], dtype=np.bool_)
        return {"tracked_detections": tracked, "new_instances": subset(tracked, np.logical_not(seen)),
                "already_seen_instances": subset(tracked, seen)}


class SORTBlockV1(_TrackerBlock):
    manifest_class = SORTManifest
    tracker_class = SORTTracker


class ByteTrackBlockV1(_TrackerBlock):
    manifest_class = ByteTrackManifest
    tracker_class = ByteTrackTracker
