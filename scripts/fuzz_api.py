"""Fuzz every operation of a running Argus server's OpenAPI with Schemathesis and count server errors.

Run: ``python scripts/fuzz_api.py [--url http://127.0.0.1:9001] [--examples 300] [--max-time 600]``

Without ``--url`` it starts ``argus serve`` itself on a free port over a temporary ``ARGUS_HOME`` holding a tiny
classifier and detector, with the stream API on, so requests get past "model not found". Every response is
checked with Schemathesis's ``not_a_server_error`` (a 501, the answer for what is deliberately not
implemented, is accepted: ``scripts/schemathesis.toml``). Exits non-zero on any other 5xx or a dropped
connection. The test suite runs a short version of this (tests/integration/test_fuzz_api.py).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIG = Path(__file__).with_name("schemathesis.toml")


def fuzz(url: str, examples: int, max_time: float | None, workers: int = 1) -> subprocess.CompletedProcess[str]:
    """Run Schemathesis's coverage and fuzzing phases against ``url``; its output and exit status.

    One worker: with several threads, Hypothesis's lambda descriptions can trip CPython 3.11's ``ast`` recursion
    check ("AST constructor recursion depth mismatch"), an error of the tool, not of the server."""
    binary = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or "schemathesis"
    command = [binary, "--config-file", str(CONFIG), "run", f"{url}/openapi.json", "--checks", "not_a_server_error",
               "--max-examples", str(examples), "--workers", str(workers), "--phases", "coverage,fuzzing",
               "--no-color"]
    if max_time:
        command += ["--max-time", str(int(max_time))]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def store_with_models(home: Path) -> None:
    """A tiny classifier (tiny-cls/1) and detector (tiny-det/1) in ``home``'s store."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
    import numpy as np

    import onnx_builders
    from argus.store.importers import import_model
    from argus.store.repository import ModelRepository

    repository = ModelRepository(home / "models")
    cls = onnx_builders.save(onnx_builders.classifier(np.array([0.5, 3.0, 0.1])), home / "cls.onnx")
    import_model(cls, "tiny-cls/1", repository, task="classification", class_names=["dog", "cat", "car"])
    boxes = np.array([[32.0, 32.0, 16.0, 16.0]])
    det = onnx_builders.save(onnx_builders.yolov8_detection(boxes, np.array([[0.9, 0.1]])), home / "det.onnx")
    import_model(det, "tiny-det/1", repository, task="object-detection", class_names=["a", "b"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server (default: start one)")
    parser.add_argument("--examples", type=int, default=300, help="examples per operation and phase")
    parser.add_argument("--max-time", type=float, default=None, help="time budget in seconds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        process = None
        url = args.url
        if url is None:
            home = Path(scratch)
            store_with_models(home)
            sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
            from server_throughput import start_server

            process, url, _ = start_server(home, None, {"ARGUS_ENABLE_STREAM_API": "true"})
        started = time.monotonic()
        try:
            result = fuzz(url, args.examples, args.max_time)
        finally:
            if process is not None:
                process.terminate()
                process.wait(timeout=60)
    print(result.stdout[-6000:])
    print(f"schemathesis exit status {result.returncode} after {time.monotonic() - started:.0f} s")
    sys.exit(result.returncode)


if __name__ == "__main__":
    main()
