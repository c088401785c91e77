"""Cost of running custom Python blocks in a sandbox process instead of in the server process.

Run: ``python benchmarks/custom_python_overhead.py [--repeats 100]``

One-step workflows over a real photo resized to each size: a custom Python block that returns the
image's mean brightness (its inputs and outputs cross the pipe: image pickled out, a float back)
against a built-in block in-process (``property_definition`` extracting the image's size) and the
custom function's body called directly, timed in alternation. The table's baseline is the built-in
block's workflow at the same size; sandbox minus (baseline + body) is the price of the process
boundary (pickling the image through a pipe). Also printed: the cold start of a sandbox (a new
interpreter importing numpy, OpenCV and supervision) and a compile that reuses a warm process.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from _stats import interleaved, print_table
from argus.settings import Settings
from argus.workflows import WorkflowContext, compile_workflow
from photos import read_bgr

CUSTOM = {"type": "DynamicBlockDefinition",
          "manifest": {"type": "ManifestDescription", "block_type": "Brightness",
                       "inputs": {"image": {"type": "DynamicInputDefinition", "selector_types": ["input_image"]}},
                       "outputs": {"value": {"type": "DynamicOutputDefinition", "kind": ["float"]}}},
          "code": {"type": "PythonCode",
                   "run_function_code": "def run(self, image):\n    return {'value': float(image.numpy_image.mean())}"}}


def workflow(custom: bool) -> dict[str, Any]:
    step: dict[str, Any] = ({"type": "Brightness", "name": "s", "image": "$inputs.image"} if custom else
                            {"type": "roboflow_core/property_definition@v1", "name": "s", "data": "$inputs.image",
                             "operations": [{"type": "ExtractImageProperty", "property_name": "size"}]})
    definition: dict[str, Any] = {"version": "1.0", "inputs": [{"type": "WorkflowImage", "name": "image"}],
                                  "steps": [step],
                                  "outputs": [{"type": "JsonField", "name": "v", "selector": "$steps.s.*"}]}
    if custom:
        definition["dynamic_blocks_definitions"] = [CUSTOM]
    return definition


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=100)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="argus-bench-"))
    context = WorkflowContext(settings=Settings(home=home, allow_custom_python=True))
    photo = read_bgr("astronaut.png")
    for width, height in ((320, 240), (1280, 720), (1920, 1080)):
        image = cv2.resize(photo, (width, height))
        builtin, custom = compile_workflow(workflow(False), context), compile_workflow(workflow(True), context)
        timings = interleaved({"built-in block (in-process)": lambda w=builtin, i=image: w.run({"image": i}),
                               "custom Python block (sandbox)": lambda w=custom, i=image: w.run({"image": i}),
                               "its function body alone, in-process": lambda i=image: float(i.mean())},
                              args.repeats)
        print_table(f"One-step workflow, {width}x{height} image", timings, timings[0])
        del custom
        gc.collect()
    cold, warm = [], []
    for n in range(5):
        definition = workflow(True)
        definition["dynamic_blocks_definitions"][0]["code"]["run_function_code"] += f"\n# variant {n}"
        started = time.perf_counter()
        compiled = compile_workflow(definition, context)
        compiled.run({"image": photo})
        cold.append(time.perf_counter() - started)
        del compiled
        gc.collect()
        started = time.perf_counter()
        compile_workflow(definition, context).run({"image": photo})
        warm.append(time.perf_counter() - started)
    print(f"first run with a new sandbox process: median {statistics.median(cold) * 1e3:.0f} ms "
          f"(min {min(cold) * 1e3:.0f}, max {max(cold) * 1e3:.0f}, n=5)")
    print(f"compile + run reusing a warm process: median {statistics.median(warm) * 1e3:.1f} ms "
          f"(min {min(warm) * 1e3:.1f}, max {max(warm) * 1e3:.1f}, n=5)")


if __name__ == "__main__":
    main()
