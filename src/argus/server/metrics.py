"""Prometheus metrics of one server (a registry per app, so tests and replicas do not mix).

With ``--workers N`` each worker runs with ``PROMETHEUS_MULTIPROC_DIR`` (``ARGUS_METRICS_DIR``): prometheus-client
then keeps every counter in a file per process, and whichever worker answers ``/metrics`` (or the OIP
statistics) reads the sum over all of them. The batching queues are that worker's own.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from argus.runtime.manager import ModelManager
from argus.runtime.service import InferenceRecord

_LATENCY_BUCKETS = (0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24)


class ServerMetrics:
    """The server's counters, histograms and gauges."""

    def __init__(self, multiprocess_dir: Path | None = None) -> None:
        self.registry = CollectorRegistry()
        self.multiprocess_dir = multiprocess_dir
        r = self.registry
        ProcessCollector(registry=r)  # process_resident_memory_bytes, CPU seconds, open files (this process)
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
        self.inference_requests = Counter("argus_inference_requests", "Inference requests by outcome",
                                          ["model", "outcome"], registry=r)
        self.inference_request_seconds = Counter("argus_inference_request_seconds",
                                                 "Seconds spent on inference requests, by outcome",
                                                 ["model", "outcome"], registry=r)
        self.model_seconds = Counter("argus_model_compute_seconds", "Seconds the model's batches ran for requests",
                                     ["model"], registry=r)
        self.last_inference = Gauge("argus_last_inference_timestamp_seconds", "When the model last answered",
                                    ["model"], registry=r, multiprocess_mode="max")
        self.models_loaded = Gauge("argus_models_loaded", "Models in memory", registry=r, multiprocess_mode="livesum")

    def watch_queues(self, manager: ModelManager) -> None:
        """Report the batching queues of ``manager``'s loaded models at each scrape."""
        self._queues = BatchingCollector(manager)
        self.registry.register(self._queues)

    def exposition_registry(self) -> CollectorRegistry:
        """What a scrape reads: this registry, or, with several workers, every worker's files plus this
        worker's queues."""
        if self.multiprocess_dir is None:
            return self.registry
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged, path=str(self.multiprocess_dir))
        if getattr(self, "_queues", None) is not None:
            merged.register(self._queues)
        return merged

    def record(self, record: InferenceRecord) -> None:
        """Count one inference request (from any protocol: /infer, the legacy route, OIP, workflows' models)."""
        outcome = "success" if record.ok else "fail"
        self.inference_requests.labels(record.model_id, outcome).inc()
        self.inference_request_seconds.labels(record.model_id, outcome).inc(record.seconds)
        if record.ok:
            self.images.labels(record.model_id).inc(record.images)
            self.inference_latency.labels(record.model_id).observe(record.seconds)
            self.model_seconds.labels(record.model_id).inc(record.model_seconds)
            self.last_inference.labels(record.model_id).set(time.time())

    def triton_stats(self, name: str, version: str, store_id: str) -> dict[str, Any]:
        """Triton's ``model_stats`` entry for one model, read from the same counters ``/metrics`` exposes."""
        registry = self.exposition_registry()

        def value(metric: str, **labels: str) -> float:
            return registry.get_sample_value(metric, {"model": store_id, **labels}) or 0.0

        success = int(value("argus_inference_requests_total", outcome="success"))
        fail = int(value("argus_inference_requests_total", outcome="fail"))
        return {"name": name, "version": version,
                "last_inference": int(value("argus_last_inference_timestamp_seconds") * 1000),
                "inference_count": int(value("argus_inference_images_total")), "execution_count": success,
                "inference_stats": {
                    "success": {"count": success,
                                "ns": int(value("argus_inference_request_seconds_total", outcome="success") * 1e9)},
                    "fail": {"count": fail,
                             "ns": int(value("argus_inference_request_seconds_total", outcome="fail") * 1e9)},
                    "compute_infer": {"count": success, "ns": int(value("argus_model_compute_seconds_total") * 1e9)}},
                "batch_stats": []}

    def render(self) -> bytes:
        """The exposition text."""
        return generate_latest(self.exposition_registry())


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
