"""The thread pools workflows run on, sized from Settings and shared by every workflow of the process.

- ``steps``: independent steps of one run in parallel (``ARGUS_WORKFLOW_STEP_THREADS``; 0: twice the cores,
  between 4 and 16).
- ``io``: background I/O of blocks (``ARGUS_WORKFLOW_IO_THREADS``).
- ``sinks``: sink deliveries (``ARGUS_SINK_THREADS``), bounded in what may wait (:class:`SinkPool`).

Pools are created on first use and kept per size, so a server and the tests that build several Settings do not
start a pool per workflow.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from argus.settings import Settings

PENDING_PER_THREAD = 16
"""Deliveries that may wait or run per sink thread (ARGUS_SINK_THREADS) before new ones are refused."""

_lock = threading.Lock()
_pools: dict[tuple[int, int, int], WorkflowPools] = {}
Delivery = Callable[[], tuple[bool, str]]


class SinkPool:
    """A bounded pool for deliveries: a fixed number of threads and a cap on what may wait for them."""

    def __init__(self, workers: int, max_pending: int) -> None:
        self._executor: ThreadPoolExecutor | None = None
        self._workers = workers
        self.max_pending = max_pending
        self._slots = threading.BoundedSemaphore(max_pending)
        self._lock = threading.Lock()

    def submit(self, delivery: Delivery) -> Future[tuple[bool, str]] | None:
        """Run ``delivery`` on the pool; ``None`` when ``max_pending`` deliveries are already pending."""
        if not self._slots.acquire(blocking=False):
            return None
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="argus-sink")
        future = self._executor.submit(delivery)
        future.add_done_callback(lambda _: self._slots.release())
        return future


@dataclass(frozen=True)
class WorkflowPools:
    """The step, I/O and sink executors."""

    steps: ThreadPoolExecutor
    io: ThreadPoolExecutor
    sinks: SinkPool


def step_threads(settings: Settings) -> int:
    """Step threads for ``settings`` (the automatic size when it says 0)."""
    return settings.workflow_step_threads or max(4, min(16, (os.cpu_count() or 2) * 2))


def pools_for(settings: Settings) -> WorkflowPools:
    """The process's pools of the sizes ``settings`` asks for."""
    key = (step_threads(settings), settings.workflow_io_threads, settings.sink_threads)
    with _lock:
        if key not in _pools:
            _pools[key] = WorkflowPools(ThreadPoolExecutor(key[0], thread_name_prefix="argus-workflow-step"),
                                        ThreadPoolExecutor(key[1], thread_name_prefix="argus-workflow-io"),
                                        SinkPool(key[2], key[2] * PENDING_PER_THREAD))
        return _pools[key]
