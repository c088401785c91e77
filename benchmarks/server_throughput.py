"""Server throughput, latency, memory and start time, next to bare ``session.run`` taken in the same run.

Run: ``python benchmarks/server_throughput.py [--models yolov3-tiny-416 yolov8-fall-640]
[--concurrency 1 4] [--requests 150] [--reference-url http://127.0.0.1:9101]
[--api-speed ~/.cache/argus/bench-venvs/inference-cli-1.8.3/bin/inference]``

For each model it starts ``argus serve`` (model preloaded) on a free loopback port and drives it
at each concurrency level with a load generator that sends what ``inference_sdk`` sends
(``/infer/object_detection`` with a base64 JPEG, alternating two photos: 1280x720 and 810x1080).
The generator is an asyncio + httpx loop by default; ``--api-speed`` uses the reference's own
``inference benchmark api-speed`` (package ``inference-cli``, in its own venv) instead, the client
the issue's reference figures were taken with. Right before each level it measures, in this
process, bare ``session.run`` on a preprocessed tensor and the whole ``model.infer`` from JPEG bytes
(decode + preprocess + run + decode), so the ratios compare figures taken under the same machine
load. Throughput targets are printed as ratios to bare ``session.run``: the reference server's own
ratio (its req/s over its bare ``session.run``, from the issue's table) times 1.5. With
``--reference-url`` the same load also runs against a Roboflow Inference server serving the same id.
It also reports the server's resident memory with the model loaded and its time to ready
(process start to ``/readiness`` 200, no preloading).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import httpx
import orjson
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
console = Console(width=220)

# The reference figures (Roboflow Inference 1.8.3, api-speed client, this kind of machine):
# clients -> (req/s, p99 ms), and the bare session.run rate of the same ONNX file on that machine.
REFERENCE = {
    "yolov3-tiny-416": {"bare": 51.7, 1: (24.3, 51.0), 4: (26.3, 841.0)},
    "yolov8-fall-640": {"bare": 10.6, 1: (7.6, 224.0), 4: (6.6, 760.0)},
}


@dataclass(frozen=True)
class LoadResult:
    """Outcome of one load level."""

    target: str
    concurrency: int
    requests: int
    errors: int
    seconds: float
    p50: float  # latency quantiles, ms
    p95: float
    p99: float

    @property
    def rps(self) -> float:
        return (self.requests - self.errors) / self.seconds


def quantile(samples: list[float], q: float) -> float:
    """The ``q`` quantile of latencies in seconds, in ms."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e3 if ordered else float("nan")


def photos() -> list[bytes]:
    """Two JPEGs of the sizes the reference was measured on (1280x720 and 810x1080)."""
    from photos import collage

    out = []
    for names, size in (((("astronaut.png", "chelsea.png", "motorcycle_left.png", "coffee.png")), (1280, 720)),
                        ((("coffee.png", "astronaut.png", "rocket.jpg", "chelsea.png")), (810, 1080))):
        ok, data = cv2.imencode(".jpg", collage(names, *size), [cv2.IMWRITE_JPEG_QUALITY, 90])
        assert ok
        out.append(data.tobytes())
    return out


async def drive(url: str, model_id: str, images: list[bytes], concurrency: int, total: int, label: str
                ) -> LoadResult:
    """``total`` requests from ``concurrency`` clients, each waiting for its answer before sending again."""
    bodies = [orjson.dumps({"model_id": model_id, "image": {"type": "base64", "value": base64.b64encode(i).decode()},
                            "confidence": 0.4, "iou_threshold": 0.5}) for i in images]
    headers = {"Content-Type": "application/json"}
    latencies: list[float] = []
    errors = 0
    counter = iter(range(total))

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal errors
        for n in counter:
            started = time.perf_counter()
            response = await http.post(f"{url}/infer/object_detection", content=bodies[n % len(bodies)],
                                       headers=headers)
            if response.status_code == 200:
                latencies.append(time.perf_counter() - started)
            else:
                errors += 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=120, limits=limits) as http:
        for body in bodies:  # warm-up, not counted
            await http.post(f"{url}/infer/object_detection", content=body, headers=headers)
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    p50, p95, p99 = (quantile(latencies, q) for q in (0.5, 0.95, 0.99))
    return LoadResult(label, concurrency, total, errors, seconds, p50, p95, p99)


