"""Run workflow-supplied Python in a separate, kernel-confined process with a timeout and a memory limit.

Custom Python blocks (``dynamic_blocks_definitions``) never run in the server process. Each
compiled dynamic block owns one :class:`SandboxProcess`: a child started with
``python -m argus.workflows.sandbox_worker`` in its own session and private temp folder, that caps
its address space with ``resource.setrlimit`` and confines itself with Landlock, seccomp and an
unprivileged uid (:mod:`argus.workflows.confinement`) before it sees the code. Inputs go to it pickled over a pipe; its answers
come back through :class:`SafeUnpickler`, which rebuilds only plain data (numpy arrays,
``sv.Detections``, workflow images, builtins), so a hostile answer cannot run code in the server
while it is unpickled.

A call that runs past the timeout kills the child's process group (the next call starts a fresh one); a child
that dies (killed by the kernel, crashed) is reported with its exit status. Both raise
:class:`CustomPythonError` naming the block. When a block is dropped (its compiled workflow is
done), a healthy child goes to a small warm pool and serves the next block with the same code
and limits, so a workflow run per HTTP request does not start an interpreter each time; module
globals of the code therefore persist between such runs, as they would in one long-lived block.

Example:
    >>> code = {"run_function_code": "def run(self, x):\\n    return {'y': x * 2}"}
    >>> with SandboxProcess(code, block_type="Doubler") as sandbox:  # doctest: +SKIP
    ...     sandbox.call({"x": 21})
    {'y': 42}
"""

from __future__ import annotations

import atexit
import hashlib
import io
import json
import logging
import os
import pickle
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from argus.errors import ArgusError, ServerError
from argus.workflows.confinement import UNPRIVILEGED_ID
from argus.workflows.sandbox_worker import HEADER

logger = logging.getLogger(__name__)

MAX_REPLY_BYTES = 512 * 1024 * 1024


class CustomPythonError(ArgusError):
    """Custom Python code failed, ran past its time, or went over its memory (HTTP 422)."""

    status_code = 422
    code = "custom_python_error"


class SandboxUnavailableError(ServerError):
    """The server cannot confine a sandbox as configured (an operator's problem; no user code ran)."""

    status_code = 503
    code = "sandbox_unavailable"


@dataclass(frozen=True)
class SandboxLimits:
    """Per-call wall-clock timeout (seconds), the child's address-space cap (MiB, 0 = none), its confinement
    (``kernel``, or ``none`` where the operator said so) and the server paths it must never be able to read."""

    timeout_s: float = 10.0
    memory_mb: int = 1024
    startup_timeout_s: float = 60.0
    isolation: Literal["kernel", "none"] = "kernel"
    protected_paths: tuple[Path, ...] = ()


@dataclass
class _Child:
    """A sandbox process and its private temp folder (removed with it)."""

    process: subprocess.Popen[bytes]
    private_dir: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None


