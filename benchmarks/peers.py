"""Argus next to the servers a team would otherwise pick, on the same model, photos, client and machine.

Run: ``python benchmarks/peers.py [--rounds 3] [--requests 150] [--concurrency 1 4] [--peers ...]
[--roboflow-venv PATH | --roboflow-url http://127.0.0.1:9101]``

- **Peers**: LitServe 0.2.19, BentoML 1.4.40 and Ray Serve 2.60.0, each in its own virtual environment under
  ``~/.cache/argus/bench-venvs`` (created by this script on first use), each with onnxruntime 1.32.0 and serving
  the zoo's YOLOv3-tiny through ``benchmarks/peers/detector.py``: the code a competent user would write
  (OpenCV decode and resize, onnxruntime, OpenCV NMS, Roboflow-style JSON).
- **Roboflow Inference 1.8.3** joins the rotation, measured like the others, with ``--roboflow-venv`` naming a
  virtual environment where it is installed (about 7 GB; ../shared/specs/reference-server.md). The script writes
  the launcher and an offline model cache holding the same ONNX file (``coco-yolov3-tiny/1``, model type
  ``yolov5``, stretched to 416x416 as Roboflow exports) and serves it with uvicorn. A venv without torchvision (the
  CUDA-free install of scripts/workflow_differential.py) gets scripts/reference_torchvision on its path.
  ``--roboflow-url`` instead drives a server started by hand (no CPU or memory figures).
- **Argus**: ``argus serve`` with the same model preloaded (its defaults), and optionally its INT8 variant
  (``--int8``, made as ``argus models optimize`` makes it).
- **Client**: server_throughput.py's closed loop (``/infer/object_detection``, base64 JPEGs of 1280x720 and
  810x1080), the body ``inference_sdk`` sends.
- **Rounds**: servers start one at a time, in a rotated order each round; the bare ``session.run`` rate of the
  same model (every core, one caller) is measured in this process at the start of each round.
- **Figures**: medians over rounds of req/s, p50, p99, server CPU per request (the whole process tree, from
  /proc through psutil) and memory (USS of the tree, with the model loaded), each server's req/s ratio to
  Argus and to the bare rate.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import httpx
import numpy as np
import psutil
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from int8_variant import int8_variant, zoo_detector
from server_throughput import LoadResult, drive, free_port, photos

HERE = Path(__file__).parent
VENVS = Path.home() / ".cache" / "argus" / "bench-venvs"
MODEL = "yolov3-tiny-416"
ROBOFLOW = "Roboflow Inference"
ROBOFLOW_MODEL = "coco-yolov3-tiny/1"
COMMON = ["onnxruntime==1.32.0", "opencv-python-headless>=4.9,<5", "numpy<2.5"]
PEERS: dict[str, tuple[str, Callable[[Path, int], list[str]]]] = {
    # name → (pip requirement, command line given the venv's python and the port)
    "LitServe": ("litserve==0.2.19", lambda python, port: [str(python), str(HERE / "peers" / "litserve_server.py")]),
    "BentoML": ("bentoml==1.4.40", lambda python, port: [
        str(python.parent / "bentoml"), "serve", "bentoml_server:DetectorService", "--host", "127.0.0.1",
        "--port", str(port), "--working-dir", str(HERE / "peers")]),
    "Ray Serve": ("ray[serve]==2.60.0", lambda python, port: [str(python), str(HERE / "peers" / "rayserve_server.py")]),
}


@dataclass(frozen=True)
class Sample:
    """One server at one concurrency in one round."""

    load: LoadResult
    cpu_ms_per_request: float
    memory_mb: float


def venv_python(peer: str) -> Path:
    """The peer's virtual environment (created and installed on first use)."""
    folder = VENVS / peer.lower().replace(" ", "")
    python = folder / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    check = subprocess.run([str(python), "-m", "pip", "show", "-q", PEERS[peer][0].split("[")[0].split("=")[0]],
                           capture_output=True)
    if check.returncode != 0:
        subprocess.run([str(python), "-m", "pip", "install", "-q", PEERS[peer][0], *COMMON], check=True)
    return python


