"""Server throughput and latency under concurrent clients, next to in-process and bare-model baselines.

Run: ``python benchmarks/server_throughput.py [--models yolov3-tiny-416 yolov8-fall-640]
[--concurrency 1 4 16] [--requests 200] [--reference-url http://127.0.0.1:9101]``

For each model it starts ``argus serve`` on a free loopback port, drives it with an asyncio + httpx
load generator that sends what ``inference_sdk`` sends (``/infer/object_detection`` with a base64
JPEG, alternating two photos: 1280x720 and 810x1080), and prints requests/s and p50/p95/p99
latency per concurrency level. In the same run it measures, in this process, bare
``session.run`` on a preprocessed tensor and ``model.infer`` from JPEG bytes, and prints the
server's throughput as a ratio of both. With ``--reference-url`` the same load runs against a
Roboflow Inference server too (it must serve the same model id).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import httpx
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
console = Console()


@dataclass(frozen=True)
class LoadResult:
    """Outcome of one load level."""

    target: str
    concurrency: int
    requests: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def rps(self) -> float:
        return (self.requests - self.errors) / self.seconds

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies)
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
    payloads = [{"model_id": model_id, "image": {"type": "base64", "value": base64.b64encode(i).decode()},
                 "confidence": 0.4, "iou_threshold": 0.5} for i in images]
    latencies: list[float] = []
    errors = 0
    counter = iter(range(total))

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal errors
        for n in counter:
            started = time.perf_counter()
            response = await http.post(f"{url}/infer/object_detection", json=payloads[n % len(payloads)])
            if response.status_code == 200:
                latencies.append(time.perf_counter() - started)
            else:
                errors += 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=120, limits=limits) as http:
        for payload in payloads:  # warm-up, not counted
            await http.post(f"{url}/infer/object_detection", json=payload)
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return LoadResult(label, concurrency, total, errors, seconds, latencies)


def start_server(model_id: str, home: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``argus serve`` with the model preloaded, on a free port; returns the process and its URL."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "ARGUS_HOME": str(home)}
    process = subprocess.Popen([sys.executable, "-m", "argus.cli.main", "serve", "--port", str(port), "--preload",
                                model_id, "--log-level", "warning"], env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readiness", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("the server did not become ready")


def in_process_rates(model_id: str, home: Path, images: list[bytes], repeats: int) -> tuple[float, float]:
    """Images/s of bare ``session.run`` (same tensors) and of ``model.infer`` on the JPEG bytes."""
    from argus.core.images import load_image
    from argus.runtime.manager import ModelManager
    from argus.settings import Settings

    model = ModelManager(Settings(home=home)).get(model_id)
    tensors = [model.preprocess([load_image(i)])[0] for i in images]
    session, name = model.session.session, model.session.input.name

    def rate(function) -> float:  # type: ignore[no-untyped-def]
        for n in range(3):
            function(n)
        started = time.perf_counter()
        for n in range(repeats):
            function(n)
        return repeats / (time.perf_counter() - started)

    bare = rate(lambda n: session.run(None, {name: tensors[n % 2]}))
    full = rate(lambda n: model.infer(images[n % 2]))
    return bare, full


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["yolov3-tiny-416"])
    parser.add_argument("--concurrency", nargs="+", type=int, default=[1, 4, 16])
    parser.add_argument("--requests", type=int, default=200, help="requests per concurrency level")
    parser.add_argument("--reference-url", default=None)
    args = parser.parse_args()
    images = photos()
    home = Path(tempfile.mkdtemp(prefix="argus-bench-"))
    for model_id in args.models:
        bare, full = in_process_rates(model_id, home, images, repeats=max(20, args.requests // 4))
        process, url = start_server(model_id, home)
        try:
            results = [asyncio.run(drive(url, model_id, images, c, args.requests, "argus"))
                       for c in args.concurrency]
            if args.reference_url:
                results += [asyncio.run(drive(args.reference_url, model_id, images, c, args.requests, "reference"))
                            for c in args.concurrency]
        finally:
            process.terminate()
            process.wait(timeout=30)
        table = Table(title=f"{model_id}: bare session.run {bare:.1f}/s, in-process model.infer(JPEG) {full:.1f}/s")
        for column in ("server", "clients", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors",
                       "vs session.run", "vs model.infer"):
            table.add_column(column, justify="right")
        reference = {r.concurrency: r for r in results if r.target == "reference"}
        for r in results:
            row = [r.target, str(r.concurrency), f"{r.rps:.1f}", f"{r.quantile(0.5):.1f}", f"{r.quantile(0.95):.1f}",
                   f"{r.quantile(0.99):.1f}", str(r.errors), f"{r.rps / bare:.2f}", f"{r.rps / full:.2f}"]
            table.add_row(*row)
        console.print(table)
        for c, ref in reference.items():
            ours = next(r for r in results if r.target == "argus" and r.concurrency == c)
            console.print(f"clients {c}: argus/reference throughput {ours.rps / ref.rps:.2f}x, "
                          f"p99 ratio {ours.quantile(0.99) / ref.quantile(0.99):.2f}")


if __name__ == "__main__":
    main()
