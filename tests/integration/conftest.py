"""End-to-end fixtures: a real ``argus serve`` process over a prepared ARGUS_HOME.

The home's model store holds the zoo detector (``coco-yolov3-tiny/1``, alias ``yolov3-tiny-416``,
copied from the session's zoo store), three tiny constant-output models built with
``onnx_builders`` (``tiny-seg/1``, ``tiny-pose/1``, ``tiny-cls/1``: they predict the same thing on
any image, so every request yields at least one prediction), and ``broken/1`` (a valid manifest
with garbage bytes as ``model.onnx``).

Servers run as child processes (``python -m argus.cli.main serve``) on a free port; their log goes
to a file that failure messages quote. ``live_server`` is open, ``secured_server`` needs the key
``test-key-1``; :func:`start_server` starts others with extra environment (a small body limit, ...).
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # sdk_venv
sys.path.insert(0, str(Path(__file__).parents[1]))  # onnx_builders, photos

import onnx_builders
from argus.settings import Settings
from argus.store.importers import import_model
from argus.store.repository import MANIFEST_FILE, MODEL_FILE, ModelRepository
from argus.store.zoo import Zoo
from photos import collage, sample_photo

DETECTOR_ALIAS = "yolov3-tiny-416"
DETECTOR_ID = "coco-yolov3-tiny/1"
SEG_ID = "tiny-seg/1"
POSE_ID = "tiny-pose/1"
CLS_ID = "tiny-cls/1"
BROKEN_ID = "broken/1"
API_KEY = "test-key-1"

STARTUP_TIMEOUT_S = 90.0
SHUTDOWN_TIMEOUT_S = 15.0

# Tiny models (64x64 input). Segmentation: one "cat" at input box (8, 8, 40, 40) whose mask is
# prototype 0, a crisp rectangle on input x [16, 48), y [16, 32) cropped to the box.
SEG_CLASSES = ["cat", "dog"]
SEG_BOXES = np.array([[24.0, 24.0, 32.0, 32.0]])
SEG_SCORES = np.array([[0.9, 0.0]])
SEG_COEFFICIENTS = np.array([[1.0, 0.0]])
SEG_PROTOS = np.full((2, 16, 16), -10.0, dtype=np.float32)
SEG_PROTOS[0, 4:8, 4:12] = 10.0
SEG_PROTOS[1, 8:15, 2:6] = 10.0
# Keypoints: two people with three keypoints each (x, y, visibility in input px).
POSE_BOXES = np.array([[24.0, 24.0, 32.0, 32.0], [52.0, 48.0, 16.0, 24.0]])
POSE_SCORES = np.array([[0.9], [0.95]])
POSE_KEYPOINTS = np.array([
    [[16.0, 20.0, 0.9], [32.0, 24.0, 0.8], [40.0, 40.0, 0.6]],
    [[48.0, 40.0, 0.8], [52.0, 44.0, 0.7], [56.0, 46.0, 0.9]],
])
POSE_KEYPOINT_NAMES = ["nose", "left_eye", "right_eye"]
# Classification: logits whose softmax puts "cat" on top.
CLS_CLASSES = ["dog", "cat", "car"]
CLS_LOGITS = np.array([0.5, 3.0, 0.1])

# Settings variables of the parent that must not reach the servers (they would change what is tested).
_SERVER_ENV_PREFIXES = ("ARGUS_",)
_SERVER_ENV_ALIASES = ("MODEL_CACHE_DIR", "MAX_ACTIVE_MODELS", "PORT", "PRELOAD_MODELS", "ALLOW_URL_INPUT",
                       "ALLOW_NUMPY_INPUT")


@dataclass
class LiveServer:
    """A running ``argus serve`` process."""

    url: str
    port: int
    home: Path
    log_path: Path
    process: subprocess.Popen = field(repr=False)
    env: dict[str, str] = field(default_factory=dict, repr=False)

    def log(self) -> str:
        """Everything the server wrote so far (stdout and stderr)."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def client(self, **kwargs: object) -> httpx.Client:
        """An httpx client on the server (no proxies from the environment)."""
        kwargs.setdefault("timeout", 120.0)
        return httpx.Client(base_url=self.url, trust_env=False, **kwargs)  # type: ignore[arg-type]

    @property
    def alive(self) -> bool:
        """True while the process runs."""
        return self.process.poll() is None

    def stop(self) -> None:
        """Terminate (SIGTERM), wait, then kill if it hangs."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=SHUTDOWN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=SHUTDOWN_TIMEOUT_S)


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when pytest dies, so no server outlives a killed run (Linux)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without Argus settings, plus ARGUS_HOME and ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(_SERVER_ENV_PREFIXES) and k not in _SERVER_ENV_ALIASES}
    env.update({
        "ARGUS_HOME": str(home),
        "ARGUS_ZOO_CACHE_DIR": os.environ.get("ARGUS_ZOO_CACHE_DIR", "~/.cache/argus/zoo"),
        "ARGUS_INTRA_OP_THREADS": "2",
        "PYTHONUNBUFFERED": "1",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    })
    env.update(extra or {})
    return env


def start_server(home: Path, log_dir: Path, extra_env: Mapping[str, str] | None = None,
                 name: str = "server") -> LiveServer:
    """Start ``argus serve`` on a free port over ``home`` and wait for ``/healthz``.

    Fails the test (with the server's log) when the server exits or does not answer in time.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    last_log = ""
    for _attempt in range(3):  # a free port can be taken between probing and binding
        port = free_port()
        log_path = log_dir / f"{name}-{port}.log"
        env = server_env(home, extra_env)
        command = [sys.executable, "-m", "argus.cli.main", "-v", "serve", "--host", "127.0.0.1",
                   "--port", str(port), "--log-level", "info"]
        on_linux = sys.platform == "linux"
        with open(log_path, "wb") as log_file:
            process = subprocess.Popen(
                command, stdout=log_file, stderr=subprocess.STDOUT, env=env, cwd=str(log_dir),
                preexec_fn=_die_with_parent if on_linux else None)
        server = LiveServer(url=f"http://127.0.0.1:{port}", port=port, home=home, log_path=log_path,
                            process=process, env=env)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        with httpx.Client(timeout=2.0, trust_env=False) as probe:
            while time.monotonic() < deadline and server.alive:
                try:
                    if probe.get(f"{server.url}/healthz").status_code == 200:
                        return server
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
        server.stop()
        last_log = server.log()
        if "address already in use" not in last_log.lower():
            break
    pytest.fail(f"argus serve ({name}) did not answer /healthz within {STARTUP_TIMEOUT_S:.0f} s "
                f"(exit code {process.returncode}). Its log:\n{last_log[-6000:]}", pytrace=False)


# ------------------------------------------------------------------------------------ the store

def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _build_tiny_models(repository: ModelRepository, scratch: Path) -> None:
    seg = onnx_builders.yolov8_seg(SEG_BOXES, SEG_SCORES, SEG_COEFFICIENTS, SEG_PROTOS)
    import_model(onnx_builders.save(seg, scratch / "seg.onnx"), SEG_ID, repository,
                 family="yolov8-seg", task="instance-segmentation", class_names=SEG_CLASSES)
    pose = onnx_builders.yolov8_pose(POSE_BOXES, POSE_SCORES, POSE_KEYPOINTS)
    import_model(onnx_builders.save(pose, scratch / "pose.onnx"), POSE_ID, repository,
                 family="yolov8-pose", task="keypoint-detection", class_names=["person"],
                 keypoint_names=POSE_KEYPOINT_NAMES)
    cls = onnx_builders.classifier(CLS_LOGITS)
    import_model(onnx_builders.save(cls, scratch / "cls.onnx"), CLS_ID, repository,
                 task="classification", class_names=CLS_CLASSES)


@pytest.fixture(scope="session")
def server_home(tmp_path_factory: pytest.TempPathFactory, zoo_settings: Settings) -> Path:
    """An ARGUS_HOME whose store holds the zoo detector, the tiny models and a corrupt model."""
    home = tmp_path_factory.mktemp("live-home")
    repository = ModelRepository(home / "models")
    zoo = Zoo(zoo_settings)
    entry = zoo.entry_for(DETECTOR_ALIAS)
    assert entry is not None, f"the built-in zoo lost {DETECTOR_ALIAS}"
    stored = zoo.materialise(entry)
    shutil.copytree(stored.path, repository.directory(DETECTOR_ID), copy_function=_link_or_copy)
    scratch = tmp_path_factory.mktemp("tiny-models")
    _build_tiny_models(repository, scratch)
    broken = repository.directory(BROKEN_ID)
    broken.mkdir(parents=True)
    shutil.copyfile(repository.directory(CLS_ID) / MANIFEST_FILE, broken / MANIFEST_FILE)
    (broken / MODEL_FILE).write_bytes(b"this is not an ONNX model \x00\xff" * 64)
    return home


@dataclass(frozen=True)
class ModelIds:
    """The ids in :func:`server_home`'s store (test modules get them through the ``model_ids`` fixture)."""

    detector: str = DETECTOR_ID
    detector_alias: str = DETECTOR_ALIAS
    seg: str = SEG_ID
    pose: str = POSE_ID
    cls: str = CLS_ID
    broken: str = BROKEN_ID
    api_key: str = API_KEY


@pytest.fixture(scope="session")
def model_ids() -> ModelIds:
    """Model ids of the live servers' store and the secured server's key."""
    return ModelIds()


@pytest.fixture(scope="session")
def server_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where server logs go."""
    return tmp_path_factory.mktemp("server-logs")


@pytest.fixture(scope="session")
def live_server(server_home: Path, server_logs: Path) -> Iterator[LiveServer]:
    """An open server (no API keys) over :func:`server_home`."""
    server = start_server(server_home, server_logs, name="live")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def secured_server(server_home: Path, server_logs: Path) -> Iterator[LiveServer]:
    """A server over the same store that requires ``ARGUS_API_KEYS=test-key-1``."""
    server = start_server(server_home, server_logs, {"ARGUS_API_KEYS": API_KEY}, name="secured")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def launch_server(server_home: Path, server_logs: Path) -> Iterator[Callable[..., LiveServer]]:
    """Start more servers over :func:`server_home` with extra environment; all stop at session end.

    ``launch_server({"ARGUS_MAX_BODY_BYTES": "200000"}, name="small")``; call ``.stop()`` earlier if done.
    """
    started: list[LiveServer] = []

    def launch(extra_env: Mapping[str, str] | None = None, name: str = "extra") -> LiveServer:
        server = start_server(server_home, server_logs, extra_env, name=name)
        started.append(server)
        return server

    yield launch
    for server in started:
        server.stop()


@pytest.fixture
def http(live_server: LiveServer) -> Iterator[httpx.Client]:
    """An httpx client on :func:`live_server`."""
    with live_server.client() as client:
        yield client


# ------------------------------------------------------------------------------------- images

@pytest.fixture(scope="session")
def collage_jpg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 1280x720 collage (astronaut, cat, motorbike, coffee) as a JPEG file."""
    path = tmp_path_factory.mktemp("images") / "collage.jpg"
    assert cv2.imwrite(str(path), collage(), [cv2.IMWRITE_JPEG_QUALITY, 90])
    return path


@pytest.fixture(scope="session")
def astronaut_png() -> Path:
    """scikit-image's astronaut photo (512x512, no cat)."""
    return sample_photo("astronaut.png")


@pytest.fixture(scope="session")
def collage_b64(collage_jpg: Path) -> str:
    """The collage JPEG as base64 text."""
    return base64.b64encode(collage_jpg.read_bytes()).decode()