def tree(pid: int) -> list[psutil.Process]:
    """A process and all its descendants (Ray's raylet, workers and Serve actors included)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def tree_cpu_seconds(pid: int) -> float:
    total = 0.0
    for process in tree(pid):
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def tree_memory_mb(pid: int) -> float:
    total = 0
    for process in tree(pid):
        try:
            total += process.memory_full_info().uss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total / 1e6


def body(image: bytes, model_id: str = MODEL) -> bytes:
    return json.dumps({"model_id": model_id, "image": {"type": "base64", "value": base64.b64encode(image).decode()},
                       "confidence": 0.4, "iou_threshold": 0.5}).encode()


def wait_until_serving(url: str, image: bytes, process: subprocess.Popen[bytes], seconds: float = 180,
                       model_id: str = MODEL) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {process.returncode}")
        try:
            answer = httpx.post(f"{url}/infer/object_detection", content=body(image, model_id), timeout=30,
                                headers={"Content-Type": "application/json"})
            if answer.status_code == 200 and answer.json().get("predictions") is not None:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{url}: not serving after {seconds} s")


def stop_tree(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL, to every process of the tree (Ray's actors run in their own process groups)."""
    members = tree(process.pid)
    for member in members:
        try:
            member.send_signal(signal.SIGTERM)
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(members, timeout=15)
    for member in alive:
        try:
            member.kill()
        except psutil.NoSuchProcess:
            pass
    process.wait(timeout=10)


def roboflow_folder(home: Path, model_path: Path, classes: list[str]) -> Path:
    """The reference's launcher folder and offline model cache (as ../shared/specs/reference-server.md says)."""
    folder = home / "roboflow"
    for static in ("inference/landing/out/static", "inference/landing/out/_next/static"):
        (folder / static).mkdir(parents=True, exist_ok=True)
    (folder / "launcher.py").write_text(
        "from inference.core.interfaces.http.http_api import HttpInterface\n"
        "from inference.core.managers.base import ModelManager\n"
        "from inference.core.managers.decorators.fixed_size_cache import WithFixedSizeCache\n"
        "from inference.core.registries.roboflow import RoboflowModelRegistry\n"
        "from inference.models.utils import ROBOFLOW_MODEL_TYPES\n"
        "from inference.core.env import MAX_ACTIVE_MODELS\n\n"
        "registry = RoboflowModelRegistry(ROBOFLOW_MODEL_TYPES)\n"
        "manager = WithFixedSizeCache(ModelManager(model_registry=registry), max_size=MAX_ACTIVE_MODELS)\n"
        "app = HttpInterface(manager).app\n")
    cache = folder / "cache" / ROBOFLOW_MODEL
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "model_type.json").write_text(json.dumps({"project_task_type": "object-detection",
                                                       "model_type": "yolov5", "model_id": ROBOFLOW_MODEL}))
    resize = {"resize": {"enabled": True, "format": "Stretch to", "width": 416, "height": 416}}
    (cache / "environment.json").write_text(json.dumps({
        "PREPROCESSING": json.dumps(resize), "CLASS_MAP": {str(i): c for i, c in enumerate(classes)},
        "MULTICLASS": False}))
    (cache / "class_names.txt").write_text("\n".join(classes) + "\n")
    (cache / "yolov5s_weights.onnx").write_bytes(model_path.read_bytes())
    return folder


