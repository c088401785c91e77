"""The server's throughput and tail under each runner configuration: instances × intra-op threads (batch as the
zoo manifest says), the knobs ``argus models tune`` chooses among, measured end to end over HTTP.

Run: ``python benchmarks/runner_config.py [--concurrency 1 4] [--requests 120] [--rounds 3]``

One ``argus serve`` per configuration with the zoo detector preloaded, the same closed-loop client as
server_throughput.py (``/infer/object_detection``, base64 JPEGs of 1280x720 and 810x1080), configurations
interleaved over rounds so machine noise hits them alike; medians over rounds of req/s, p50 and p99.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from server_throughput import LoadResult, drive, photos, start_server, stop

MODEL = "yolov3-tiny-416"
CONFIGS = {  # label → environment
    "default: 2 instances, threads follow load": {},
    "threads follow load, no batching": {"ARGUS_DYNAMIC_BATCHING": "false"},
    "2 instances x 2 threads (old default)": {"ARGUS_MODEL_INSTANCES": "2", "ARGUS_INTRA_OP_THREADS": "0",
                                              "ARGUS_ADAPTIVE_THREADS": "false"},
    "1 instance x 2 threads": {"ARGUS_MODEL_INSTANCES": "1", "ARGUS_INTRA_OP_THREADS": "0"},
    "2 instances x 1 thread": {"ARGUS_MODEL_INSTANCES": "2", "ARGUS_INTRA_OP_THREADS": "1"},
    "1 instance x 2 threads, no batching": {"ARGUS_MODEL_INSTANCES": "1", "ARGUS_INTRA_OP_THREADS": "0",
                                            "ARGUS_DYNAMIC_BATCHING": "false"},
    "2 instances x 1 thread, no batching": {"ARGUS_MODEL_INSTANCES": "2", "ARGUS_INTRA_OP_THREADS": "1",
                                            "ARGUS_DYNAMIC_BATCHING": "false"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", nargs="+", type=int, default=[1, 4])
    parser.add_argument("--requests", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    args = parser.parse_args()
    images = photos()
    home = Path(tempfile.mkdtemp(prefix="argus-runner-config-"))
    results: dict[tuple[str, int], list[LoadResult]] = {}
    for _ in range(args.rounds):
        for label, env in ((label, CONFIGS[label]) for label in args.configs):
            process, url, _ = start_server(home, MODEL, env)
            try:
                for concurrency in args.concurrency:
                    asyncio.run(drive(url, MODEL, images, concurrency, 8, label))  # warm-up
                    result = asyncio.run(drive(url, MODEL, images, concurrency, args.requests, label))
                    results.setdefault((label, concurrency), []).append(result)
            finally:
                stop(process)
    table = Table(title=f"{MODEL}: medians over {args.rounds} interleaved rounds of {args.requests} requests")
    for column in ("configuration", "clients", "req/s", "p50 ms", "p99 ms", "errors"):
        table.add_column(column)
    for (label, concurrency), runs in results.items():
        table.add_row(label, str(concurrency), f"{statistics.median(r.rps for r in runs):.1f}",
                      f"{statistics.median(r.p50 for r in runs):.0f}", f"{statistics.median(r.p99 for r in runs):.0f}",
                      str(sum(r.errors for r in runs)))
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
