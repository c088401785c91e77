"""A single-node Ray cluster started by Argus (``ARGUS_RAY_START=true``, and the tests): loopback only, every port
free, token authentication on, torn down by PID.

``ray start --head --block`` runs as a child in its own session, through ``argus.cli.ray_start``, which makes
it end with its parent (``PR_SET_PDEATHSIG``; Ray's own fate sharing then takes its children); every Ray process
(GCS, raylet, dashboard, Serve's controller, proxy and replicas) descends from it. :meth:`LocalRayCluster.stop` signals that whole tree by
PID and never runs ``ray stop``, which kills every Ray process on the machine by name, another cluster's included.
The traps this avoids are in ``shared/specs/ray-serve-backend.md``: Ray listens on every interface unless
``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, three of its default ports collide between clusters, and ``gcs_server``
ignores SIGTERM for over ten seconds.

Example:
    >>> cluster = LocalRayCluster(num_cpus=2)  # doctest: +SKIP
    >>> connection = cluster.start()  # doctest: +SKIP
    >>> cluster.stop()  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped]

from argus.endpoints.backends.local import free_ports

logger = logging.getLogger(__name__)

PORT_FLAGS = ("--port", "--node-manager-port", "--object-manager-port", "--ray-client-server-port",
              "--dashboard-port", "--dashboard-agent-listen-port", "--dashboard-agent-grpc-port",
              "--runtime-env-agent-port", "--metrics-export-port")
"""Every port flag of ``ray start``: each gets a free port, so two clusters on one machine do not collide."""
PORT_VARIABLES = ("AUTOSCALER_METRIC_PORT", "DASHBOARD_METRIC_PORT")
"""Two more fixed ports (44217 and 44227) that only the environment sets."""


@dataclass(frozen=True)
class RayConnection:
    """Where the Argus server reaches a cluster: the dashboard's REST API, the Serve proxy, and the token."""

    dashboard_url: str
    serve_url: str
    token: str | None = None


class LocalRayCluster:
    """One head node on this machine, owned by the process that started it."""

    def __init__(self, root: Path | None = None, *, num_cpus: float = 2, object_store_mb: int = 128) -> None:
        self._owns_root = root is None
        # A short path by default: Ray's Unix sockets live under it, and socket paths are limited to 107 bytes.
        self.root = root or Path(tempfile.mkdtemp(prefix="argus-ray-"))
        self.num_cpus = num_cpus
        self.object_store_mb = object_store_mb
        self.process: subprocess.Popen[bytes] | None = None
        self._known: dict[int, psutil.Process] = {}

    @property
    def log_path(self) -> Path:
        """Where ``ray start`` writes its output."""
        return self.root / "ray-start.log"

    def start(self, timeout_s: float = 90.0) -> RayConnection:
        """Start the head node and wait until its dashboard answers; raises ``RuntimeError`` with the log if not."""
        return self.wait_ready(self.launch(), timeout_s)

    def launch(self) -> RayConnection:
        """Start ``ray start`` (returns at once; call it from the thread that lives as long as the cluster should:
        ``PR_SET_PDEATHSIG`` follows the spawning thread)."""
        self.root.mkdir(parents=True, exist_ok=True)
        token = secrets.token_hex(32)
        token_path = self.root / "auth_token"
        descriptor = os.open(token_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(token)
        ports = free_ports(len(PORT_FLAGS) + len(PORT_VARIABLES) + 1)
        dashboard_port, serve_port = ports[PORT_FLAGS.index("--dashboard-port")], ports[-1]
        variables = dict(zip(PORT_VARIABLES, (str(p) for p in ports[len(PORT_FLAGS):-1]), strict=True))
        command = [sys.executable, "-m", "argus.cli.ray_start", str(os.getpid()), "start", "--head", "--block",
                   "--node-ip-address", "127.0.0.1", "--dashboard-host", "127.0.0.1", "--include-dashboard", "true",
                   "--num-cpus", f"{self.num_cpus:g}", "--object-store-memory", str(self.object_store_mb << 20),
                   "--temp-dir", str(self.root / "session"), "--disable-usage-stats"]
        for flag, port in zip(PORT_FLAGS, ports, strict=False):
            command += [flag, str(port)]
        # Replicas inherit this environment: none of the server's own ARGUS_* settings (they get theirs from the
        # application's arguments).
        env = {**{k: v for k, v in os.environ.items() if not k.upper().startswith("ARGUS_")}, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
               "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token_path), "RAY_USAGE_STATS_ENABLED": "0",
               **variables}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            env=env, start_new_session=True)
        return RayConnection(f"http://127.0.0.1:{dashboard_port}", f"http://127.0.0.1:{serve_port}", token)

    def wait_ready(self, connection: RayConnection, timeout_s: float = 90.0) -> RayConnection:
        """Wait until the dashboard answers (blocking); stops the cluster and raises ``RuntimeError`` if it does not."""
        assert self.process is not None, "launch() first"
        deadline = time.monotonic() + timeout_s
        with httpx.Client(timeout=2.0, trust_env=False,
                          headers={"authorization": f"Bearer {connection.token}"}) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    break
                self._remember_tree()
                try:
                    if client.get(connection.dashboard_url + "/api/serve/applications/").status_code == 200:
                        logger.info("local Ray cluster ready (dashboard %s, pid %d)", connection.dashboard_url,
                                    self.process.pid)
                        return connection
                except httpx.HTTPError:
                    pass
                time.sleep(0.5)
        self.stop()
        tail = self.log_path.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"the local Ray cluster did not start in {timeout_s:g} s: {tail}")

    def _remember_tree(self) -> None:
        """Note every process of the cluster now (a process that later loses its parent is still stopped)."""
        if self.process is None:
            return
        try:
            root = psutil.Process(self.process.pid)
            for process in [root, *root.children(recursive=True)]:
                self._known.setdefault(process.pid, process)
        except psutil.Error:
            pass

    def stop(self, grace_s: float = 5.0) -> None:
        """SIGTERM every process of the cluster, then SIGKILL what is left after ``grace_s``."""
        if self.process is None:
            return
        self._remember_tree()
        alive = [p for p in self._known.values() if _running(p)]
        for process in alive:
            _signal(process, signal.SIGTERM)
        _, alive = psutil.wait_procs(alive, timeout=grace_s)
        for process in alive:
            _signal(process, signal.SIGKILL)
        psutil.wait_procs(alive, timeout=5.0)
        self.process.poll()
        self._known.clear()
        self.process = None
        if self._owns_root:
            shutil.rmtree(self.root, ignore_errors=True)


def _running(process: psutil.Process) -> bool:
    try:
        return bool(process.is_running()) and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _signal(process: psutil.Process, number: int) -> None:
    try:
        process.send_signal(number)
    except psutil.Error:
        pass
