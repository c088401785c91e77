"""Video: sources, the InferencePipeline, sinks and the stream manager.

Example:
    >>> from argus.streams import InferencePipeline  # doctest: +SKIP
    >>> pipeline = InferencePipeline.init("clip.mp4", "yolov3-tiny-416", on_prediction=print)  # doctest: +SKIP
    >>> pipeline.start(use_main_thread=False); pipeline.join()  # doctest: +SKIP
"""

from __future__ import annotations

from argus.streams.entities import (
    BufferConsumptionStrategy,
    BufferFillingStrategy,
    SourceProperties,
    StatusUpdate,
    StreamState,
    UpdateSeverity,
    VideoFrame,
)
from argus.streams.pipeline import InferencePipeline, SinkMode
from argus.streams.sinks import (
    AnnotatedFramesSink,
    InMemoryBufferSink,
    UDPSink,
    VideoFileSink,
    WebhookSink,
    multi_sink,
    render_boxes,
)
from argus.streams.sources import StreamOperationNotAllowedError, VideoSource
from argus.streams.watchdog import PipelineWatchDog

__all__ = [
    "AnnotatedFramesSink",
    "BufferConsumptionStrategy",
    "BufferFillingStrategy",
    "InMemoryBufferSink",
    "InferencePipeline",
    "PipelineWatchDog",
    "SinkMode",
    "SourceProperties",
    "StatusUpdate",
    "StreamOperationNotAllowedError",
    "StreamState",
    "UDPSink",
    "UpdateSeverity",
    "VideoFileSink",
    "VideoFrame",
    "VideoSource",
    "WebhookSink",
    "multi_sink",
    "render_boxes",
]
