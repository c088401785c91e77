"""Model engine overhead: load time, model.infer vs bare session.run on the same tensor, peak memory.

Run: ``python benchmarks/model_overhead.py [--model yolov3-tiny-416] [--repeats 200]``

The ratio ``model.infer / session.run`` is Argus's pre- and post-processing overhead (target < 1.15
at batch 1 for the zoo detector). Both are timed in alternation in the same run.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from rich.console import Console

sys.path.insert(0, str(Path(__file__).parent))
from _stats import interleaved, print_table
from argus.core.images import load_image
from argus.runtime.manager import ModelManager
from argus.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="yolov3-tiny-416")
    parser.add_argument("--image", type=Path, default=Path(__file__).parents[1] / "examples" / "sample.jpg")
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--loads", type=int, default=5)
    args = parser.parse_args()
    console = Console()

    home = Path(tempfile.mkdtemp(prefix="argus-bench-"))
    settings = Settings(home=home)
    ModelManager(settings).get(args.model)  # materialise the zoo entry once (not timed)

    load_times = []
    for _ in range(args.loads):
        manager = ModelManager(settings)
        started = time.perf_counter()
        model = manager.get(args.model)
        load_times.append(time.perf_counter() - started)
    jpeg = args.image.read_bytes()
    image = load_image(jpeg)
    tensor, _ = model.preprocess([image])
    session = model.session.session
    input_name = model.session.input.name
    params = model.params()

    timings = interleaved({
        "session.run (same tensor)": lambda: session.run(None, {input_name: tensor}),
        "model.infer(BGR array)": lambda: model.infer_arrays([image], params),
        "model.infer(JPEG bytes)": lambda: model.infer(jpeg),
        "decode JPEG only": lambda: cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR),
    }, repeats=args.repeats)
    console.print(f"model {args.model} ({model.model_id}), image {args.image.name} {image.shape[1]}x{image.shape[0]}, "
                  f"input {model.manifest.input_width}x{model.manifest.input_height}, providers {model.session.providers}")
    console.print(f"load time (session + warm-up, {args.loads} loads): median {statistics.median(load_times):.3f} s, "
                  f"min {min(load_times):.3f} s, max {max(load_times):.3f} s")
    print_table("per-image latency, batch 1", timings, baseline=timings[0])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    console.print(f"peak resident memory of this process: {peak:.0f} MB ({args.loads} copies of the model were loaded)")


if __name__ == "__main__":
    main()
