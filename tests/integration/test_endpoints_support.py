"""Support for the endpoint tests (no tests here): a model store with two versions of a tiny classifier, a load
generator, and finding the replica processes of an endpoint."""

from __future__ import annotations

import base64
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import cv2
import httpx
import numpy as np
import psutil

import onnx_builders
from argus.store.importers import import_model
from argus.store.repository import MANIFEST_FILE, MODEL_FILE, ModelRepository

CLASSES = ["dog", "cat", "car"]
# tiny-cls/1 always answers "cat", tiny-cls/2 always "dog": an oracle for which version served a request.
VERSIONS = {"tiny-cls/1": ([0.5, 3.0, 0.1], "cat"), "tiny-cls/2": ([3.0, 0.5, 0.1], "dog")}
HOLD = {"X-Scale-Up-Timeout": "120"}


def build_store(directory: Path) -> Path:
    """A model store holding tiny-cls/1, tiny-cls/2 and broken/1 (a valid manifest over garbage bytes)."""
    repository = ModelRepository(directory)
    for model_id, (logits, _top) in VERSIONS.items():
        model = onnx_builders.classifier(np.array(logits))
        onnx_file = onnx_builders.save(model, directory.parent / f"{model_id.replace('/', '-')}.onnx")
        import_model(onnx_file, model_id, repository, task="classification", class_names=CLASSES)
    broken = repository.directory("broken/1")
    broken.mkdir(parents=True)
    shutil.copyfile(repository.directory("tiny-cls/1") / MANIFEST_FILE, broken / MANIFEST_FILE)
    (broken / MODEL_FILE).write_bytes(b"not an ONNX model" * 64)
    return directory


def image_body() -> dict[str, Any]:
    """A classification request (the router sets model_id to the endpoint's model)."""
    ok, jpeg = cv2.imencode(".jpg", np.full((48, 48, 3), 127, np.uint8))
    assert ok
    return {"model_id": "unused/1", "image": {"type": "base64", "value": base64.b64encode(jpeg.tobytes()).decode()}}


def spec(name: str, model: str = "tiny-cls/1", *, kind: str = "public", min_replica: int = 0, max_replica: int = 1,
         idle_minutes: float | None = None, threshold: float | None = None) -> dict[str, Any]:
    """An endpoint body."""
    scaling: dict[str, Any] = {"minReplica": min_replica, "maxReplica": max_replica}
    if idle_minutes is not None:
        scaling["scaleToZeroTimeout"] = idle_minutes
    if threshold is not None:
        scaling["measure"] = {"pendingRequests": threshold}
    return {"name": name, "type": kind, "model": {"repository": model}, "compute": {"scaling": scaling}}


def wait_for(probe: Callable[[], Any], what: str, timeout: float = 90.0, every: float = 0.1) -> Any:
    """Poll ``probe`` until it returns something truthy; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


@dataclass
class Outcome:
    """One request's result."""

    status: int
    top: str | None
    replica: str | None
    message: str = ""


@dataclass
class Load:
    """Clients that send requests in a loop until stopped (threads, each with its own connection)."""

    url: str
    clients: int
    headers: dict[str, str] = field(default_factory=dict)
    outcomes: list[Outcome] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def _run(self) -> None:
        body = image_body()
        with httpx.Client(timeout=120, trust_env=False) as client:
            while not self._stop.is_set():
                try:
                    response = client.post(self.url, json=body, headers=self.headers)
                except httpx.HTTPError as error:
                    self.outcomes.append(Outcome(0, None, None, f"{type(error).__name__}: {error}"))
                    continue
                top = response.json().get("top") if response.status_code == 200 else None
                self.outcomes.append(Outcome(response.status_code, top, response.headers.get("x-argus-replica"),
                                             "" if response.status_code == 200 else response.text[:300]))

    def __enter__(self) -> Self:
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(self.clients)]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=150)

    def count(self) -> int:
        """Requests answered so far."""
        return len(self.outcomes)

    def failures(self) -> list[Outcome]:
        """Everything that was not a 200."""
        return [o for o in self.outcomes if o.status != 200]


def replica_processes(server_pid: int, namespace: str, name: str) -> list[psutil.Process]:
    """Live replica processes of an endpoint (children of the server whose working directory is its log folder)."""
    found = []
    for child in psutil.Process(server_pid).children():
        try:
            if "argus.cli.replica" in " ".join(child.cmdline()) and \
                    Path(child.cwd()).parts[-2:] == (namespace, name) and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
        except psutil.Error:
            continue
    return found
