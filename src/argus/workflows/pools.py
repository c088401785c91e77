"""The thread pools workflows run on, sized from Settings and shared by every workflow of the process.

- ``steps``: independent steps of one run in parallel (``ARGUS_WORKFLOW_STEP_THREADS``; 0: twice the cores,
  between 4 and 16).
- ``io``: background I/O of blocks (``ARGUS_WORKFLOW_IO_THREADS``).

Pools are created on first use and kept per size, so a server and the tests that build several Settings do not
start a pool per workflow.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from argus.settings import Settings

_lock = threading.Lock()
_pools: dict[tuple[int, int], WorkflowPools] = {}


@dataclass(frozen=True)
class WorkflowPools:
    """The step and I/O executors."""

    steps: ThreadPoolExecutor
    io: ThreadPoolExecutor


def step_threads(settings: Settings) -> int:
    """Step threads for ``settings`` (the automatic size when it says 0)."""
    return settings.workflow_step_threads or max(4, min(16, (os.cpu_count() or 2) * 2))


def pools_for(settings: Settings) -> WorkflowPools:
    """The process's pools of the sizes ``settings`` asks for."""
    key = (step_threads(settings), settings.workflow_io_threads)
    with _lock:
        if key not in _pools:
            _pools[key] = WorkflowPools(ThreadPoolExecutor(key[0], thread_name_prefix="argus-workflow-step"),
                                        ThreadPoolExecutor(key[1], thread_name_prefix="argus-workflow-io"))
        return _pools[key]
