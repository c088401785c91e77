"""How ``argus serve`` runs uvicorn (:func:`uvicorn_options`), and ``--workers N``: N server processes on one
listening socket, each with its own models.

The parent binds the socket once and starts each worker as ``python -m argus.cli.workers FD`` with the
socket passed down and an environment of its own: the command line's settings as ``ARGUS_*`` variables and
``PROMETHEUS_MULTIPROC_DIR``, so ``/metrics`` answered by any worker adds up every worker's counters (the
parent's own environment is never changed). The parent restarts a worker that dies, and on SIGTERM or
SIGINT passes the signal on and waits up to the drain timeout before killing what is left.

uvicorn's own ``--workers`` supervisor would need the settings put into this process's environment for
its children to read, and knows nothing of Prometheus's multiprocess files; hence this small supervisor.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import Any

from argus.settings import Settings

logger = logging.getLogger(__name__)

RESTART_BACKOFF_S = 1.0


def _listen(settings: Settings) -> socket.socket:
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((settings.host, settings.port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _environment(settings: Settings, metrics_dir: Path, overrides: dict[str, str]) -> dict[str, str]:
    env = {**os.environ, **overrides}  # a copy: this process's environment stays as it was
    env.update({"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "ARGUS_WORKERS": str(settings.workers)})
    return env


def supervise(settings: Settings, overrides: dict[str, str], log_level: str, access_log: bool) -> None:
    """Run ``settings.workers`` worker processes until SIGTERM or SIGINT."""
    sock = _listen(settings)
    metrics_dir = Path(tempfile.mkdtemp(prefix="argus-metrics-"))
    env = _environment(settings, metrics_dir, overrides)
    command = [sys.executable, "-m", "argus.cli.workers", str(sock.fileno()), log_level, "1" if access_log else "0",
               str(os.getpid())]
    stopping = False

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(command, env=env, pass_fds=(sock.fileno(),))

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    workers = [start() for _ in range(settings.workers)]
    logger.info("serving on %s:%d with %d worker processes", settings.host, settings.port, settings.workers)
    try:
        while not stopping:
            time.sleep(0.2)
            for index, worker in enumerate(workers):
                if worker.poll() is not None and not stopping:
                    logger.warning("worker %d exited with status %s; starting another", worker.pid, worker.returncode)
                    _forget_metrics(metrics_dir, worker.pid)
                    time.sleep(RESTART_BACKOFF_S)
                    workers[index] = start()
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + settings.shutdown_timeout_s + 5
        for worker in workers:
            try:
                worker.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        sock.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _forget_metrics(metrics_dir: Path, pid: int) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid, str(metrics_dir))


def uvicorn_options(settings: Settings, log_level: str, access_log: bool) -> dict[str, Any]:
    """Where to listen and the connection bounds: head and keep-alive deadlines, connection cap, drain time."""
    from argus.server.protocol import HeadDeadlineProtocol

    return {"host": settings.host, "port": settings.port, "log_level": log_level, "access_log": access_log,
            "http": HeadDeadlineProtocol, "limit_concurrency": settings.max_connections,
            "timeout_keep_alive": settings.keep_alive_s, "timeout_graceful_shutdown": settings.shutdown_timeout_s}


def main(argv: list[str]) -> None:
    """A worker: serve the app built from this process's environment on the inherited socket."""
    import uvicorn

    from argus.cli.parent_watch import die_with
    from argus.server.app import create_app

    fd, log_level, access_log = int(argv[0]), argv[1], argv[2] == "1"
    die_with(int(argv[3]))  # a worker never outlives its supervisor, even one killed with SIGKILL
    settings = Settings()
    options = uvicorn_options(settings, log_level, access_log)
    options.pop("host"), options.pop("port")
    uvicorn.Server(uvicorn.Config(create_app(settings), fd=fd, **options)).run()


if __name__ == "__main__":
    main(sys.argv[1:])
