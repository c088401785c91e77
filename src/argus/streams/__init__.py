"""Video: sources, the InferencePipeline, sinks and the stream manager.

Example:
    >>> from argus.streams import InferencePipeline  # doctest: +SKIP
    >>> pipeline = InferencePipeline.init("clip.mp4", "yolov3-tiny-416", on_prediction=print)  # doctest: +SKIP
    >>> pipeline.start(use_main_thread=False); pipeline.join()  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Loaded on first use (PEP 562), so importing argus.streams.entities (the server's route schemas do) does not
# pull in PyAV and supervision: the server starts faster.
_HOMES = {
    "BufferConsumptionStrategy": "entities", "BufferFillingStrategy": "entities", "SourceProperties": "entities",
    "StatusUpdate": "entities", "StreamState": "entities", "UpdateSeverity": "entities", "VideoFrame": "entities",
    "InferencePipeline": "pipeline", "SinkMode": "pipeline",
    "AnnotatedFramesSink": "sinks", "InMemoryBufferSink": "sinks", "UDPSink": "sinks", "VideoFileSink": "sinks",
    "WebhookSink": "sinks", "multi_sink": "sinks", "render_boxes": "sinks",
    "StreamOperationNotAllowedError": "sources", "VideoSource": "sources",
    "PipelineWatchDog": "watchdog",
}

if TYPE_CHECKING:
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


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'argus.streams' has no attribute {name!r}")
    return getattr(importlib.import_module(f"argus.streams.{home}"), name)


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
