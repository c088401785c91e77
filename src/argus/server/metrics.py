"""Prometheus metrics of one server (a registry per app, so tests and replicas do not mix)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from argus.runtime.manager import ModelManager

_LATENCY_BUCKETS = (0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24)


class ServerMetrics:
    """The server's counters, histograms and gauges."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("argus_http_requests", "HTTP requests", ["route", "method", "status"], registry=r)
        self.request_latency = Histogram("argus_http_request_duration_seconds", "HTTP request latency",
                                         ["route"], buckets=_LATENCY_BUCKETS, registry=r)
        self.inference_latency = Histogram("argus_inference_duration_seconds", "Model inference latency per call",
                                           ["model"], buckets=_LATENCY_BUCKETS, registry=r)
        self.images = Counter("argus_inference_images", "Images inferred", ["model"], registry=r)
        self.model_loads = Counter("argus_model_loads", "Model loads", ["model"], registry=r)
        self.model_load_seconds = Histogram("argus_model_load_duration_seconds", "Model load time", ["model"],
                                            buckets=_LATENCY_BUCKETS, registry=r)
        self.model_unloads = Counter("argus_model_unloads", "Model unloads and evictions", ["model"], registry=r)
        self.models_loaded = Gauge("argus_models_loaded", "Models in memory", registry=r)

    def watch_queues(self, manager: ModelManager) -> None:
        """Report the batching queues of ``manager``'s loaded models at each scrape."""
        self.registry.register(BatchingCollector(manager))

    def render(self) -> bytes:
        """The exposition text."""
        return generate_latest(self.registry)


class BatchingCollector(Collector):
    """Per loaded model, read at scrape time: images waiting, batches run, images batched, requests refused."""

    def __init__(self, manager: ModelManager) -> None:
        self.manager = manager

    def collect(self) -> Iterator[Metric]:
        pending = GaugeMetricFamily("argus_inference_pending_images",
                                    "Images admitted and not yet taken into a batch", labels=["model"])
        batches = CounterMetricFamily("argus_inference_batches", "session.run calls by the batcher", labels=["model"])
        batched = CounterMetricFamily("argus_inference_batched_images", "Images run in batches (divide by batches "
                                      "for the mean batch size)", labels=["model"])
        refused = CounterMetricFamily("argus_inference_refused", "Requests refused with 503 because the model's "
                                      "queue was full", labels=["model"])
        for model_id, loaded in self.manager.loaded().items():
            batcher = loaded.model.batcher
            pending.add_metric([model_id], batcher.pending_rows)
            batches.add_metric([model_id], batcher.batches_run)
            batched.add_metric([model_id], batcher.rows_run)
            refused.add_metric([model_id], batcher.refused)
        yield from (pending, batches, batched, refused)


_COUNTERS = ("success", "success_ns", "fail", "fail_ns", "items", "compute_ns", "last_ms")


class InferenceStats:
    """Thread-safe per-model counters of the inference requests served by these routes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[str, dict[str, int]] = {}

    def record(self, store_id: str, ok: bool, ns: int, items: int = 0, compute_ns: int = 0) -> None:
        """Count one request (``items``: its batch size; ``compute_ns``: its time in the model)."""
        outcome = "success" if ok else "fail"
        with self._lock:
            counts = self._models.setdefault(store_id, dict.fromkeys(_COUNTERS, 0))
            counts["last_ms"] = int(time.time() * 1000)
            counts[outcome] += 1
            counts[f"{outcome}_ns"] += ns
            counts["items"] += items
            counts["compute_ns"] += compute_ns

    def entry(self, name: str, version: str, store_id: str) -> dict[str, Any]:
        """Triton's ``model_stats`` entry for one model (one execution per successful request)."""
        with self._lock:
            c = dict(self._models.get(store_id) or dict.fromkeys(_COUNTERS, 0))
        return {"name": name, "version": version, "last_inference": c["last_ms"], "inference_count": c["items"],
                "execution_count": c["success"], "inference_stats": {
                    "success": {"count": c["success"], "ns": c["success_ns"]},
                    "fail": {"count": c["fail"], "ns": c["fail_ns"]},
                    "compute_infer": {"count": c["success"], "ns": c["compute_ns"]}},
                "batch_stats": []}