# The only globals an answer's pickle may name: data classes and numpy's own rebuild helpers.
_SAFE_GLOBALS = {
    ("builtins", name) for name in ("complex", "set", "frozenset", "slice", "range", "bytearray", "object",
                                    "list", "dict", "tuple", "int", "float", "str", "bytes", "bool")
} | {
    ("copyreg", "_reconstructor"), ("copyreg", "__newobj__"), ("copyreg", "__newobj_ex__"),
    ("_codecs", "encode"), ("collections", "OrderedDict"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"), ("numpy._core.numeric", "_frombuffer"),
    ("supervision.detection.core", "Detections"), ("supervision.key_points.core", "KeyPoints"),
    ("datetime", "datetime"), ("datetime", "date"), ("datetime", "timedelta"), ("datetime", "timezone"),
} | {
    ("argus.workflows.data", name) for name in ("WorkflowImageData", "ImageParentMetadata", "OriginCoordinates",
                                                "VideoMetadata")
}


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds plain data only (never a callable such as ``os.system``)."""

    def find_class(self, module: str, name: str) -> Any:
        """Allow the names in :data:`_SAFE_GLOBALS` (numpy's ``numpy.core`` spelled as ``numpy._core``)."""
        canonical = module.replace("numpy.core.", "numpy._core.", 1) if module.startswith("numpy.core.") else module
        if (canonical, name) not in _SAFE_GLOBALS and not (canonical == "numpy.dtypes" and name.endswith("DType")):
            raise pickle.UnpicklingError(f"returned an object of a refused type {module}.{name}")
        return super().find_class(module, name)


class _WarmPool:
    """Idle sandbox processes of finished blocks, handed to the next block with the same code and limits.

    A compiled workflow lives for one HTTP request; without the pool every request would pay for a
    fresh interpreter (about a second). Only processes that answered their last call are kept, at
    most ``size`` of them (the oldest is stopped), and all are stopped when the server exits.
    """

    def __init__(self, size: int = 4) -> None:
        self._idle: OrderedDict[int, tuple[str, _Child]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def take(self, key: str) -> _Child | None:
        with self._lock:
            for pid, (owner, child) in list(self._idle.items()):
                if owner == key:
                    del self._idle[pid]
                    if child.alive():
                        return child
                    _stop(child)
        return None

    def give(self, key: str, child: _Child) -> None:
        with self._lock:
            self._idle[child.pid] = (key, child)
            evicted = [self._idle.popitem(last=False)[1][1] for _ in range(max(0, len(self._idle) - self._size))]
        for old in evicted:
            _stop(old)

    def clear(self) -> None:
        with self._lock:
            idle, self._idle = list(self._idle.values()), OrderedDict()
        for _, child in idle:
            _stop(child)


def _stop(child: _Child) -> None:
    """Kill the child's whole process group, reap it and remove its private folder."""
    process = child.process
    for stream in (process.stdin, process.stdout):
        if stream:
            stream.close()
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)  # its own session: anything it started goes too
        except (ProcessLookupError, PermissionError):
            process.kill()
    process.wait()
    shutil.rmtree(child.private_dir, ignore_errors=True)


# Environment variables the child keeps: enough to find Python and its packages, none of the server's
# configuration (API keys, SMTP password, database URL live in ARGUS_* and friends).
_KEPT_ENVIRONMENT = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "TMPDIR",
                     "SYSTEMROOT")


def sandbox_environment(private_dir: Path) -> dict[str, str]:
    """The child's environment: the server's minus everything but :data:`_KEPT_ENVIRONMENT`, one BLAS thread,
    its private folder as home and temp."""
    env = {name: os.environ[name] for name in _KEPT_ENVIRONMENT if name in os.environ}
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1",
               TMPDIR=str(private_dir), HOME=str(private_dir))
    return env


def _private_dir(drop_to_uid: int | None) -> Path:
    """A fresh 0700 folder for one sandbox process, owned by the uid it will run as."""
    directory = Path(tempfile.mkdtemp(prefix="argus-sandbox-"))
    if drop_to_uid is not None:
        os.chown(directory, drop_to_uid, drop_to_uid)
    return directory


WARM_POOL = _WarmPool()
atexit.register(WARM_POOL.clear)