def roboflow_command(venv: Path, folder: Path, port: int) -> tuple[list[str], dict[str, str]]:
    """uvicorn on the reference's app, offline, with its model cache (and the torchvision stand-in if needed)."""
    python = venv / "bin" / "python"
    env = {"OFFLINE_MODE": "True", "USE_INFERENCE_MODELS": "False", "MODEL_CACHE_DIR": str(folder / "cache"),
           "DISABLE_VERSION_CHECK": "True"}
    if subprocess.run([str(python), "-c", "import torchvision"], capture_output=True).returncode != 0:
        env["PYTHONPATH"] = str(HERE.parent / "scripts" / "reference_torchvision")
    return [str(python), "-m", "uvicorn", "launcher:app", "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "warning"], env


def start(name: str, home: Path, environment: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, **environment, "PEER_PORT": str(port), "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    cwd = HERE / "peers"
    if name == ROBOFLOW:
        folder = Path(environment["ROBOFLOW_FOLDER"])
        command, extra = roboflow_command(Path(environment["ROBOFLOW_VENV"]), folder, port)
        env, cwd = {**env, **extra}, folder
    elif name.startswith("Argus"):
        command = [sys.executable, "-m", "argus.cli.main", "serve", "--port", str(port), "--log-level", "warning",
                   "--preload", environment["ARGUS_PRELOAD_ID"]]
        env["ARGUS_HOME"] = str(home)
    else:
        command = PEERS[name][1](venv_python(name), port)
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    return process, f"http://127.0.0.1:{port}"


def bare_rate(model_path: Path, seconds: float = 4.0) -> float:
    """Images per second of ``session.run`` alone, one caller, every core."""
    return bare_run(model_path, seconds)[0]


def bare_run(model_path: Path, seconds: float = 4.0) -> tuple[float, float]:
    """``session.run`` alone, one caller, every core: images per second, and CPU milliseconds per image (this
    process's CPU time, ONNX Runtime's threads included, over the runs)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    tensor = np.random.default_rng(0).random((1, 3, 416, 416), dtype=np.float32)
    name = session.get_inputs()[0].name
    session.run(None, {name: tensor})
    runs, started, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - started < seconds:
        session.run(None, {name: tensor})
        runs += 1
    return runs / (time.perf_counter() - started), (time.process_time() - cpu) / runs * 1e3


TUNED_ID = "coco-yolov3-tiny-tuned/1"


def prepare(home: Path, int8: bool, tuned: bool = False) -> tuple[Path, dict[str, str], list[str]]:
    """The zoo model in ``home``'s store, plus the Argus variants asked for: ``{server name: model id}`` (the
    INT8 variant made as ``argus models optimize`` makes it; with ``tuned``, a copy of the FP32 model and the
    INT8 variant carrying ``argus models tune``'s choice at 4 clients in their manifests)."""
    from argus.models.tune import tune_model, tuned_manifest

    repository, settings, model_id = zoo_detector(home)
    servers = {"Argus": MODEL}
    image = cv2.imdecode(np.frombuffer(photos()[0], np.uint8), cv2.IMREAD_COLOR)
    if tuned:
        _, chosen = tune_model(repository, model_id, settings, image, write=False)
        repository.add(TUNED_ID, repository.model_path(model_id),
                       tuned_manifest(repository.manifest(model_id), chosen, clients=4), overwrite=True)
        servers["Argus tuned"] = TUNED_ID
    if int8:
        variant = int8_variant(repository, settings, model_id, home, 24).variant_id
        if tuned:
            tune_model(repository, variant, settings, image)
        servers["Argus INT8 tuned" if tuned else "Argus INT8"] = variant
    return repository.model_path(model_id), servers, repository.manifest(model_id).class_names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=150)
    parser.add_argument("--concurrency", nargs="+", type=int, default=[1, 4])
    parser.add_argument("--peers", nargs="*", default=list(PEERS))
    parser.add_argument("--int8", action="store_true", help="also serve Argus's INT8 variant")
    parser.add_argument("--tuned", action="store_true", help="also serve Argus with `argus models tune`'s choice")
    parser.add_argument("--roboflow-venv", type=Path, default=None,
                        help="a virtual environment with inference 1.8.3: Roboflow joins the rotation")
    parser.add_argument("--roboflow-url", default=None, help="or a reference server started by hand")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="argus-peers-"))
    model_path, model_ids, classes = prepare(home, args.int8, args.tuned)  # server → the model id it is sent
    environment = {"PEER_MODEL_PATH": str(model_path), "PEER_CLASS_NAMES": json.dumps(classes)}
    servers = [*model_ids, *args.peers]
    if args.roboflow_venv:
        environment.update({"ROBOFLOW_VENV": str(args.roboflow_venv.resolve()),
                            "ROBOFLOW_FOLDER": str(roboflow_folder(home, model_path, classes))})
        model_ids[ROBOFLOW] = ROBOFLOW_MODEL
        servers.append(ROBOFLOW)
    images = photos()
    samples: dict[tuple[str, int], list[Sample]] = {}
    bare: list[float] = []
    bare_cpu: list[float] = []
    for round_index in range(args.rounds):
        rate, cpu_ms = bare_run(model_path)
        bare.append(rate)
        bare_cpu.append(cpu_ms)
        order = servers[round_index % len(servers):] + servers[:round_index % len(servers)]
        for name in order:
            env = {**environment, "ARGUS_PRELOAD_ID": model_ids.get(name, MODEL)}
            process, url = start(name, home, env)
            try:
                wait_until_serving(url, images[0], process, model_id=env["ARGUS_PRELOAD_ID"])
                memory = tree_memory_mb(process.pid)
                for concurrency in args.concurrency:
                    asyncio.run(drive(url, env["ARGUS_PRELOAD_ID"], images, concurrency, 8, name))  # warm-up
                    before = tree_cpu_seconds(process.pid)
                    load = asyncio.run(drive(url, env["ARGUS_PRELOAD_ID"], images, concurrency, args.requests, name))
                    cpu = (tree_cpu_seconds(process.pid) - before) / max(load.requests - load.errors, 1) * 1000
                    samples.setdefault((name, concurrency), []).append(Sample(load, cpu, memory))
            finally:
                stop_tree(process)
        if args.roboflow_url:
            for concurrency in args.concurrency:
                load = asyncio.run(drive(args.roboflow_url, MODEL, images, concurrency, args.requests, "Roboflow"))
                samples.setdefault(("Roboflow Inference", concurrency), []).append(Sample(load, float("nan"),
                                                                                           float("nan")))
    print_table(samples, bare, args)
    model_cpu = statistics.median(bare_cpu)
    argus = [s.cpu_ms_per_request for s in samples.get(("Argus", min(args.concurrency)), [])]
    print(f"session.run alone: {model_cpu:.1f} ms of CPU per image (rounds: {', '.join(f'{c:.1f}' for c in bare_cpu)})")
    if argus:
        print(f"Argus at {min(args.concurrency)} client(s): {statistics.median(argus):.1f} ms of CPU per request, "
              f"{statistics.median(argus) / model_cpu:.3f}x the model's own (rounds: "
              f"{', '.join(f'{c:.1f}' for c in argus)})")


