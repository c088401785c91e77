"""Per-model serving knobs measured on this machine: runner instances × intra-op threads × batch size.

``argus models tune ID`` measures every candidate with a closed loop of concurrent callers through the model's
real path (preprocess, batcher, ``session.run``, decode), picks the best (:func:`choose`) and stores it in the
manifest (``tuning``, and ``batching.max_batch_size``). When the model loads, :func:`tuned_settings` applies
it, unless the operator set that knob explicitly (``ARGUS_MODEL_INSTANCES``, ``ARGUS_INTRA_OP_THREADS``) or
the machine is not the one it was measured on (another CPU count).
"""

from __future__ import annotations

import itertools
import logging
import os
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from argus.models.session import OnnxSession
from argus.models.vision import VisionModel
from argus.settings import Settings
from argus.store.manifest import Batching, ModelManifest, Tuning
from argus.store.repository import ModelRepository

logger = logging.getLogger(__name__)

THROUGHPUT_TIE = 0.03
"""Candidates within 3 % of the best throughput count as equal; then the shorter p99 wins."""


@dataclass(frozen=True)
class Candidate:
    """One combination of the knobs."""

    instances: int
    intra_op_threads: int
    max_batch_size: int


@dataclass(frozen=True)
class Measurement:
    """What one candidate did under the closed loop."""

    candidate: Candidate
    images_per_s: float
    p50_ms: float
    p99_ms: float


def candidates(cores: int, dynamic_batch: bool) -> list[Candidate]:
    """The grid: 1 or 2 runner instances, 1 thread up to every core (doubling), batches 1-8 when the graph's
    batch dimension is dynamic; and the default, threads following load."""
    threads = sorted({1, *(t for t in (2, 4, 8, 16) if t < cores), cores})
    batches = (1, 2, 4, 8) if dynamic_batch else (1,)
    grid = [Candidate(i, t, b) for i, t, b in itertools.product((1, 2), threads, batches)]
    # 0 threads: the default, where threads follow load (two runners, batching off; argus.models.batching).
    return grid + ([Candidate(2, 0, 1)] if cores > 1 else [])


def choose(measurements: list[Measurement]) -> Measurement:
    """The highest throughput; among candidates within :data:`THROUGHPUT_TIE` of it, the shortest p99, then the
    fewest threads in all (they are left to request decoding)."""
    best = max(m.images_per_s for m in measurements)
    close = [m for m in measurements if m.images_per_s >= best * (1 - THROUGHPUT_TIE)]
    return min(close, key=lambda m: (m.p99_ms, m.candidate.instances * m.candidate.intra_op_threads,
                                     m.candidate.max_batch_size))


def tuned_manifest(manifest: ModelManifest, chosen: Measurement, clients: int) -> ModelManifest:
    """``manifest`` with the chosen knobs and where they were measured."""
    c = chosen.candidate
    tuning = Tuning(instances=c.instances, intra_op_threads=c.intra_op_threads, cpu_count=os.cpu_count() or 1,
                    clients=clients, images_per_s=round(chosen.images_per_s, 2), p99_ms=round(chosen.p99_ms, 2))
    return manifest.model_copy(update={"tuning": tuning, "batching": _batching(manifest, c.max_batch_size)})


def _batching(manifest: ModelManifest, max_batch_size: int) -> Batching:
    return manifest.batching.model_copy(update={"max_batch_size": max_batch_size})


def tuned_settings(settings: Settings, manifest: ModelManifest, model_id: str = "") -> Settings:
    """The settings a model runs with: its measured knobs where the operator did not set them explicitly and
    the machine has the CPU count they were measured on."""
    tuning = manifest.tuning
    if tuning is None:
        return settings
    if tuning.cpu_count != (os.cpu_count() or 1):
        logger.info("%s: tuning measured on %d CPUs, this machine has %s; run `argus models tune` here",
                    model_id, tuning.cpu_count, os.cpu_count())
        return settings
    update = {name: value for name, value in (("model_instances", tuning.instances),
                                              ("intra_op_threads", tuning.intra_op_threads))
              if name not in settings.model_fields_set}
    return settings.model_copy(update=update) if update else settings


def measure(run_one: Callable[[], object], clients: int, requests: int) -> tuple[float, float, float]:
    """Images per second, p50 and p99 milliseconds of ``requests`` calls of ``run_one`` from ``clients`` threads
    that each wait for their answer before calling again (after one warm-up call each)."""
    latencies: list[float] = []
    lock = threading.Lock()
    remaining = iter(range(requests))

    def client() -> None:
        run_one()
        while True:
            with lock:
                if next(remaining, None) is None:
                    return
            started = time.perf_counter()
            run_one()
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return len(latencies) / wall, statistics.median(ordered) * 1000, p99 * 1000


def tune_model(repository: ModelRepository, model_id: str, settings: Settings, image: np.ndarray, *,
               clients: int = 4, requests: int = 40, write: bool = True,
               progress: Callable[[Measurement], None] | None = None) -> tuple[list[Measurement], Measurement]:
    """Measure every candidate on ``image`` and store the best in the model's manifest (unless ``write`` is
    off). Returns every measurement and the chosen one."""
    path = repository.model_path(model_id)
    manifest = repository.manifest(model_id)

    def load(trial_settings: Settings, trial_manifest: ModelManifest) -> VisionModel:
        return VisionModel(model_id, trial_manifest, OnnxSession(path, trial_settings, model_id), trial_settings)

    dynamic = OnnxSession(path, settings, model_id).fixed_batch_size is None and settings.dynamic_batching
    measurements = []
    for candidate in candidates(os.cpu_count() or 1, dynamic):
        measurement = measure_candidate(load, settings, manifest, candidate, image, clients, requests)
        measurements.append(measurement)
        if progress is not None:
            progress(measurement)
    chosen = choose(measurements)
    if write:
        repository.replace_manifest(model_id, tuned_manifest(manifest, chosen, clients))
    return measurements, chosen


def measure_candidate(load: Callable[[Settings, ModelManifest], VisionModel], settings: Settings,
                      manifest: ModelManifest, candidate: Candidate, image: np.ndarray, clients: int,
                      requests: int) -> Measurement:
    """Load the model with ``candidate``'s knobs (``load`` builds it) and measure it."""
    trial_settings = settings.model_copy(update={"model_instances": candidate.instances,
                                                 "intra_op_threads": candidate.intra_op_threads})
    trial_manifest = manifest.model_copy(update={"batching": _batching(manifest, candidate.max_batch_size)})
    model = load(trial_settings, trial_manifest)
    params = model.params()  # the manifest's defaults, as a plain request gets them
    try:
        images_per_s, p50, p99 = measure(lambda: model.infer_arrays([image], params), clients, requests)
    finally:
        model.close()
    return Measurement(candidate, images_per_s, p50, p99)
