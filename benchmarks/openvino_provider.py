"""The OpenVINO execution provider (``argus[openvino]``) against ONNX Runtime's default CPU provider, on the
zoo detector, FP32 and INT8.

Run: ``python benchmarks/openvino_provider.py [--runs 60]``

``onnxruntime-openvino`` replaces the ``onnxruntime`` package, so the comparison runs in its own virtual
environment (``~/.cache/argus/bench-venvs/openvino``, created on first use), where both providers exist in
one build: each model is loaded once per provider and the sessions are run interleaved, one image at a time
(median ``session.run``), and the outputs are compared (largest absolute difference of the raw output).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

VENV = Path.home() / ".cache" / "argus" / "bench-venvs" / "openvino"
REQUIREMENTS = ["onnxruntime-openvino==1.24.1", "numpy<2.5"]

MEASURE = r'''
import statistics, sys, time
import numpy as np, onnxruntime as ort
runs = int(sys.argv[1])
tensor = np.random.default_rng(0).random((1, 3, 416, 416), dtype=np.float32)
for label, path in zip(sys.argv[2::2], sys.argv[3::2]):
    sessions = {p: ort.InferenceSession(path, providers=[p] + (["CPUExecutionProvider"] if p != "CPUExecutionProvider" else []))
                for p in ("CPUExecutionProvider", "OpenVINOExecutionProvider")}
    name = sessions["CPUExecutionProvider"].get_inputs()[0].name
    outputs = {p: s.run(None, {name: tensor})[0] for p, s in sessions.items()}
    times = {p: [] for p in sessions}
    for _ in range(runs):
        for p, s in sessions.items():
            started = time.perf_counter(); s.run(None, {name: tensor}); times[p].append((time.perf_counter() - started) * 1000)
    cpu, ov = statistics.median(times["CPUExecutionProvider"]), statistics.median(times["OpenVINOExecutionProvider"])
    diff = float(np.abs(outputs["CPUExecutionProvider"] - outputs["OpenVINOExecutionProvider"]).max())
    print(f"{label}: CPU provider {cpu:.1f} ms, OpenVINO {ov:.1f} ms ({cpu / ov:.2f}x), providers in use "
          f"{sessions['OpenVINOExecutionProvider'].get_providers()}, largest output difference {diff:.3g}")
'''


def venv_python() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *REQUIREMENTS], check=True)
    return python


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    from peers import prepare

    with tempfile.TemporaryDirectory() as home:
        fp32, servers, _ = prepare(Path(home), int8=True)
        from argus.store.repository import ModelRepository

        int8 = ModelRepository(Path(home) / "models").model_path(servers["Argus INT8"])
        subprocess.run([str(venv_python()), "-c", MEASURE, str(args.runs), "FP32", str(fp32), "INT8", str(int8)],
                       check=True)


if __name__ == "__main__":
    main()
