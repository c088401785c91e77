# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Detection Event Log: when each tracked object was first and last seen, as the reference keeps it.

Per video: a track seen in ``frame_threshold`` frames is "logged" (before that, "pending"); every ``flush_interval``
frames, tracks unseen for more than ``stale_frames`` are dropped, and the logged ones among them come out once as
``complete_events``. Times are the video's own (frame timestamps, or frame numbers over the fps) relative to the
first frame, plus absolute timestamps. At most 100 videos (least recently seen dropped) and
:data:`MAX_EVENTS_PER_VIDEO` tracks per video are kept.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import supervision as sv
from pydantic import Field

from argus.workflows.blocks.base import Block, BlockManifest, ImageSelector, OutputDefinition, Selector, block_config
from argus.workflows.data import CLASS_NAME_KEY, VideoMetadata, WorkflowImageData
from argus.workflows.kinds import BOX_DETECTION_KINDS, DICTIONARY_KIND, FLOAT_KIND, INTEGER_KIND

MAX_VIDEOS = 100
MAX_EVENTS_PER_VIDEO = 10_000


@dataclass
class DetectionEvent:
    tracker_id: int
    class_name: str
    first_seen_frame: int
    first_seen_timestamp: float
    last_seen_frame: int
    last_seen_timestamp: float
    first_seen_relative: float = 0.0
    last_seen_relative: float = 0.0
    frame_count: int = 1

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _VideoLog:
    events: dict[int, DetectionEvent] = field(default_factory=dict)
    frames: int = 0
    last_flush: int | None = None
    first_timestamp: float | None = None


class DetectionEventLogManifest(BlockManifest):
    model_config = block_config(name="Detection Event Log", category="analytics",
                                description="Log when tracked objects are first and last seen.")
    type: Literal["roboflow_core/detection_event_log@v1"]
    image: ImageSelector()
    detections: Selector(kind=list(BOX_DETECTION_KINDS))
    frame_threshold: int | Selector(kind=[INTEGER_KIND]) = Field(default=30, ge=1)
    flush_interval: int | Selector(kind=[INTEGER_KIND]) = Field(default=30, ge=1)
    stale_frames: int | Selector(kind=[INTEGER_KIND]) = Field(default=300, ge=1)
    reference_timestamp: float | None | Selector(kind=[FLOAT_KIND]) = None  # deprecated in the reference, unused
    fallback_fps: float | Selector(kind=[FLOAT_KIND]) = Field(default=1.0, gt=0)

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="event_log", kind=[DICTIONARY_KIND]),
                OutputDefinition(name="detections", kind=list(BOX_DETECTION_KINDS)),
                OutputDefinition(name="total_logged", kind=[INTEGER_KIND]),
                OutputDefinition(name="total_pending", kind=[INTEGER_KIND]),
                OutputDefinition(name="complete_events", kind=[DICTIONARY_KIND])]


class DetectionEventLogBlockV1(Block):
    manifest_class = DetectionEventLogManifest
    stateful = True
    max_videos = MAX_VIDEOS

    def run(self, image: WorkflowImageData, detections: sv.Detections, frame_threshold: int = 30,
            flush_interval: int = 30, stale_frames: int = 300, reference_timestamp: float | None = None,
            fallback_fps: float = 1.0) -> dict[str, Any]:
        metadata = image.video_metadata
        log: _VideoLog = self.video_state(metadata.video_identifier, _VideoLog)
        log.frames += 1
        frame = log.frames
        relative = _relative_time(log, metadata, fallback_fps)
        absolute = metadata.frame_timestamp if metadata.frame_timestamp is not None else time.time()
        if log.last_flush is None:
            log.last_flush = frame
        complete: dict[str, Any] = {}
        if frame - log.last_flush >= flush_interval:
            stale = [tid for tid, event in log.events.items() if frame - event.last_seen_frame > stale_frames]
            for tid in stale:
                gone = log.events.pop(tid)
                if gone.frame_count >= frame_threshold:
                    complete[str(tid)] = gone.as_dict()
            log.last_flush = frame
        if detections.tracker_id is not None and len(detections.tracker_id):
            names = detections.data.get(CLASS_NAME_KEY, [])
            if not len(names) and detections.class_id is not None:
                names = [f"class_{c}" for c in detections.class_id]
            for i, raw in enumerate(detections.tracker_id):
                tid = int(raw)
                event = log.events.get(tid)
                if event is None:
                    log.events[tid] = DetectionEvent(tid, str(names[i]) if len(names) else "unknown", frame, absolute,
                                                     frame, absolute, relative, relative)
                else:
                    event.last_seen_frame, event.last_seen_timestamp = frame, absolute
                    event.last_seen_relative = relative
                    event.frame_count += 1
            for tid in sorted(log.events, key=lambda t: log.events[t].last_seen_frame)[
                    :max(0, len(log.events) - MAX_EVENTS_PER_VIDEO)]:
                del log.events[tid]
        logged = {str(t): e.as_dict() for t, e in log.events.items() if e.frame_count >= frame_threshold}
        pending = {str(t): e.as_dict() for t, e in log.events.items() if e.frame_count < frame_threshold}
        return {"event_log": {"logged": logged, "pending": pending}, "detections": detections,
                "total_logged": len(logged), "total_pending": len(pending), "complete_events": complete}


def _relative_time(log: _VideoLog, metadata: VideoMetadata, fallback_fps: float) -> float:
    """Seconds since the video's first frame: by timestamps when frames carry them, else frame number over fps."""
    if metadata.frame_timestamp is not None:
        if log.first_timestamp is None:
            log.first_timestamp = metadata.frame_timestamp
        return metadata.frame_timestamp - log.first_timestamp
    return max(metadata.frame_number - 1, 0) / (metadata.fps or fallback_fps)
