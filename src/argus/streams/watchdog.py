"""The pipeline watchdog: status updates, latency per source, throughput; the status route's report.

Latencies, per source, over the last frames (the reference's LatencyMonitor, kept per source):
``frame_decoding_latency`` (grabbed -> inference starts: time in the buffer), ``inference_latency``
(the model or workflow call), ``e2e_latency`` (grabbed -> sinks done).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

import supervision as sv

from argus.streams.entities import StatusUpdate, UpdateSeverity

MAX_LATENCY_CONTEXT = 64
MAX_UPDATES_CONTEXT = 512


class DescribableSource(Protocol):
    def describe_source(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class LatencySample:
    """Timings of one frame, in seconds."""

    frame_decoding_latency: float
    inference_latency: float
    e2e_latency: float


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


class PipelineWatchDog:
    """Collects what the status report shows; thread-safe (sources, inference and sink threads feed it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sources: list[DescribableSource] = []
        self._updates: deque[StatusUpdate] = deque(maxlen=MAX_UPDATES_CONTEXT)
        self._latency: dict[int, deque[LatencySample]] = {}
        self._throughput = sv.FPSMonitor(sample_size=MAX_LATENCY_CONTEXT)
        self._source_throughput: dict[int, sv.FPSMonitor] = {}
        self._frames: dict[int, int] = {}

    def register_video_sources(self, sources: list[Any]) -> None:
        """The sources whose metadata the report lists."""
        self._sources = list(sources)

    def on_status_update(self, update: StatusUpdate) -> None:
        """Keep INFO and above (DEBUG frame drops are too many to keep)."""
        if update.severity.value > UpdateSeverity.DEBUG.value:
            with self._lock:
                self._updates.append(update)

    def on_frame_done(self, source_id: int, sample: LatencySample) -> None:
        """A frame went all the way through the sinks."""
        with self._lock:
            self._latency.setdefault(source_id, deque(maxlen=MAX_LATENCY_CONTEXT)).append(sample)
            self._source_throughput.setdefault(source_id, sv.FPSMonitor(sample_size=MAX_LATENCY_CONTEXT)).tick()
            self._frames[source_id] = self._frames.get(source_id, 0) + 1

    def on_batch_done(self) -> None:
        """One batch of predictions was produced."""
        with self._lock:
            self._throughput.tick()

    def frames_processed(self, source_id: int | None = None) -> int:
        """Frames that reached the sinks, of one source or all."""
        with self._lock:
            if source_id is None:
                return sum(self._frames.values())
            return self._frames.get(source_id, 0)

    def latency_reports(self) -> list[dict[str, Any]]:
        """Mean latencies per source over the last frames."""
        with self._lock:
            reports = []
            for source_id, samples in sorted(self._latency.items()):
                reports.append({
                    "source_id": source_id,
                    "frame_decoding_latency": _mean([s.frame_decoding_latency for s in samples]),
                    "inference_latency": _mean([s.inference_latency for s in samples]),
                    "e2e_latency": _mean([s.e2e_latency for s in samples]),
                    "throughput": self._source_throughput[source_id].fps,
                    "frames_processed": self._frames.get(source_id, 0),
                })
            return reports

    def get_report(self) -> dict[str, Any]:
        """The reference's ``PipelineStateReport`` as JSON (``latency_reports`` per source)."""
        with self._lock:
            updates = [update.to_json() for update in self._updates]
            throughput = self._throughput.fps
        return {
            "video_source_status_updates": updates,
            "latency_reports": self.latency_reports(),
            "inference_throughput": throughput,
            "sources_metadata": [source.describe_source() for source in self._sources],
        }
