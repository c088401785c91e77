"""Byte Tracker (``roboflow_core/byte_tracker@v1|v2|v3``): ByteTrack ids that persist across frames.

Supervision 0.27+ moved ByteTrack to Roboflow's ``trackers`` package; this block wraps its
``ByteTrackTracker`` with what the reference's block did on ``sv.ByteTrack``:

* one tracker per video (``video_identifier``); ids count from 1 in each video (``trackers`` keeps
  one process-wide counter, so ids are renumbered per video here);
* only detections that belong to a confirmed track come out (``trackers`` marks the others -1);
* the reference's parameters map onto ``trackers``: ``minimum_matching_threshold`` is a cost
  (1 - IoU) there and an IoU floor here; detections above ``track_activation_threshold`` are the
  "high" set and a new track needs 0.1 more, as ``sv.ByteTrack`` did.

v3 also sorts each frame's tracks into ``new_instances`` (first time an id is seen) and
``already_seen_instances``, remembering ``instances_cache_size`` ids per video.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import supervision as sv
from pydantic import Field
from trackers import ByteTrackTracker  # type: ignore[import-untyped]

from argus.workflows.blocks.analytics.common import frame_metadata, subset
from argus.workflows.blocks.base import (
    Block,
    BlockManifest,
    ImageSelector,
    OutputDefinition,
    Selector,
    VideoMetadataSelector,
    block_config,
)
from argus.workflows.data import VideoMetadata, WorkflowImageData
from argus.workflows.kinds import (
    DETECTION_KINDS,
    FLOAT_KIND,
    FLOAT_ZERO_TO_ONE_KIND,
    INTEGER_KIND,
    OBJECT_DETECTION_PREDICTION_KIND,
)

OUTPUT_KEY = "tracked_detections"
DEFAULT_FPS = 30.0
# trackers.ByteTrackTracker takes ids from one class-level counter; updates are serialised.
_UPDATE_LOCK = threading.Lock()


class _TrackerParams(BlockManifest):
    track_activation_threshold: float | Selector(kind=[FLOAT_ZERO_TO_ONE_KIND]) = Field(  # type: ignore[valid-type]
        default=0.25, description="Detections above this confidence can start a track.")
    lost_track_buffer: int | Selector(kind=[INTEGER_KIND]) = Field(  # type: ignore[valid-type]
        default=30, description="Frames a lost track is kept (at 30 fps; scaled by the video's fps).")
    minimum_matching_threshold: float | Selector(kind=[FLOAT_ZERO_TO_ONE_KIND]) = Field(  # type: ignore[valid-type]
        default=0.8, description="Matching cost (1 - IoU) above which a detection and a track do not match.")


class ByteTrackerV1Manifest(_TrackerParams):
    """v1: frames identified by a ``WorkflowVideoMetadata`` input."""

    model_config = block_config(name="Byte Tracker", category="transformation", version="v1",
                                description="Track objects across video frames with ByteTrack.")
    type: Literal["roboflow_core/byte_tracker@v1"]
    metadata: VideoMetadataSelector()  # type: ignore[valid-type]
    predictions: Selector(kind=list(DETECTION_KINDS)) = Field(  # type: ignore[valid-type]
        description="Detections of the current frame.")
    frame_rate: float | None | Selector(kind=[FLOAT_KIND]) = Field(  # type: ignore[valid-type]
        default=None, description="Frame rate of the video (default: the metadata's fps).")

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name=OUTPUT_KEY, kind=[OBJECT_DETECTION_PREDICTION_KIND])]


class ByteTrackerV2Manifest(_TrackerParams):
    """v2: the video metadata travels with the image."""

    model_config = block_config(name="Byte Tracker", category="transformation", version="v2",
                                description="Track objects across video frames with ByteTrack.")
    type: Literal["roboflow_core/byte_tracker@v2"]
    image: ImageSelector()  # type: ignore[valid-type]
    detections: Selector(kind=list(DETECTION_KINDS))  # type: ignore[valid-type]
    minimum_consecutive_frames: int | Selector(kind=[INTEGER_KIND]) = Field(  # type: ignore[valid-type]
        default=1, description="Frames a track must last before it is reported.")

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name=OUTPUT_KEY, kind=list(DETECTION_KINDS))]


class ByteTrackerV3Manifest(ByteTrackerV2Manifest):
    """v3: v2 plus ``new_instances`` / ``already_seen_instances``."""

    model_config = block_config(name="Byte Tracker", category="transformation", version="v3",
                                description="Track objects across video frames with ByteTrack; tell new "
                                            "objects from ones seen before.")
    type: Literal["roboflow_core/byte_tracker@v3"]  # type: ignore[assignment]
    instances_cache_size: int = Field(default=16384, ge=1, description="Track ids remembered per video.")

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        kinds = list(DETECTION_KINDS)
        return [OutputDefinition(name=OUTPUT_KEY, kind=kinds), OutputDefinition(name="new_instances", kind=kinds),
                OutputDefinition(name="already_seen_instances", kind=kinds)]


@dataclass
class VideoTracks:
    """One video's tracker, its id renumbering, and the ids seen so far (FIFO, bounded)."""

    tracker: Any  # a trackers.* tracker (update(detections) -> detections)
    ids: dict[int, int] = field(default_factory=dict)
    seen: set[int] = field(default_factory=set)
    seen_order: deque[int] = field(default_factory=deque)
    first_id: int = 1  # sv.ByteTrack (the byte_tracker blocks) counted from 1; trackers 2.4 (trackers_*) from 0

    def update(self, detections: sv.Detections) -> sv.Detections:
        """Track one frame; only confirmed tracks, with per-video ids starting at 1."""
        frame = _copy(detections)
        if frame.confidence is None:
            frame.confidence = np.ones(len(frame), dtype=np.float32)
        with _UPDATE_LOCK:
            tracked = self.tracker.update(frame)
        raw_ids = np.asarray(tracked.tracker_id if tracked.tracker_id is not None else [], dtype=int)
        tracked = subset(tracked, raw_ids >= 0) if len(tracked) else tracked
        local = [self.ids.setdefault(int(raw), len(self.ids) + self.first_id) for raw in raw_ids[raw_ids >= 0]]
        tracked.tracker_id = np.array(local, dtype=int)
        return tracked

    def record(self, tracker_id: int, cache_size: int) -> bool:
        """Whether ``tracker_id`` was seen before (and remember it)."""
        if tracker_id in self.seen:
            return True
        while len(self.seen_order) >= cache_size:
            self.seen.discard(self.seen_order.popleft())
        self.seen_order.append(tracker_id)
        self.seen.add(tracker_id)
        return False