def api_speed(binary: Path, url: str, model_id: str, photo_dir: Path, concurrency: int, total: int, label: str
              ) -> LoadResult:
    """The reference's own load generator, ``inference benchmark api-speed``; its JSON summary is parsed."""
    out = Path(tempfile.mkdtemp(prefix="argus-api-speed-")) / f"{label}-{concurrency}.json"
    per_client = max(1, total // concurrency)
    subprocess.run([str(binary), "benchmark", "api-speed", "-m", model_id, "-d", str(photo_dir), "-h", url,
                    "-c", str(concurrency), "-br", str(per_client), "-wr", "5", "-o", str(out)],
                   check=True, capture_output=True, timeout=900)
    results = json.loads(out.read_text())["benchmark_results"]
    made = results["inferences_made"]
    errors = round(made * results["error_rate"])
    return LoadResult(label, concurrency, made, errors, made / results["requests_per_second"],
                      *(results[f"p{q}_inference_latency_ms"] for q in (50, 95, 99)))


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(home: Path, preload: str | None, extra_env: dict[str, str] | None = None
                 ) -> tuple[subprocess.Popen[bytes], str, float]:
    """``argus serve`` on a free port (``extra_env`` added to its environment); returns the process, its URL and
    seconds from start to ready."""
    port = free_port()
    command = [sys.executable, "-m", "argus.cli.main", "serve", "--port", str(port), "--log-level", "warning"]
    if preload:
        command += ["--preload", preload]
    started = time.perf_counter()
    process = subprocess.Popen(command, env={**os.environ, "ARGUS_HOME": str(home), **(extra_env or {})})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readiness", timeout=2).status_code == 200:
                return process, url, time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.02)
    process.kill()
    raise RuntimeError("the server did not become ready")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Baseline:
    """In-process rates of one model: bare ``session.run`` and ``model.infer`` from JPEG bytes."""

    def __init__(self, model_id: str, home: Path, images: list[bytes]) -> None:
        from argus.core.images import load_image
        from argus.runtime.manager import ModelManager
        from argus.settings import Settings

        # ONNX Runtime's own defaults (a thread per core, spinning), whatever ARGUS_* tuning the server gets.
        defaults = Settings(home=home, intra_op_threads=0, intra_op_spinning=True, model_instances=1)
        self.model = ModelManager(defaults).get(model_id)
        self.images = images
        self.tensors = [self.model.preprocess([load_image(i)])[0] for i in images]

    def rates(self, seconds: float) -> BaselineRates:
        """Bare ``session.run`` and ``model.infer(JPEG)``, alternated for ``seconds``: rates and CPU per image."""
        session, name = self.model.session.session, self.model.session.input.name
        wall = {"bare": 0.0, "full": 0.0}
        cpu = {"bare": 0.0, "full": 0.0}
        count = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline or count < 6:
            n = count % 2
            started, started_cpu = time.perf_counter(), time.process_time()
            session.run(None, {name: self.tensors[n]})
            middle, middle_cpu = time.perf_counter(), time.process_time()
            self.model.infer(self.images[n])
            wall["bare"] += middle - started
            wall["full"] += time.perf_counter() - middle
            cpu["bare"] += middle_cpu - started_cpu
            cpu["full"] += time.process_time() - middle_cpu
            count += 1
        return BaselineRates(count / wall["bare"], count / wall["full"], cpu["bare"] / count * 1e3,
                             cpu["full"] / count * 1e3)