def print_table(samples: dict[tuple[str, int], list[Sample]], bare: list[float], args: argparse.Namespace) -> None:
    bare_median = statistics.median(bare)
    table = Table(title=f"{MODEL}: medians over {args.rounds} rounds of {args.requests} requests; bare session.run "
                        f"{bare_median:.1f} images/s (rounds: {', '.join(f'{b:.1f}' for b in bare)})")
    for column in ("server", "clients", "req/s", "x Argus", "x bare", "p50 ms", "p99 ms", "CPU ms/req", "USS MB",
                   "errors"):
        table.add_column(column)
    for concurrency in args.concurrency:
        argus_rate = statistics.median(s.load.rps for s in samples.get(("Argus", concurrency), [])) \
            if ("Argus", concurrency) in samples else float("nan")
        for (name, level), runs in samples.items():
            if level != concurrency:
                continue
            rate = statistics.median(s.load.rps for s in runs)
            table.add_row(name, str(level), f"{rate:.1f}", f"{rate / argus_rate:.2f}", f"{rate / bare_median:.2f}",
                          f"{statistics.median(s.load.p50 for s in runs):.0f}",
                          f"{statistics.median(s.load.p99 for s in runs):.0f}",
                          f"{statistics.median(s.cpu_ms_per_request for s in runs):.0f}",
                          f"{statistics.median(s.memory_mb for s in runs):.0f}",
                          str(sum(s.load.errors for s in runs)))
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
