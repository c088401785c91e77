"""Memory and latency of an ordinary client while others send requests meant to hold the server.

Run: ``python benchmarks/request_share.py [--seconds 20]``

Starts ``argus serve`` with the zoo detector (defaults for every limit), measures an ordinary client's latency
(one 1280x720 photo per request, closed loop) on a quiet server, then again while one attacker loops on each of:

- ``2000 images``: requests of 2000 tiny PNGs (refused with 413 before decoding);
- ``8 large``: requests of 8 copies of an 8900x8900 PNG (79 M pixels each, 231 kB encoded; 413);
- ``4 x 2 large``: four clients each sending 2 of those images (within a request's share; decoded a batch at a
  time under ARGUS_DECODED_MEMORY_MB, others wait or get 503).

Prints, per scenario: the ordinary client's median and p90 latency and their ratio to the quiet run, the
server's peak resident memory, and what the attackers got back.
"""

from __future__ import annotations

import argparse
import base64
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))
from server_throughput import resident_mb, start_server, stop

MODEL = "yolov3-tiny-416"
SAMPLE = Path(__file__).parents[1] / "examples" / "sample.jpg"


def png_b64(width: int, height: int) -> str:
    canvas = np.full((height, width, 3), 90, np.uint8)
    canvas[: height // 2] = 200
    ok, data = cv2.imencode(".png", canvas)
    assert ok
    return base64.b64encode(data.tobytes()).decode()


def body(images: list[str]) -> dict[str, Any]:
    return {"model_id": MODEL, "image": [{"type": "base64", "value": value} for value in images]}


def ordinary_latencies(url: str, seconds: float) -> list[float]:
    payload = {"model_id": MODEL, "image": {"type": "base64", "value": base64.b64encode(SAMPLE.read_bytes()).decode()}}
    samples = []
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=url, timeout=120, trust_env=False) as client:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            assert client.post("/infer/object_detection", json=payload).status_code == 200
            samples.append(time.perf_counter() - started)
    return samples


def attack(url: str, payload: dict[str, Any], clients: int, stop_at: threading.Event, outcomes: Counter[int]) -> None:
    def loop() -> None:
        with httpx.Client(base_url=url, timeout=300, trust_env=False) as client:
            while not stop_at.is_set():
                outcomes[client.post("/infer/object_detection", json=payload).status_code] += 1

    threads = [threading.Thread(target=loop) for _ in range(clients)]
    for thread in threads:
        thread.start()
    stop_at.wait()
    for thread in threads:
        thread.join()


def peak_memory(pid: int, stop_at: threading.Event, peak: list[float]) -> None:
    while not stop_at.is_set():
        peak[0] = max(peak[0], resident_mb(pid))
        time.sleep(0.05)


def scenario(url: str, pid: int, seconds: float, attacker: Callable[[threading.Event, Counter[int]], None] | None
             ) -> tuple[list[float], float, Counter[int]]:
    stop_at = threading.Event()
    outcomes: Counter[int] = Counter()
    peak = [resident_mb(pid)]
    watchers = [threading.Thread(target=peak_memory, args=(pid, stop_at, peak))]
    if attacker is not None:
        watchers.append(threading.Thread(target=attacker, args=(stop_at, outcomes)))
    for thread in watchers:
        thread.start()
    time.sleep(0.5 if attacker else 0)
    latencies = ordinary_latencies(url, seconds)
    stop_at.set()
    for thread in watchers:
        thread.join()
    return latencies, peak[0], outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="ordinary client's time per scenario")
    args = parser.parse_args()
    large = png_b64(8900, 8900)
    attacks: dict[str, tuple[dict[str, Any], int]] = {
        "2000 images": (body([png_b64(2, 2)] * 2000), 1),
        "8 large": (body([large] * 8), 1),
        "4 x 2 large": (body([large] * 2), 4),
    }
    with tempfile.TemporaryDirectory() as home:
        process, url, _ = start_server(Path(home), MODEL)
        try:
            rows = [("quiet", *scenario(url, process.pid, args.seconds, None))]
            for name, (payload, clients) in attacks.items():
                def attacker(stop_at: threading.Event, outcomes: Counter[int], payload: dict[str, Any] = payload,
                             clients: int = clients) -> None:
                    attack(url, payload, clients, stop_at, outcomes)
                rows.append((name, *scenario(url, process.pid, args.seconds, attacker)))
        finally:
            stop(process)
    quiet = statistics.median(rows[0][1])
    table = Table(title=f"Ordinary client (1280x720 photo, {MODEL}) beside an attacker, {args.seconds:g} s each")
    for column in ("attacker", "ordinary n", "median ms", "p90 ms", "median / quiet", "server peak RSS MB",
                   "attacker answers"):
        table.add_column(column)
    for name, latencies, peak, outcomes in rows:
        p90 = statistics.quantiles(latencies, n=10)[-1]
        table.add_row(name, str(len(latencies)), f"{statistics.median(latencies) * 1e3:.1f}", f"{p90 * 1e3:.1f}",
                      f"{statistics.median(latencies) / quiet:.2f}", f"{peak:.0f}",
                      ", ".join(f"{status}: {count}" for status, count in sorted(outcomes.items())) or "-")
    Console().print(table)


if __name__ == "__main__":
    main()
