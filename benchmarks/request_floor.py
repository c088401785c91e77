"""The CPU a detector request needs outside the model, and the ceiling that puts on any server's req/s.

Run: ``python benchmarks/request_floor.py [--runs 200]``

On the two photos peers.py sends (1280x720 and 810x1080 JPEGs as base64 JSON), one thread, Argus's own code
for each step: base64 decode, the JPEG decode (reduced-size where libjpeg can), and the model's preprocessing
(letterbox to a 416x416 tensor). Then the bare ``session.run`` rate with every core, as peers.py measures it.

On a machine whose cores the model saturates, a server's req/s at several clients is at most
``cores / (model CPU + outside CPU)`` per request, and the bare rate is ``cores / model CPU``; so
``model / (model + outside)`` bounds the "x bare" ratio from above for any server that must decode the photos it
is sent. The model CPU here is taken as cores / bare rate (what the model costs when it has every core).
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from int8_variant import zoo_detector
from peers import bare_rate
from server_throughput import photos


def median_ms(step: Callable[[], object], runs: int) -> float:
    """Median wall time of ``step`` in milliseconds (one thread, so wall time is its CPU time)."""
    for _ in range(5):
        step()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        step()
        times.append((time.perf_counter() - started) * 1e3)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="argus-floor-"))
    os.environ["ARGUS_INTRA_OP_THREADS"] = "1"
    repository, settings, model_id = zoo_detector(home)
    from argus.core.images import decode_image_bytes
    from argus.runtime.manager import ModelManager

    model = ModelManager(settings).get(model_id)
    hint = model.decode_hint
    rows = []
    for jpeg in photos():
        text = base64.b64encode(jpeg).decode()
        image = decode_image_bytes(jpeg, hint=hint)
        b64 = median_ms(lambda text=text: base64.b64decode(text), args.runs)
        decode = median_ms(lambda jpeg=jpeg: decode_image_bytes(jpeg, hint=hint), args.runs)
        prepare = median_ms(lambda image=image: model.preprocess([image]), args.runs)
        rows.append((f"{image.shape[1]}x{image.shape[0]} decoded", b64, decode, prepare))
    bare = bare_rate(repository.model_path(model_id))
    cores = os.cpu_count() or 1
    model_ms = cores * 1e3 / bare
    outside = statistics.mean(b + d + p for _, b, d, p in rows)
    print(f"{'photo':<22} {'base64 ms':>10} {'JPEG decode ms':>15} {'preprocess ms':>14}")
    for label, b64, decode, prepare in rows:
        print(f"{label:<22} {b64:>10.2f} {decode:>15.2f} {prepare:>14.2f}")
    print(f"outside the model, mean of the two photos: {outside:.2f} ms of CPU per request (HTTP not counted)")
    print(f"bare session.run: {bare:.1f} images/s on {cores} cores = {model_ms:.1f} ms of CPU per image")
    print(f"ceiling on req/s / bare rate for a server doing only this: {model_ms / (model_ms + outside):.3f}")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
