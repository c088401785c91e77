"""Server CPU and latency per request for each way of sending an image to the v1 routes.

Run: ``python benchmarks/input_paths.py [--requests 100] [--rounds 3]``

One server (``argus serve`` with the zoo detector), one closed-loop client, the sample photo (1280x720 JPEG).
Paths, interleaved over rounds so machine noise hits them alike:

- ``json base64``: ``/infer/object_detection`` with the image base64 in JSON (what ``inference_sdk`` sends);
- ``multipart``: the same route, the image as a ``file`` part and the fields as form fields;
- ``octet-stream``: the same route, the image's bytes as the body, the fields in the query string;
- ``legacy raw``: ``POST /{model}/{version}`` with the image's bytes.

Prints the median and p90 latency and the server's CPU seconds per request (from /proc), each path's ratio to
JSON base64, and the bare ``session.run`` time of the model measured in the same process for scale.
"""

from __future__ import annotations

import argparse
import base64
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))
from server_throughput import cpu_seconds, start_server, stop

MODEL = "yolov3-tiny-416"
STORE_ID = "coco-yolov3-tiny/1"
PHOTO = (Path(__file__).parents[1] / "examples" / "sample.jpg").read_bytes()


def paths(client: httpx.Client) -> dict[str, Callable[[], httpx.Response]]:
    encoded = base64.b64encode(PHOTO).decode()
    return {
        "json base64": lambda: client.post("/infer/object_detection", json={
            "model_id": MODEL, "image": {"type": "base64", "value": encoded}}),
        "multipart": lambda: client.post("/infer/object_detection", data={"model_id": MODEL},
                                         files={"file": ("sample.jpg", PHOTO, "image/jpeg")}),
        "octet-stream": lambda: client.post("/infer/object_detection", params={"model_id": MODEL}, content=PHOTO,
                                            headers={"Content-Type": "application/octet-stream"}),
        "legacy raw": lambda: client.post(f"/{STORE_ID}", content=PHOTO, headers={"Content-Type": "image/jpeg"}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100, help="requests per path per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    latencies: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as home:
        process, url, _ = start_server(Path(home), MODEL)
        try:
            with httpx.Client(base_url=url, timeout=60, trust_env=False) as client:
                calls = paths(client)
                for call in calls.values():
                    for _ in range(10):
                        assert call().status_code == 200
                for _ in range(args.rounds):
                    for name, call in calls.items():
                        before = cpu_seconds(process.pid)
                        for _ in range(args.requests):
                            started = time.perf_counter()
                            assert call().status_code == 200
                            latencies.setdefault(name, []).append(time.perf_counter() - started)
                        cpu.setdefault(name, []).append((cpu_seconds(process.pid) - before) / args.requests)
        finally:
            stop(process)
    base_latency = statistics.median(latencies["json base64"])
    base_cpu = statistics.median(cpu["json base64"])
    table = Table(title=f"One client, {MODEL}, 1280x720 JPEG, {args.rounds} rounds x {args.requests} requests")
    for column in ("path", "median ms", "p90 ms", "latency / json", "server CPU ms per request", "CPU / json"):
        table.add_column(column)
    for name in latencies:
        median = statistics.median(latencies[name])
        table.add_row(name, f"{median * 1e3:.1f}", f"{statistics.quantiles(latencies[name], n=10)[-1] * 1e3:.1f}",
                      f"{median / base_latency:.2f}", f"{statistics.median(cpu[name]) * 1e3:.1f}",
                      f"{statistics.median(cpu[name]) / base_cpu:.2f}")
    Console().print(table)


if __name__ == "__main__":
    main()