def _copy(detections: sv.Detections) -> sv.Detections:
    """A copy the tracker may modify (it sets ``tracker_id`` on its input)."""
    return subset(detections, np.arange(len(detections))) if len(detections) else sv.Detections.merge([detections])


def _new_tracks(fps: float | None, track_activation_threshold: float, lost_track_buffer: int,
                minimum_matching_threshold: float, minimum_consecutive_frames: int) -> VideoTracks:
    tracker = ByteTrackTracker(
        lost_track_buffer=int(lost_track_buffer),
        frame_rate=float(fps) if fps else DEFAULT_FPS,
        track_activation_threshold=min(1.0, float(track_activation_threshold) + 0.1),
        minimum_consecutive_frames=max(1, int(minimum_consecutive_frames)),
        minimum_iou_threshold=max(0.0, 1.0 - float(minimum_matching_threshold)),
        high_conf_det_threshold=float(track_activation_threshold),
    )
    return VideoTracks(tracker)


class _ByteTrackerBase(Block):
    stateful = True

    def _tracks(self, params: dict[str, Any], image: WorkflowImageData | None = None,
                metadata: VideoMetadata | None = None, frame_rate: float | None = None) -> VideoTracks:
        """The tracks of the frame's video (``frame_rate`` or the video's fps sets a new tracker's frame rate)."""
        metadata = frame_metadata(self, image, metadata)
        fps = frame_rate or metadata.fps
        return self.video_state(metadata.video_identifier, lambda: _new_tracks(fps, **params))


class ByteTrackerBlockV1(_ByteTrackerBase):
    """ByteTrack keyed by a ``WorkflowVideoMetadata`` input."""

    manifest_class = ByteTrackerV1Manifest

    def run(self, metadata: VideoMetadata, predictions: sv.Detections, track_activation_threshold: float,
            lost_track_buffer: int, minimum_matching_threshold: float, frame_rate: float | None = None
            ) -> dict[str, Any]:
        params = {"track_activation_threshold": track_activation_threshold, "lost_track_buffer": lost_track_buffer,
                  "minimum_matching_threshold": minimum_matching_threshold, "minimum_consecutive_frames": 1}
        return {OUTPUT_KEY: self._tracks(params, metadata=metadata, frame_rate=frame_rate).update(predictions)}


class ByteTrackerBlockV2(_ByteTrackerBase):
    """ByteTrack keyed by the image's video metadata."""

    manifest_class = ByteTrackerV2Manifest

    def run(self, image: WorkflowImageData, detections: sv.Detections, **params: Any) -> dict[str, Any]:
        return {OUTPUT_KEY: self._tracks(params, image).update(detections)}


class ByteTrackerBlockV3(_ByteTrackerBase):
    """ByteTrack plus first-appearance detection."""

    manifest_class = ByteTrackerV3Manifest

    def run(self, image: WorkflowImageData, detections: sv.Detections, instances_cache_size: int = 16384,
            **params: Any) -> dict[str, Any]:
        tracks = self._tracks(params, image)
        tracked = tracks.update(detections)
        ids = tracked.tracker_id if tracked.tracker_id is not None else np.zeros(0, dtype=int)
        seen = np.asarray([tracks.record(int(i), instances_cache_size) for i in ids], dtype=np.bool_)
        return {OUTPUT_KEY: tracked, "new_instances": subset(tracked, np.logical_not(seen)),
                "already_seen_instances": subset(tracked, seen)}