class SandboxProcess:
    """One child process running one dynamic block's code; calls are serialised by a lock."""

    def __init__(self, code: dict[str, Any], block_type: str, limits: SandboxLimits | None = None) -> None:
        self._code = dict(code)
        self._block_type = block_type
        self._limits = limits or SandboxLimits()
        self._process: _Child | None = None
        self._lock = threading.Lock()
        text = json.dumps([self._code, self._limits.memory_mb, self._limits.isolation], sort_keys=True, default=str)
        self._pool_key = hashlib.sha256(text.encode()).hexdigest()

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        return self._process.pid if self._process and self._process.alive() else None

    def call(self, kwargs: dict[str, Any]) -> dict[str, Any] | list[dict[str, Any]]:
        """Run the block's function with ``kwargs`` in the child; its result (a dict, or a list of dicts)."""
        with self._lock:
            self._ensure_started()
            result = self._request(("run", kwargs), self._limits.timeout_s)
        if not isinstance(result, (dict, list)):
            raise self._error(f"returned {type(result).__name__}, expected a dict of outputs")
        return result

    def close(self) -> None:
        """Stop the child (idempotent)."""
        process, self._process = self._process, None
        if process is not None:
            _stop(process)

    def release(self) -> None:
        """Hand a healthy idle child to the warm pool for the next block with this code (else stop it)."""
        process, self._process = self._process, None
        if process is not None and process.alive() and not self._lock.locked():
            WARM_POOL.give(self._pool_key, process)
        elif process is not None:
            _stop(process)

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.release()
        except Exception:  # noqa: BLE001 - interpreter shutdown: nothing left to report to
            pass

    def _ensure_started(self) -> None:
        if self._process is not None and self._process.alive():
            return
        self.close()
        self._process = WARM_POOL.take(self._pool_key)
        if self._process is not None:
            return
        drop = UNPRIVILEGED_ID if self._limits.isolation == "kernel" and os.geteuid() == 0 else None
        private_dir = _private_dir(drop)
        config = {"memory_bytes": self._limits.memory_mb * 1024 * 1024, "isolation": self._limits.isolation,
                  "private_dir": str(private_dir), "protected": [str(p) for p in self._limits.protected_paths],
                  "drop_to_uid": drop}
        process = subprocess.Popen(
            [sys.executable, "-m", "argus.workflows.sandbox_worker", json.dumps(config)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=sandbox_environment(private_dir), close_fds=True,
            cwd=private_dir, start_new_session=True,
        )
        self._process = _Child(process, private_dir)
        logger.info("custom Python block %s: sandbox process %d started (isolation: %s)", self._block_type,
                    process.pid, self._limits.isolation)
        self._request(("init", self._code), self._limits.startup_timeout_s)

    def _request(self, message: tuple[str, Any], timeout_s: float) -> Any:
        assert self._process is not None
        process = self._process.process
        assert process.stdin is not None and process.stdout is not None
        payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            process.stdin.write(HEADER.pack(len(payload)) + payload)
            process.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._died() from None
        deadline = time.monotonic() + timeout_s
        header = self._read_exact(HEADER.size, deadline, timeout_s)
        (size,) = HEADER.unpack(header)
        if size > MAX_REPLY_BYTES:
            self.close()
            raise self._error(f"answer of {size} bytes is over the {MAX_REPLY_BYTES}-byte limit")
        body = self._read_exact(size, deadline, timeout_s)
        try:
            status, value = SafeUnpickler(io.BytesIO(body)).load()
        except pickle.UnpicklingError as error:
            raise self._error(str(error)) from None
        if status == "unconfined":
            self.close()
            raise SandboxUnavailableError(f"Custom Python block {self._block_type!r} did not run: its sandbox could "
                                          f"not be confined ({value}).")
        if status != "ok":
            raise self._error(f"raised {value}")
        return value

    def _read_exact(self, size: int, deadline: float, timeout_s: float) -> bytes:
        assert self._process is not None
        process = self._process.process
        assert process.stdout is not None
        fd = process.stdout.fileno()
        chunks: list[bytes] = []
        remaining = size
        while remaining:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(0.0, left))
            if not ready:
                self.close()
                raise self._error(f"timed out after {timeout_s:g} s (the sandbox process was stopped; "
                                  "raise ARGUS_CUSTOM_PYTHON_TIMEOUT if the code needs longer)")
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                raise self._died()
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    def _died(self) -> CustomPythonError:
        code = self._process.process.wait() if self._process is not None else None
        self.close()
        if code is not None and code < 0:
            return self._error(f"sandbox process was killed by signal {-code} (SIGKILL is what the kernel sends "
                               f"a process out of memory; the limit is {self._limits.memory_mb} MiB, "
                               "ARGUS_CUSTOM_PYTHON_MEMORY_MB)")
        return self._error(f"sandbox process exited with status {code} before answering")

    def _error(self, detail: str) -> CustomPythonError:
        return CustomPythonError(f"Custom Python block {self._block_type!r} {detail}")
