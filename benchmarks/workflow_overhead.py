"""Workflow engine overhead: a 5-step workflow with the zoo detector vs the time spent inside its model calls.

Run: ``python benchmarks/workflow_overhead.py [--model yolov3-tiny-416] [--repeats 100]``

Steps: detector → detections filter → detection offset → dynamic crop → property definition (count).
Each workflow run is timed, and so is every ``infer_arrays`` call of the model during it (a timing
wrapper on the loaded model). Engine overhead per image = workflow time − model time of that run;
target: under 10% of the model time. A direct ``model.infer_arrays`` call is timed in alternation as
the baseline of the table, and serialising the outputs to JSON is shown apart (the HTTP route pays it).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _stats import Timing, interleaved, print_table
from argus.core.images import load_image
from argus.runtime.manager import ModelManager
from argus.settings import Settings
from argus.workflows import WorkflowContext, compile_workflow, serialize_outputs


def definition(model_id: str) -> dict[str, Any]:
    keep = {"type": "DetectionsFilter", "filter_operation": {"type": "StatementGroup", "statements": [{
        "type": "BinaryStatement",
        "left_operand": {"type": "DynamicOperand", "operand_name": "_",
                         "operations": [{"type": "ExtractDetectionProperty", "property_name": "confidence"}]},
        "comparator": {"type": "(Number) >="}, "right_operand": {"type": "StaticOperand", "value": 0.3}}]}}
    return {
        "version": "1.0", "inputs": [{"type": "WorkflowImage", "name": "image"}],
        "steps": [
            {"type": "roboflow_core/roboflow_object_detection_model@v2", "name": "model", "images": "$inputs.image",
             "model_id": model_id, "confidence": 0.25},
            {"type": "roboflow_core/detections_filter@v1", "name": "filter", "predictions": "$steps.model.predictions",
             "operations": [keep]},
            {"type": "roboflow_core/detection_offset@v1", "name": "offset", "predictions": "$steps.filter.predictions",
             "offset_width": 10, "offset_height": 10},
            {"type": "roboflow_core/dynamic_crop@v1", "name": "crop", "images": "$inputs.image",
             "predictions": "$steps.offset.predictions"},
            {"type": "roboflow_core/property_definition@v1", "name": "count", "data": "$steps.filter.predictions",
             "operations": [{"type": "SequenceLength"}]},
        ],
        "outputs": [{"type": "JsonField", "name": "predictions", "selector": "$steps.offset.predictions"},
                    {"type": "JsonField", "name": "crops", "selector": "$steps.crop.crops"},
                    {"type": "JsonField", "name": "count", "selector": "$steps.count.output"}],
    }


def summarise(name: str, samples: list[float]) -> Timing:
    deciles = statistics.quantiles(samples, n=10)
    return Timing(name, statistics.median(samples), deciles[0], deciles[-1], len(samples))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="yolov3-tiny-416")
    parser.add_argument("--image", type=Path, default=Path(__file__).parents[1] / "examples" / "sample.jpg")
    parser.add_argument("--repeats", type=int, default=100)
    args = parser.parse_args()

    settings = Settings(home=Path(tempfile.mkdtemp(prefix="argus-bench-")))
    manager = ModelManager(settings)
    model = manager.get(args.model)
    image = load_image(args.image)
    compiled = compile_workflow(definition(args.model), WorkflowContext(settings=settings, manager=manager))

    inside_model: list[float] = []
    original = model.infer_arrays

    depth = [0]

    def timed_infer(*a: Any, **k: Any) -> Any:  # benchmark-only: sums the time spent in model calls
        depth[0] += 1  # infer_arrays calls itself once after admission: time the outer call only
        started = time.perf_counter()
        try:
            return original(*a, **k)
        finally:
            depth[0] -= 1
            if depth[0] == 0:
                inside_model.append(time.perf_counter() - started)

    model.infer_arrays = timed_infer  # type: ignore[method-assign]
    params = model.params(confidence=0.25)
    workflow_samples: list[float] = []
    overhead_samples: list[float] = []
    last: list[Any] = []

    def run_workflow() -> None:
        inside_model.clear()
        started = time.perf_counter()
        result = compiled.run({"image": image})
        elapsed = time.perf_counter() - started
        workflow_samples.append(elapsed)
        overhead_samples.append(elapsed - sum(inside_model))
        last[:] = result.outputs

    def direct_model() -> None:
        original([image], params)

    timings = interleaved({"model.infer_arrays (direct)": direct_model, "workflow run (5 steps)": run_workflow},
                          args.repeats)
    warm = len(workflow_samples) - args.repeats
    overhead = summarise("engine overhead (workflow − its model calls)", overhead_samples[warm:])
    serialise = summarise("serialize_outputs (JSON for HTTP)", [
        _timed(lambda: serialize_outputs(last)) for _ in range(args.repeats)])
    baseline = timings[0]
    print_table(f"Workflow overhead per image — {args.model}, {image.shape[1]}x{image.shape[0]}, "
                f"{last[0]['count']} detections", [*timings, overhead, serialise], baseline)
    print(f"engine overhead / model time: {overhead.median / baseline.median:.1%} (target < 10%)")


def _timed(function: Any) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
