"""Data that flows through the video stack: frames, states, strategies, status updates.

Names and values follow Roboflow Inference's ``inference.core.interfaces.camera`` so that code and
payloads written for its InferencePipeline read the same here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np

# The reference's defaults (its env.py), kept as module constants.
DEFAULT_BUFFER_SIZE = 64
DEFAULT_ADAPTIVE_MODE_STREAM_PACE_TOLERANCE = 0.1
DEFAULT_ADAPTIVE_MODE_READER_PACE_TOLERANCE = 5.0
DEFAULT_MINIMUM_ADAPTIVE_MODE_SAMPLES = 10
DEFAULT_MAXIMUM_ADAPTIVE_FRAMES_DROPPED_IN_ROW = 16
PREDICTIONS_QUEUE_SIZE = 512
RESTART_ATTEMPT_DELAY = 1.0
MAX_RESTART_ATTEMPT_DELAY = 8.0

STATE_UPDATE_EVENT = "STREAM_STATE_UPDATE"
STREAM_ERROR_EVENT = "STREAM_ERROR"
FRAME_DROPPED_EVENT = "FRAME_DROPPED"
SOURCE_CONNECTION_ATTEMPT_FAILED_EVENT = "SOURCE_CONNECTION_ATTEMPT_FAILED"
SOURCE_CONNECTION_LOST_EVENT = "SOURCE_CONNECTION_LOST"
INFERENCE_ERROR_EVENT = "INFERENCE_ERROR"
SINK_ERROR_EVENT = "SINK_ERROR"


class StreamState(str, Enum):
    """Life cycle of a video source."""

    NOT_STARTED = "NOT_STARTED"
    INITIALISING = "INITIALISING"
    RESTARTING = "RESTARTING"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    MUTED = "MUTED"
    TERMINATING = "TERMINATING"
    ENDED = "ENDED"
    ERROR = "ERROR"


FINAL_STATES = frozenset({StreamState.ENDED, StreamState.ERROR})


class BufferFillingStrategy(str, Enum):
    """What the decoder does with a new frame when the buffer is full (or the reader is slow)."""

    WAIT = "WAIT"
    DROP_OLDEST = "DROP_OLDEST"
    ADAPTIVE_DROP_OLDEST = "ADAPTIVE_DROP_OLDEST"
    DROP_LATEST = "DROP_LATEST"
    ADAPTIVE_DROP_LATEST = "ADAPTIVE_DROP_LATEST"


ADAPTIVE_STRATEGIES = frozenset({BufferFillingStrategy.ADAPTIVE_DROP_OLDEST, BufferFillingStrategy.ADAPTIVE_DROP_LATEST})
DROP_OLDEST_STRATEGIES = frozenset({BufferFillingStrategy.DROP_OLDEST, BufferFillingStrategy.ADAPTIVE_DROP_OLDEST})


class BufferConsumptionStrategy(str, Enum):
    """LAZY reads frames one by one; EAGER takes the newest and discards the rest."""

    LAZY = "LAZY"
    EAGER = "EAGER"


class UpdateSeverity(int, Enum):
    """Severity of a :class:`StatusUpdate` (DEBUG ones are not kept by the watchdog)."""

    DEBUG = 10
    INFO = 20
    WARNING = 30
    ERROR = 40


@dataclass(frozen=True)
class StatusUpdate:
    """An event of a source or pipeline: state changes, drops, errors."""

    timestamp: dt.datetime
    severity: UpdateSeverity
    event_type: str
    payload: dict[str, Any]
    context: str

    def to_json(self) -> dict[str, Any]:
        """The JSON the status report carries."""
        return {"timestamp": self.timestamp.isoformat(), "severity": self.severity.name,
                "event_type": self.event_type, "payload": _plain(self.payload), "context": self.context}


StatusHandler = Callable[[StatusUpdate], None]


@dataclass(frozen=True)
class SourceProperties:
    """What the source says about itself once connected."""

    width: int
    height: int
    total_frames: int
    is_file: bool
    fps: float
    is_reconnectable: bool

    def to_json(self) -> dict[str, Any]:
        return {"width": self.width, "height": self.height, "total_frames": self.total_frames,
                "is_file": self.is_file, "fps": self.fps, "is_reconnectable": self.is_reconnectable}


@dataclass(frozen=True)
class VideoFrame:
    """One decoded frame.

    Attributes:
        image: BGR ``(H, W, 3)`` uint8.
        frame_id: 1-based position of the frame in its source (continues across reconnects).
        frame_timestamp: wall-clock time the frame was grabbed.
        source_id: index of the source in the pipeline's list.
        fps: the source's declared frame rate (0 when unknown).
        measured_fps: the decoder's measured pace over recent frames (0 until measured).
        comes_from_video_file: True for files and image sequences.
        media_time: the frame's presentation time in seconds, when the container gives one.
        grabbed_at: ``time.perf_counter()`` at grab (latency measurements).
    """

    image: np.ndarray
    frame_id: int
    frame_timestamp: dt.datetime
    source_id: int = 0
    fps: float = 0.0
    measured_fps: float = 0.0
    comes_from_video_file: bool = False
    media_time: float | None = None
    grabbed_at: float = 0.0
    source_reference: str = field(default="", repr=False)

    def metadata(self) -> dict[str, Any]:
        """The reference's ``frames_metadata`` entry."""
        return {"frame_timestamp": self.frame_timestamp.isoformat(), "frame_id": self.frame_id,
                "source_id": self.source_id}

    def video_metadata(self) -> dict[str, Any]:
        """The workflow engine's ``WorkflowVideoMetadata`` input for this frame."""
        # Keyed by source position, as the reference does: unique in a pipeline even for equal references.
        return {"video_identifier": str(self.source_id), "frame_number": self.frame_id,
                "frame_timestamp": self.frame_timestamp.timestamp(), "fps": self.fps or self.measured_fps or None,
                "measured_fps": self.measured_fps or None, "comes_from_video_file": self.comes_from_video_file}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


NAMED_WORKFLOWS_MESSAGE = ("Workflows saved on the Roboflow platform (workspace_name / workflow_id) are not available "
                           "on a self-hosted Argus server: send the definition as workflow_specification.")
