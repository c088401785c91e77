"""Endpoints: cold start from zero, scale-up reaction to a step load, and the router's added latency.

Run: ``python benchmarks/endpoints.py [--backend local ray] [--cold-starts 5] [--steps 3] [--requests 300]``

With ``--backend local ray`` (the ``ray`` extra installed) every measurement runs for both backends in one run:
local replica processes, then a Ray Serve cluster the server starts itself (``ARGUS_RAY_START``, 2 CPUs,
0.5 CPU per replica). On Ray "straight to the replica" means straight to the endpoint's route on Ray's Serve
proxy, so the router overhead is what Argus's router adds in front of Ray's.

It starts ``argus serve`` on a free loopback port over a scratch ARGUS_HOME whose store holds the zoo
detector (``yolov3-tiny-416``, materialised from the zoo cache), with default endpoint settings, and:

1. **Cold start** (target < 3 s): an endpoint with minReplica 0 is scaled to zero, then one request with
   ``X-Scale-Up-Timeout`` is timed from send to answer (a new ``argus serve`` replica starts, loads the
   model, answers). Baseline, same run: the same request to the warm endpoint.
2. **Scale-up reaction**: an endpoint with one ready replica (max 4, pendingRequests 1.5) gets a step from
   one client to eight; timed from the step until the controller raises the target, and until a second
   replica is ready.
3. **Router overhead** (target < 2 ms p50): the same detector request sent, alternately, through the
   router and straight to the replica (its port and private key read from the process); the table shows
   both latencies and the difference of medians, plus the median per-pair difference.
4. **Replica memory**: USS of the one replica of endpoint ``hot`` (on Ray, also the cluster's own processes).
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import httpx
import psutil
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))
console = Console(width=160)

from _stats import Timing, print_table

DETECTOR = "yolov3-tiny-416"
NS = "bench"
HOLD = {"X-Scale-Up-Timeout": "120"}


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def timing(name: str, samples: list[float]) -> Timing:
    """Median and p10/p90 of samples in seconds."""
    if len(samples) < 2:
        return Timing(name, samples[0], samples[0], samples[0], len(samples))
    deciles = statistics.quantiles(samples, n=10)
    return Timing(name, statistics.median(samples), deciles[0], deciles[-1], len(samples))


def detector_body() -> bytes:
    """A detector request with a 640x360 JPEG of the collage."""
    import orjson

    from photos import collage

    ok, jpeg = cv2.imencode(".jpg", collage(width=640, height=360), [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return orjson.dumps({"model_id": DETECTOR, "image": {"type": "base64", "value": base64.b64encode(jpeg).decode()},
                         "confidence": 0.4})


class Server:
    """``argus serve`` over a scratch home with the zoo detector."""

    def __init__(self, backend: str = "local") -> None:
        from argus.settings import Settings
        from argus.store.zoo import Zoo

        self.backend = backend
        self.home = Path(tempfile.mkdtemp(prefix="argus-bench-endpoints-"))
        settings = Settings(home=self.home)
        zoo = Zoo(settings)
        entry = zoo.entry_for(DETECTOR)
        assert entry is not None
        zoo.materialise(entry)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("ARGUS_")}
        env.update({"ARGUS_HOME": str(self.home), "NO_PROXY": "127.0.0.1"})
        if backend == "ray":
            env.update({"ARGUS_ENDPOINT_BACKEND": "ray", "ARGUS_RAY_START": "true", "ARGUS_RAY_NUM_CPUS": "2",
                        "ARGUS_RAY_REPLICA_CPUS": "0.5"})
        self.log = open(self.home / "server.log", "wb")
        self.process = subprocess.Popen([sys.executable, "-m", "argus.cli.main", "serve", "--port", str(self.port),
                                         "--log-level", "warning"], stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self.http = httpx.Client(base_url=self.url, timeout=180, trust_env=False)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if self.http.get("/healthz").status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("the server did not start")

    def status(self, name: str) -> dict[str, Any]:
        return self.http.get(f"/v2/endpoint/{NS}/{name}").json()["status"]

    def wait(self, name: str, check: Any, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            current = self.status(name)
            if check(current):
                return current
            time.sleep(0.02)
        raise RuntimeError(f"{name}: timed out, last status {current}")

    def create(self, name: str, scaling: dict[str, Any]) -> None:
        body = {"name": name, "type": "public", "model": {"repository": DETECTOR}, "compute": {"scaling": scaling}}
        response = self.http.post(f"/v2/endpoint/{NS}", json=body)
        assert response.status_code == 201, response.text

    def ray_dashboard(self) -> httpx.Client:
        """A client on the dashboard of the cluster the server started (port and token from its command line)."""
        for child in psutil.Process(self.process.pid).children(recursive=True):
            command = child.cmdline()
            if "argus.cli.ray_start" in command:
                port = command[command.index("--dashboard-port") + 1]
                token = (Path(command[command.index("--temp-dir") + 1]).parent / "auth_token").read_text()
                return httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"authorization": f"Bearer {token}"},
                                    trust_env=False, timeout=30)
        raise RuntimeError("no Ray cluster")

    def ray_replicas(self, name: str) -> list[dict[str, Any]]:
        with self.ray_dashboard() as dashboard:
            app = dashboard.get("/api/serve/applications/").json()["applications"][f"argus:{NS}:{name}"]
        return list(app["deployments"]["ArgusReplica"]["replicas"])

    def replica_pid(self, name: str) -> int:
        if self.backend == "ray":
            return int(self.ray_replicas(name)[0]["pid"])
        return self._local_replica()[2]

    def replica(self, name: str = "hot") -> tuple[str, str]:
        """URL and private key of the one replica (as the router knows them)."""
        if self.backend == "ray":
            import hashlib
            import hmac

            with self.ray_dashboard() as dashboard:
                port = dashboard.get("/api/serve/applications/").json()["http_options"]["port"]
            sealing = (self.home / "ray" / "replica.key").read_bytes().strip()
            private = hmac.new(sealing, f"{NS}/{name}".encode(), hashlib.sha256).hexdigest()
            return f"http://127.0.0.1:{port}/argus/{NS}/{name}", private
        url, key, _ = self._local_replica()
        return url, key

    def _local_replica(self) -> tuple[str, str, int]:
        for child in psutil.Process(self.process.pid).children():
            command = child.cmdline()
            if "argus.cli.replica" in " ".join(command):
                return (f"http://127.0.0.1:{command[command.index('--port') + 1]}", child.environ()["ARGUS_API_KEYS"],
                        child.pid)
        raise RuntimeError("no replica")

    def stop(self) -> None:
        self.http.close()
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)
        self.log.close()
        shutil.rmtree(self.home, ignore_errors=True)


def cold_starts(server: Server, body: bytes, repeats: int) -> list[Timing]:
    server.create("cold", {"minReplica": 0, "maxReplica": 1, "scaleToZeroTimeout": 60})
    headers = {"content-type": "application/json", **HOLD}
    cold, warm = [], []
    for _ in range(repeats):
        server.http.post(f"/v2/endpoint/{NS}/cold/scale-to-zero")
        server.wait("cold", lambda s: s["state"] == "scaledToZero")
        time.sleep(0.5)  # the stopped replica's memory is returned
        if server.backend == "ray":  # and Ray has removed the application
            with server.ray_dashboard() as dashboard:
                while f"argus:{NS}:cold" in dashboard.get("/api/serve/applications/").json()["applications"]:
                    time.sleep(0.1)
        started = time.perf_counter()
        response = server.http.post(f"/endpoints/{NS}/cold/infer/object_detection", content=body, headers=headers)
        cold.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
        for _ in range(5):
            started = time.perf_counter()
            server.http.post(f"/endpoints/{NS}/cold/infer/object_detection", content=body, headers=headers)
            warm.append(time.perf_counter() - started)
    server.http.delete(f"/v2/endpoint/{NS}/cold")
    return [timing("warm request (baseline)", warm), timing("cold start from zero", cold)]


def scale_ups(server: Server, body: bytes, repeats: int) -> list[Timing]:
    decided, ready = [], []
    for n in range(repeats):
        name = f"step{n}"
        server.create(name, {"minReplica": 1, "maxReplica": 4})
        server.wait(name, lambda s: s["readyReplica"] == 1)
        stop = threading.Event()

        def client(name: str = name, stop: threading.Event = stop) -> None:
            with httpx.Client(timeout=120, trust_env=False) as http:
                while not stop.is_set():
                    http.post(f"{server.url}/endpoints/{NS}/{name}/infer/object_detection", content=body,
                              headers={"content-type": "application/json"})

        threads = [threading.Thread(target=client, daemon=True) for _ in range(8)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        server.wait(name, lambda s: s["targetReplica"] > 1)
        decided.append(time.perf_counter() - started)
        server.wait(name, lambda s: s["readyReplica"] > 1)
        ready.append(time.perf_counter() - started)
        stop.set()
        for thread in threads:
            thread.join()
        server.http.delete(f"/v2/endpoint/{NS}/{name}")
        time.sleep(1.0)
    return [timing("step → target raised", decided), timing("step → 2nd replica ready", ready)]


def router_overhead(server: Server, body: bytes | None, route: str, requests: int) -> tuple[list[Timing], float]:
    """Alternate the same request through the router and straight to the replica of endpoint ``hot``."""
    replica_url, key = server.replica()
    through, direct = f"{server.url}/endpoints/{NS}/hot/{route}", f"{replica_url}/{route}"
    routed, straight, pairs = [], [], []
    with httpx.Client(timeout=60, trust_env=False) as http:
        def once(url: str, headers: dict[str, str]) -> float:
            started = time.perf_counter()
            response = http.request("POST" if body else "GET", url, content=body, headers=headers)
            elapsed = time.perf_counter() - started
            assert response.status_code == 200, response.text
            return elapsed

        plain = {"content-type": "application/json"}
        keyed = {**plain, "authorization": f"Bearer {key}"}
        for _ in range(10):
            once(through, plain)
            once(direct, keyed)
        for _ in range(requests):
            a, b = once(through, plain), once(direct, keyed)
            routed.append(a)
            straight.append(b)
            pairs.append(a - b)
    what = "detector request" if body else f"GET /{route}"
    return [timing(f"{what}: straight to the replica (baseline)", straight),
            timing(f"{what}: through the router", routed)], statistics.median(pairs)


def memory(server: Server) -> list[tuple[str, float]]:
    """USS in MB of the replica of ``hot`` and, on Ray, of the cluster's other processes."""
    replica = psutil.Process(server.replica_pid("hot"))
    rows = [("replica USS MB", replica.memory_full_info().uss / 2**20)]
    if server.backend == "ray":
        cluster = [p for p in psutil.Process(server.process.pid).children(recursive=True) if p.pid != replica.pid]
        rows.append(("Ray cluster without replicas, USS MB", sum(_uss(p) for p in cluster) / 2**20))
        for process in cluster:
            _cpu_percent(process)
        time.sleep(5.0)
        rows.append(("Ray cluster idle, CPU % of one core", sum(_cpu_percent(p) for p in cluster)))
    return rows


