"""How close the zoo detector runs to what this CPU can do: model FLOPs, achieved GFLOP/s, and the peak of a
GEMM on the same cores and runtime, FP32 and INT8.

Run: ``python benchmarks/cpu_limit.py [--runs 30]``

- FLOPs per image are counted from the ONNX graph after shape inference: 2·MACs of every Conv, MatMul and
  Gemm (the rest of the graph is a rounding error for a CNN). Counted here because no kept library does it
  from an ONNX file.
- The model's time is the median ``session.run`` on one 416x416 image, FP32 and its INT8 variant (made as
  ``argus models optimize`` makes it, calibrated on collages of scikit-image's photos), runs interleaved.
- The GEMM peak is ONNX Runtime itself on a 2048x2048x2048 product with every core: ``MatMul`` in FP32 and
  ``MatMulInteger`` (UINT8 x INT8, the kernel the quantized convolutions use) for INT8.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, shape_inference

sys.path.insert(0, str(Path(__file__).parent))
from int8_variant import int8_variant, zoo_detector

GEMM_SIZE = 2048


def model_flops(path: Path, height: int, width: int) -> float:
    """2·MACs of the Conv, MatMul and Gemm nodes for one image of ``height`` x ``width``."""
    model = onnx.load(path)
    image = model.graph.input[0].type.tensor_type.shape.dim
    for dim, value in zip(image, (1, 3, height, width)):
        dim.ClearField("dim_param")
        dim.dim_value = value
    inferred = shape_inference.infer_shapes(model)
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in (*inferred.graph.value_info, *inferred.graph.output, *inferred.graph.input)}
    weights = {i.name: list(i.dims) for i in inferred.graph.initializer}
    flops = 0.0
    for node in inferred.graph.node:
        if node.op_type == "Conv":
            kernel = weights.get(node.input[1]) or shapes.get(node.input[1])
            out = shapes.get(node.output[0])
            if kernel and out:  # kernel [Cout, Cin/group, kH, kW]; output [N, Cout, H, W]
                flops += 2 * float(np.prod(kernel)) * out[2] * out[3]
        elif node.op_type in ("MatMul", "Gemm"):
            a, b = shapes.get(node.input[0]) or weights.get(node.input[0]), \
                shapes.get(node.input[1]) or weights.get(node.input[1])
            if a and b:
                flops += 2 * float(np.prod(a[:-1])) * a[-1] * b[-1]
    return flops


def median_ms(session: ort.InferenceSession, feed: dict[str, np.ndarray], runs: int) -> float:
    session.run(None, feed)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        session.run(None, feed)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def gemm_peak(integer: bool, runs: int) -> float:
    """GFLOP/s (or GOP/s) of an n³ product in ONNX Runtime on every core."""
    n = GEMM_SIZE
    if integer:
        node = helper.make_node("MatMulInteger", ["a", "b"], ["c"])
        inputs = [helper.make_tensor_value_info("a", TensorProto.UINT8, [n, n]),
                  helper.make_tensor_value_info("b", TensorProto.INT8, [n, n])]
        output = helper.make_tensor_value_info("c", TensorProto.INT32, [n, n])
        rng = np.random.default_rng(0)
        feed = {"a": rng.integers(0, 255, (n, n), dtype=np.uint8), "b": rng.integers(-127, 127, (n, n), dtype=np.int8)}
    else:
        node = helper.make_node("MatMul", ["a", "b"], ["c"])
        inputs = [helper.make_tensor_value_info(name, TensorProto.FLOAT, [n, n]) for name in ("a", "b")]
        output = helper.make_tensor_value_info("c", TensorProto.FLOAT, [n, n])
        feed = {name: np.random.default_rng(0).random((n, n), dtype=np.float32) for name in ("a", "b")}
    model = helper.make_model(helper.make_graph([node], "gemm", inputs, [output]),
                              opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return 2 * n ** 3 / (median_ms(session, feed, max(runs // 5, 3)) / 1000) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        repository, settings, model_id = zoo_detector(Path(home))
        report = int8_variant(repository, settings, model_id, Path(home), 16)
        manifest = repository.manifest(model_id)
        flops = model_flops(repository.model_path(model_id), manifest.input_height, manifest.input_width)
        tensor = np.random.default_rng(0).random((1, 3, manifest.input_height, manifest.input_width),
                                                 dtype=np.float32)
        sessions = {precision: ort.InferenceSession(str(repository.model_path(mid)), providers=["CPUExecutionProvider"])
                    for precision, mid in (("FP32", model_id), ("INT8", report.variant_id))}
        name = sessions["FP32"].get_inputs()[0].name
        times: dict[str, list[float]] = {"FP32": [], "INT8": []}
        for _ in range(3):  # interleaved blocks, so both see the same load
            for precision, session in sessions.items():
                times[precision].append(median_ms(session, {name: tensor}, args.runs // 3))
        peaks = {"FP32": gemm_peak(False, args.runs), "INT8": gemm_peak(True, args.runs)}
    print(f"{model_id}: {flops / 1e9:.2f} GFLOP per image ({manifest.input_width}x{manifest.input_height}), "
          f"{os.cpu_count()} CPUs")
    for precision in ("FP32", "INT8"):
        ms = statistics.median(times[precision])
        achieved = flops / (ms / 1000) / 1e9
        print(f"{precision}: session.run {ms:.1f} ms (blocks {', '.join(f'{t:.1f}' for t in times[precision])}), "
              f"{achieved:.1f} G(FL)OP/s; GEMM peak {peaks[precision]:.1f}: {achieved / peaks[precision]:.0%} of it")


if __name__ == "__main__":
    main()