@dataclass(frozen=True)
class BaselineRates:
    """In-process images/s and CPU ms per image of bare ``session.run`` and of ``model.infer(JPEG)``."""

    bare: float
    full: float
    bare_cpu_ms: float
    full_cpu_ms: float


def run_model(model_id: str, args: argparse.Namespace, images: list[bytes], photo_dir: Path) -> None:
    home = Path(tempfile.mkdtemp(prefix="argus-bench-"))
    baseline = Baseline(model_id, home, images)  # also puts the model in this home's store
    cold_process, _, ready_seconds = start_server(home, preload=None)
    stop(cold_process)
    process, url, _ = start_server(home, preload=model_id)
    rows = []
    try:
        for concurrency in args.concurrency:
            rates = baseline.rates(args.baseline_seconds)
            targets = [("argus", url)] + ([("reference", args.reference_url)] if args.reference_url else [])
            for label, target in targets:
                cpu_before = cpu_seconds(process.pid)
                if args.api_speed:
                    result = api_speed(args.api_speed, target, baseline.model.model_id, photo_dir, concurrency,
                                       args.requests, label)
                else:
                    result = asyncio.run(drive(target, model_id, images, concurrency, args.requests, label))
                served = result.requests + (5 if args.api_speed else 2)  # the warm-up requests count too
                cpu_ms = (cpu_seconds(process.pid) - cpu_before) / served * 1e3 if label == "argus" else float("nan")
                rows.append((result, rates, cpu_ms))
        memory = resident_mb(process.pid)
    finally:
        stop(process)
    print_table(model_id, rows, memory, ready_seconds, args)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(timeout=30)


def print_table(model_id: str, rows: list[tuple[LoadResult, BaselineRates, float]], memory: float, ready: float,
                args: argparse.Namespace) -> None:
    client = "api-speed (inference-cli)" if args.api_speed else "asyncio+httpx"
    table = Table(title=f"{model_id} — client {client}; server RSS {memory:.0f} MB with the model loaded; "
                        f"ready in {ready:.2f} s (no preload)")
    for column in ("server", "clients", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors", "bare run/s",
                   "run+decode/s", "vs bare", "vs run+decode", "target vs bare", "ref p99 ms",
                   "server CPU ms/req", "run CPU ms", "run+decode CPU ms"):
        table.add_column(column, justify="right")
    reference = REFERENCE.get(model_id, {})
    for result, rates, cpu_ms in rows:
        published = reference.get(result.concurrency)
        target = f"{1.5 * published[0] / reference['bare']:.2f}" if published else "-"
        table.add_row(result.target, str(result.concurrency), f"{result.rps:.1f}", f"{result.p50:.0f}",
                      f"{result.p95:.0f}", f"{result.p99:.0f}", str(result.errors),
                      f"{rates.bare:.1f}", f"{rates.full:.1f}", f"{result.rps / rates.bare:.2f}",
                      f"{result.rps / rates.full:.2f}", target, f"{published[1]:.0f}" if published else "-",
                      f"{cpu_ms:.1f}", f"{rates.bare_cpu_ms:.1f}", f"{rates.full_cpu_ms:.1f}")
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["yolov3-tiny-416", "yolov8-fall-640"])
    parser.add_argument("--concurrency", nargs="+", type=int, default=[1, 4])
    parser.add_argument("--requests", type=int, default=150, help="requests per concurrency level")
    parser.add_argument("--baseline-seconds", type=float, default=4.0, help="in-process baseline time per level")
    parser.add_argument("--reference-url", default=None)
    parser.add_argument("--api-speed", type=Path, default=None,
                        help="path of inference-cli's `inference` command, to use the reference's load generator")
    args = parser.parse_args()
    images = photos()
    photo_dir = Path(tempfile.mkdtemp(prefix="argus-bench-photos-"))
    for index, data in enumerate(images):
        (photo_dir / f"photo{index}.jpg").write_bytes(data)
    for model_id in args.models:
        run_model(model_id, args, images, photo_dir)


if __name__ == "__main__":
    main()
