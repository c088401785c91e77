"""Local backend: each replica is an ``argus serve`` process on its own loopback port.

A replica gets a random private API key (only the router knows it), its model preloaded, and the environment
of :func:`~argus.endpoints.backends.environment.replica_environment` (an allowlist: the endpoint's own
variables, the server's model-serving settings, every capability off, endpoints off). Its output goes to
``<home>/endpoints/logs/<namespace>/<name>/<replica>.log``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped]

from argus.endpoints.backends.base import Backend, Probe, Replica, ReplicaSpec
from argus.endpoints.backends.environment import replica_environment
from argus.settings import Settings

logger = logging.getLogger(__name__)

KEPT_LOGS = 8
"""Log files kept per endpoint (older replicas' logs are removed)."""
FOLLOW_POLL_S = 0.5


def free_port() -> int:
    """A loopback port nobody listens on now (a replica that loses the race exits and is replaced)."""
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` distinct loopback ports nobody listens on now (held open together, so they differ)."""
    sockets = []
    try:
        for _ in range(count):
            probe = socket.socket()
            sockets.append(probe)
            probe.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for probe in sockets:
            probe.close()


def tail_lines(path: Path, count: int) -> list[str]:
    """The last ``count`` lines of a text file."""
    try:
        with open(path, errors="replace") as handle:
            return [line.rstrip("\n") for line in deque(handle, maxlen=count)]
    except OSError:
        return []


class LocalProcessBackend(Backend):
    """Replicas as child processes of this server."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.log_root = settings.home_dir / "endpoints" / "logs"
        self._replicas: dict[str, Replica] = {}
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(2.0), trust_env=False)

    async def start(self, spec: ReplicaSpec) -> Replica:
        """Launch ``argus serve`` for ``spec`` (from the event loop's thread: PDEATHSIG follows the spawning thread)."""
        replica_id = f"{spec.name}-{spec.generation}-{secrets.token_hex(3)}"
        port = free_port()
        key = secrets.token_urlsafe(24)
        directory = self.log_root / spec.namespace / spec.name
        directory.mkdir(parents=True, exist_ok=True)
        self._prune_logs(directory)
        log_path = directory / f"{replica_id}.log"
        command = [sys.executable, "-m", "argus.cli.replica", str(os.getpid()), "-v", "serve",
                   "--host", "127.0.0.1", "--port", str(port), "--preload", spec.model_id, "--log-level", "info"]
        # Spawned from the event loop's own thread on purpose (not a worker thread): PR_SET_PDEATHSIG fires when
        # the spawning *thread* exits. Popen returns in a few milliseconds.
        with open(log_path, "ab") as log_file:
            process = subprocess.Popen(
                command, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=replica_environment(self.settings, spec.env, model_id=spec.model_id, api_key=key), cwd=str(directory), start_new_session=True)
        replica = Replica(id=replica_id, spec=spec, url=f"http://127.0.0.1:{port}",
                          headers={"authorization": f"Bearer {key}"}, started_at=time.monotonic(),
                          handle=_Handle(process, log_path))
        self._replicas[replica_id] = replica
        logger.info("replica %s of %s/%s starting on port %d (pid %d)", replica_id, spec.namespace, spec.name,
                    port, process.pid)
        return replica

    async def probe(self, replica: Replica) -> Probe:
        """GET the health route; ``/readiness`` lists models that failed to preload, which no retry will fix."""
        try:
            response = await self._http.get(replica.url + replica.spec.health_route, headers=replica.headers)
        except httpx.HTTPError:
            return Probe(ready=False)
        try:
            errors = response.json().get("preload_errors") if "json" in response.headers.get("content-type", "") \
                else None
        except (ValueError, AttributeError):
            errors = None
        if errors:  # readiness answers 503 with them: no retry will fix a model that cannot load
            reasons = "; ".join(f"{model}: {message}" for model, message in dict(errors).items())
            return Probe(ready=False, fatal=f"the model failed to load ({reasons[:400]})")
        return Probe(ready=response.status_code == 200)

    def exit_reason(self, replica: Replica) -> str | None:
        """Exit status and the last log lines once the process has ended."""
        handle: _Handle = replica.handle
        code = handle.process.poll()
        if code is None:
            return None
        last = " | ".join(line for line in tail_lines(handle.log_path, 3) if line.strip())
        return f"replica exited with status {code}" + (f": {last[-400:]}" if last else "")

    async def stop(self, replica: Replica, grace_s: float) -> None:
        """SIGTERM (uvicorn finishes in-flight requests), then SIGKILL after ``grace_s``."""
        handle: _Handle = replica.handle
        process = handle.process
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + grace_s
            while process.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            if process.poll() is None:
                logger.warning("replica %s did not stop in %.0f s: killing it", replica.id, grace_s)
                process.kill()
                await asyncio.to_thread(process.wait)
        self._replicas.pop(replica.id, None)

    def cpu_percent(self, replica: Replica) -> float:
        """psutil's CPU percent since the previous call (0 on the first)."""
        handle: _Handle = replica.handle
        try:
            if handle.ps is None:
                handle.ps = psutil.Process(handle.process.pid)
            return float(handle.ps.cpu_percent(None))
        except psutil.Error:
            return 0.0

    def _directory(self, namespace: str, name: str) -> Path:
        return self.log_root / namespace / name

    def log_files(self, namespace: str, name: str) -> list[tuple[str, Path]]:
        """Log files of the endpoint's replicas, oldest first."""
        directory = self._directory(namespace, name)
        if not directory.is_dir():
            return []
        files = sorted(directory.glob("*.log"), key=lambda p: p.stat().st_mtime)
        return [(path.stem, path) for path in files]

    async def logs(self, namespace: str, name: str, tail: int) -> list[tuple[str, list[str]]]:
        """The last ``tail`` lines of each replica's log."""
        return await asyncio.to_thread(
            lambda: [(replica_id, tail_lines(path, tail)) for replica_id, path in self.log_files(namespace, name)])

    async def follow(self, namespace: str, name: str) -> AsyncIterator[str]:
        """Complete lines appended to any replica log (a replica started later included)."""
        offsets: dict[Path, int] = {path: path.stat().st_size for _, path in self.log_files(namespace, name)}
        while True:
            text = await asyncio.to_thread(_new_lines, self.log_files(namespace, name), offsets)
            yield text
            await asyncio.sleep(FOLLOW_POLL_S)

    def _prune_logs(self, directory: Path) -> None:
        live = {replica.handle.log_path for replica in self._replicas.values()}
        files = sorted(directory.glob("*.log"), key=lambda p: p.stat().st_mtime)
        for path in files[:max(0, len(files) - KEPT_LOGS + 1)]:
            if path not in live:
                path.unlink(missing_ok=True)

    def forget(self, namespace: str, name: str) -> None:
        """Remove the endpoint's logs."""
        shutil.rmtree(self._directory(namespace, name), ignore_errors=True)

    async def close(self) -> None:
        """Stop every replica at once (server shutdown), then the probe client."""
        await asyncio.gather(*(self.stop(replica, grace_s=5.0) for replica in list(self._replicas.values())))
        await self._http.aclose()


def _new_lines(files: list[tuple[str, Path]], offsets: dict[Path, int]) -> str:
    """Complete lines appended to ``files`` since ``offsets`` (advanced), prefixed with their replica."""
    chunks: list[str] = []
    for replica, path in files:
        start = offsets.get(path, 0)
        try:
            with open(path, "rb") as handle:
                handle.seek(start)
                data = handle.read()
        except OSError:
            continue
        complete = data[:data.rfind(b"\n") + 1]
        offsets[path] = start + len(complete)
        chunks.extend(f"[{replica}] {line}\n" for line in complete.decode(errors="replace").splitlines())
    return "".join(chunks)


class _Handle:
    """The process of a replica and where its output goes."""

    def __init__(self, process: subprocess.Popen[bytes], log_path: Path) -> None:
        self.process = process
        self.log_path = log_path
        self.ps: psutil.Process | None = None
