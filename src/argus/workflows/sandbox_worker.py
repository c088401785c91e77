"""The child side of the custom-Python sandbox: ``python -m argus.workflows.sandbox_worker CONFIG_JSON``.

The server never runs workflow-supplied code itself: :mod:`argus.workflows.sandbox` starts this
module in a separate process, which first caps its own address space (``RLIMIT_AS``, soft and
hard, so the code cannot raise it again) and core dumps, imports the libraries blocks use, then
confines itself (:mod:`argus.workflows.confinement`: Landlock, seccomp, an unprivileged uid) before
it receives the block's code, runs the init function once, and answers ``run`` requests until its
input closes. If a layer cannot be applied it answers the first request with the reason and exits
without running anything (fail closed).

Frames on stdin/stdout are an 8-byte big-endian length and a pickle. Stdout is handed to the
protocol before any user code runs; ``print`` in user code goes to stderr.

This module imports nothing heavy at the top so the limit is in place before numpy loads.
"""

from __future__ import annotations

import os
import struct
import sys
import traceback
from typing import Any, BinaryIO

HEADER = struct.Struct(">Q")

# What the reference promises to dynamic block code (PythonCode.run_function_code's description).
PREAMBLE = """\
from typing import Any, Dict, List, Optional, Set, Tuple, Union
import json
import math
import os
import time
import cv2
import numpy as np
import supervision as sv
from argus.workflows.data import VideoMetadata, WorkflowImageData
Batch = list
BlockResult = Dict[str, Any]
"""


def read_frame(stream: BinaryIO) -> Any:
    """One pickled message, or ``None`` when the peer closed the pipe."""
    import pickle

    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (size,) = HEADER.unpack(header)
    payload = stream.read(size)
    if len(payload) < size:
        return None
    return pickle.loads(payload)


def write_frame(stream: BinaryIO, message: Any) -> None:
    """Pickle ``message`` and write it with its length."""
    import pickle

    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(HEADER.pack(len(payload)) + payload)
    stream.flush()


class _BlockSelf:
    """What ``self`` is inside ``run(self, ...)``: carries ``_init_results`` as in the reference."""

    def __init__(self, init_results: dict[str, Any]) -> None:
        self._init_results = init_results


def _limit_resources(memory_bytes: int) -> None:
    import resource

    if memory_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _load(code: dict[str, Any]) -> tuple[Any, _BlockSelf]:
    """Exec the imports, the run function and the init function; return ``run`` and its ``self``."""
    namespace: dict[str, Any] = {"__name__": "argus_dynamic_block"}
    source = PREAMBLE + "\n".join(code.get("imports") or []) + "\n"
    exec(compile(source, "<dynamic block imports>", "exec"), namespace)
    exec(compile(code["run_function_code"], "<run_function_code>", "exec"), namespace)
    run_name = code.get("run_function_name") or "run"
    run = namespace.get(run_name)
    if not callable(run):
        raise NameError(f"run_function_code defines no function named {run_name!r}")
    init_results: dict[str, Any] = {}
    if code.get("init_function_code"):
        exec(compile(code["init_function_code"], "<init_function_code>", "exec"), namespace)
        init_name = code.get("init_function_name") or "init"
        init = namespace.get(init_name)
        if not callable(init):
            raise NameError(f"init_function_code defines no function named {init_name!r}")
        init_results = init()
        if not isinstance(init_results, dict):
            raise TypeError(f"{init_name}() must return a dict, it returned {type(init_results).__name__}")
    return run, _BlockSelf(init_results)


def _describe(error: BaseException) -> str:
    """The exception and the last frames of user code (not this module's frames)."""
    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if frame.filename.startswith("<")]
    where = "".join(traceback.format_list(frames[-3:]))
    return f"{type(error).__name__}: {error}" + (f"\n{where.rstrip()}" if where else "")


def serve(requests: BinaryIO, replies: BinaryIO) -> None:
    """Answer ``("init", code)`` once, then ``("run", kwargs)`` until the input closes."""
    run: Any = None
    block_self: _BlockSelf | None = None
    while True:
        message = read_frame(requests)
        if message is None:
            return
        action, payload = message
        try:
            if action == "init":
                run, block_self = _load(payload)
                write_frame(replies, ("ok", os.getpid()))
            elif action == "run":
                result = run(block_self, **payload)
                if not isinstance(result, dict) and not (
                        isinstance(result, list) and all(isinstance(item, dict) for item in result)):
                    raise TypeError("run() must return a dict of outputs (or, with output_dimensionality_offset 1, "
                                    f"a list of such dicts); it returned {type(result).__name__}")
                write_frame(replies, ("ok", result))
            else:
                write_frame(replies, ("error", f"unknown request {action!r}"))
        except MemoryError:
            write_frame(replies, ("error", "MemoryError: the custom code went over the sandbox's memory limit"))
        except BaseException as error:  # noqa: BLE001 - every failure of user code goes back as a message
            write_frame(replies, ("error", _describe(error)))


def _exit_with_parent(interval_s: float = 1.0) -> None:
    """Stop this process when the server that started it is gone, even while user code loops.

    (``prctl(PR_SET_PDEATHSIG)`` would fire when the server *thread* that spawned us exits, which
    thread pools do; a watchdog thread comparing the parent pid does not have that problem.)
    """
    import threading
    import time

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval_s)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def _confine(config: dict[str, Any]) -> str | None:
    """Apply the kernel layers the config asks for; the reason they could not be applied, or ``None``."""
    if config.get("isolation") != "kernel":
        return None
    from pathlib import Path

    from argus.workflows.confinement import ConfinementError, confine, plan_for

    try:
        confine(plan_for(Path(config["private_dir"]), [Path(p) for p in config["protected"]],
                         config.get("drop_to_uid")))
    except ConfinementError as error:
        return str(error)
    except Exception as error:  # noqa: BLE001 - anything unexpected while confining: fail closed
        return f"{type(error).__name__}: {error}"
    return None


def main(argv: list[str]) -> None:
    """Entry point: take the protocol's stdout, cap resources, import the preamble's libraries, confine, serve."""
    import json

    config: dict[str, Any] = json.loads(argv[0]) if argv else {}
    _exit_with_parent()
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    requests = sys.stdin.buffer
    sys.stdin = open(os.devnull)
    _limit_resources(int(config.get("memory_bytes", 0)))
    import cv2  # loaded before the limit could be hit by user allocations, and before the files are closed off
    import numpy  # noqa: F401
    import supervision  # noqa: F401

    import argus.workflows.data  # noqa: F401 - what pickled inputs refer to

    cv2.setNumThreads(1)  # no thread pool to grow under RLIMIT_NPROC; the sandbox runs one call at a time
    refused = _confine(config)
    if refused is not None:
        if read_frame(requests) is not None:
            write_frame(replies, ("unconfined", refused))
        sys.exit(3)
    serve(requests, replies)


if __name__ == "__main__":
    main(sys.argv[1:])