def _cpu_percent(process: psutil.Process) -> float:
    try:
        return float(process.cpu_percent(None))
    except psutil.Error:
        return 0.0


def _uss(process: psutil.Process) -> float:
    try:
        return float(process.memory_full_info().uss)
    except psutil.Error:
        return 0.0


def run_backend(backend: str, args: argparse.Namespace, body: bytes) -> dict[str, float]:
    """Every measurement on one backend; returns the medians the summary compares."""
    console.rule(f"backend: {backend}")
    server = Server(backend)
    summary: dict[str, float] = {}
    try:
        cold = cold_starts(server, body, args.cold_starts)
        print_table(f"({backend}) Cold start from zero, {DETECTOR} (target < 3 s local, < 5 s Ray)", cold,
                    baseline=cold[0])
        summary["cold start s"] = cold[1].median
        steps = scale_ups(server, body, args.steps)
        print_table(f"({backend}) Scale-up reaction to a step from 1 to 8 clients (upscale window 3 s, reconcile "
                    "0.5 s)", steps, baseline=steps[0])
        summary["step → 2nd replica ready s"] = steps[1].median
        server.create("hot", {"minReplica": 1, "maxReplica": 1})
        server.wait("hot", lambda s: s["readyReplica"] == 1)
        table = Table(title=f"({backend}) Router added latency per request (target < 2 ms at p50)")
        for column in ("request", "difference of medians ms", "median per-pair difference ms"):
            table.add_column(column, justify="right")
        for label, request_body, route in ((f"{DETECTOR}, 640x360 JPEG", body, "infer/object_detection"),
                                           ("GET /info (fixed cost)", None, "info")):
            overhead, pair_median = router_overhead(server, request_body, route, args.requests)
            print_table(f"({backend}) Router overhead, {label}, sequential requests", overhead, baseline=overhead[0])
            table.add_row(label, f"{(overhead[1].median - overhead[0].median) * 1e3:.2f}", f"{pair_median * 1e3:.2f}")
            summary[f"router overhead ms, {label}"] = pair_median * 1e3
            summary[f"through the router ms, {label}"] = overhead[1].median * 1e3
        console.print(table)
        for label, value in memory(server):
            summary[label] = value
    finally:
        server.stop()
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", nargs="+", choices=("local", "ray"), default=["local"])
    parser.add_argument("--cold-starts", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    body = detector_body()
    results = {backend: run_backend(backend, args, body) for backend in args.backend}
    table = Table(title=f"Summary (medians), load average {os.getloadavg()[0]:.1f}")
    table.add_column("measure")
    for backend in results:
        table.add_column(backend, justify="right")
    if len(results) == 2:
        table.add_column("ray / local", justify="right")
    for measure in dict.fromkeys(m for summary in results.values() for m in summary):
        values = [results[b].get(measure) for b in results]
        row = [measure, *(f"{v:.2f}" if v is not None else "—" for v in values)]
        if len(results) == 2:
            first, second = values
            row.append(f"{second / first:.2f}×" if first and second is not None else "—")
        table.add_row(*row)
    console.print(table)


if __name__ == "__main__":
    main()
