"""Workflow cases run by the reference's execution engine and by Argus, and how their outputs are compared.

This module imports neither Argus nor the reference: ``scripts/workflow_reference_capture.py`` uses it inside
the reference's virtual environment (Roboflow Inference 1.8.3) to write each case's ``reference.json``, and
``tests/unit/workflows/test_reference_fixtures.py`` uses it to check Argus's outputs against those fixtures.

A case is a folder under ``tests/fixtures/workflow_reference/`` with ``case.json``:

- ``blocks``: the block types it checks; ``definition``: the workflow;
- ``runs``: the inputs of each ``run`` call, in order, on one compiled workflow (so stateful blocks see a video).
  ``{"$png": "inputs/x.png"}`` is an image from the case folder, ``{"$png": ..., "video_metadata": {...}}`` one
  with its frame metadata; anything else is passed as given (detections as a model route's JSON);
- ``tolerance`` (optional): ``atol``/``rtol`` for numbers, ``image_mean_abs``/``image_max_abs`` for pixels,
  ``iou`` for boxes and masks;
- ``differs`` (optional): ``{output: why}`` for outputs where Argus deliberately answers otherwise (a reference
  bug, a security rule): those are not compared, and the reason stays with the fixture;
- ``ignore_data`` (optional): detection ``data`` keys not compared (random ids are never compared);
- ``environment`` (optional): variables set in the process while both engines run; ``settings`` (optional): Argus
  settings the case needs (what the reference allows by default and Argus only when the operator says so);
- ``models`` (optional): ids of models under ``_models/`` (Roboflow's model-cache layout: weights.onnx,
  model_type.json, environment.json), which the reference loads from its offline cache and Argus imports.

Outputs are encoded the same way on both sides: images as PNG files (lossless), detections as their arrays,
numbers and strings as JSON.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import supervision as sv

CASES_DIR = Path(__file__).parent / "fixtures" / "workflow_reference"
MODELS_DIR = CASES_DIR / "_models"
# Ids made fresh on every run (uuid4), so never equal between two engines.
RANDOM_DATA_KEYS = {"detection_id", "inference_id", "parent_id", "root_parent_id", "prediction_type"}
DEFAULT_TOLERANCE = {"atol": 1e-6, "rtol": 1e-4, "image_mean_abs": 0.5, "image_max_abs": 2, "iou": 0.98}

ImageSink = Callable[[str, np.ndarray], str]


@dataclass
class Case:
    """One case folder: the definition, the runs' inputs, and how closely outputs must agree."""

    folder: Path
    blocks: list[str]
    definition: dict[str, Any]
    runs: list[dict[str, Any]]
    tolerance: dict[str, float] = field(default_factory=dict)
    differs: dict[str, str] = field(default_factory=dict)
    ignore_data: list[str] = field(default_factory=list)
    environment: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    models: list[str] = field(default_factory=list)

    @contextmanager
    def environ(self) -> Iterator[None]:
        """The case's environment variables set for the duration, then restored."""
        saved = {name: os.environ.get(name) for name in self.environment}
        os.environ.update(self.environment)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    @property
    def name(self) -> str:
        return self.folder.name

    def limit(self, key: str) -> float:
        return float(self.tolerance.get(key, DEFAULT_TOLERANCE[key]))

    def inputs(self, run: int) -> dict[str, Any]:
        """The inputs of run ``run`` with ``$png`` images read from the case folder (BGR, as both engines take)."""
        return {name: _resolve(self.folder, value) for name, value in self.runs[run].items()}


def load_case(folder: Path) -> Case:
    spec = json.loads((folder / "case.json").read_text())
    return Case(folder=folder, blocks=spec["blocks"], definition=spec["definition"], runs=spec["runs"],
                tolerance=spec.get("tolerance", {}), differs=spec.get("differs", {}),
                ignore_data=spec.get("ignore_data", []), environment=spec.get("environment", {}),
                settings=spec.get("settings", {}), models=spec.get("models", []))


def all_cases() -> list[Case]:
    return [load_case(folder) for folder in sorted(CASES_DIR.iterdir()) if (folder / "case.json").is_file()]


def _resolve(folder: Path, value: Any) -> Any:
    if isinstance(value, dict) and "$png" in value:
        pixels = cv2.imread(str(folder / value["$png"]), cv2.IMREAD_UNCHANGED)
        if pixels is None:
            raise FileNotFoundError(folder / value["$png"])
        image: dict[str, Any] = {"type": "numpy_object", "value": pixels}
        if "video_metadata" in value:
            image["video_metadata"] = value["video_metadata"]
        return image
    if isinstance(value, list):
        return [_resolve(folder, item) for item in value]
    return value


# ---------------------------------------------------------------- encoding


def encode(value: Any, save_image: ImageSink, path: str = "out") -> Any:
    """``value`` (a workflow output) as JSON; images go through ``save_image(path, pixels)``, which names them."""
    if isinstance(value, sv.Detections):
        return {"$detections": _encode_detections(value)}
    if hasattr(value, "numpy_image") and hasattr(value, "parent_metadata"):
        return {"$image": save_image(path, np.asarray(value.numpy_image))}
    if isinstance(value, np.ndarray):
        return {"$array": _plain(value.tolist()), "dtype": str(value.dtype)}
    if isinstance(value, dict):
        return {str(k): encode(v, save_image, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v, save_image, f"{path}.{i}") for i, v in enumerate(value)]
    return _plain(value)


def _plain(value: Any) -> Any:
    if isinstance(value, (np.generic,)):
        return _plain(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return {"$float": repr(value)}
    if isinstance(value, (dt.datetime, dt.date, dt.timedelta)):
        return {"$time": str(value)}
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return {"$repr": type(value).__name__}


def _encode_detections(detections: sv.Detections) -> dict[str, Any]:
    out: dict[str, Any] = {"xyxy": detections.xyxy.astype(float).tolist()}
    for name in ("confidence", "class_id", "tracker_id"):
        array = getattr(detections, name)
        out[name] = None if array is None else _plain(np.asarray(array).tolist())
    out["mask"] = None if detections.mask is None else [
        base64.b64encode(np.packbits(m.astype(bool)).tobytes()).decode() for m in detections.mask]
    out["mask_shape"] = None if detections.mask is None else list(detections.mask.shape[1:])
    out["data"] = {key: _plain(np.asarray(v, dtype=object).tolist() if np.asarray(v).dtype == object
                               else np.asarray(v).tolist()) for key, v in detections.data.items()}
    return out


def png_writer(folder: Path, prefix: str) -> ImageSink:
    """An image sink that writes ``folder/<prefix>.<path>.png`` and returns the name relative to ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)

    def save(path: str, pixels: np.ndarray) -> str:
        name = f"{prefix}.{path}.png"
        cv2.imwrite(str(folder / name), pixels)
        return name
    return save


def memory_images() -> tuple[ImageSink, dict[str, np.ndarray]]:
    """An image sink that keeps the pixels in a dict (the Argus side of a comparison)."""
    kept: dict[str, np.ndarray] = {}

    def save(path: str, pixels: np.ndarray) -> str:
        kept[path] = pixels
        return path
    return save, kept


# ---------------------------------------------------------------- comparison


def compare(case: Case, expected: Any, actual: Any, expected_images: Callable[[str], np.ndarray],
            actual_images: dict[str, np.ndarray], path: str = "") -> list[str]:
    """Every place where ``actual`` (Argus) differs from ``expected`` (the reference) beyond the case's tolerance."""
    if isinstance(expected, dict) and "$image" in expected:
        if not isinstance(actual, dict) or "$image" not in actual:
            return [f"{path}: expected an image, got {_short(actual)}"]
        return _compare_images(case, expected_images(expected["$image"]), actual_images[actual["$image"]], path)
    if isinstance(expected, dict) and "$detections" in expected:
        if not isinstance(actual, dict) or "$detections" not in actual:
            return [f"{path}: expected detections, got {_short(actual)}"]
        return _compare_detections(case, expected["$detections"], actual["$detections"], path)
    if isinstance(expected, dict) and "$array" in expected:
        if not isinstance(actual, dict) or "$array" not in actual:
            return [f"{path}: expected an array, got {_short(actual)}"]
        return compare(case, expected["$array"], actual["$array"], expected_images, actual_images, path)
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {_short(actual)}"]
        problems = [f"{path}: keys differ: {sorted(expected)} vs {sorted(actual)}"] if set(expected) != set(actual) \
            else []
        for key in expected:
            if key in actual and key not in case.differs:
                problems += compare(case, expected[key], actual[key], expected_images, actual_images, f"{path}.{key}")
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: expected {len(expected)} items, got {_short(actual)}"]
        return [p for i, (e, a) in enumerate(zip(expected, actual))
                for p in compare(case, e, a, expected_images, actual_images, f"{path}[{i}]")]
    if _random_id(expected) and _random_id(actual):  # fresh uuid4s (inference ids, ...): never equal, both valid
        return []
    if isinstance(expected, bool) or isinstance(actual, bool) or not _number(expected) or not _number(actual):
        return [] if expected == actual else [f"{path}: expected {_short(expected)}, got {_short(actual)}"]
    if math.isclose(float(expected), float(actual), rel_tol=case.limit("rtol"), abs_tol=case.limit("atol")):
        return []
    return [f"{path}: expected {expected}, got {actual}"]


def _random_id(value: Any) -> bool:
    try:
        return isinstance(value, str) and uuid.UUID(value).version == 4
    except ValueError:
        return False


def _number(value: Any) -> bool:
    return isinstance(value, (int, float))


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) < 120 else text[:117] + "..."


def _compare_images(case: Case, expected: np.ndarray, actual: np.ndarray, path: str) -> list[str]:
    # a one-channel image may be H×W or H×W×1; PNG keeps only the former
    expected, actual = (a[:, :, 0] if a.ndim == 3 and a.shape[2] == 1 else a for a in (expected, actual))
    if expected.shape != actual.shape:
        return [f"{path}: image shape {actual.shape}, the reference's {expected.shape}"]
    difference = np.abs(expected.astype(np.int32) - actual.astype(np.int32))
    mean, peak = float(difference.mean()) if difference.size else 0.0, int(difference.max(initial=0))
    if mean > case.limit("image_mean_abs") or peak > case.limit("image_max_abs"):
        return [f"{path}: pixels differ by {mean:.3f} on average, {peak} at most"]
    return []


def _iou(a: list[float], b: list[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return 1.0 if union <= 0 and a == b else inter / union if union > 0 else 0.0


def _mask(encoded: str, shape: list[int]) -> np.ndarray:
    bits = np.unpackbits(np.frombuffer(base64.b64decode(encoded), np.uint8))[: shape[0] * shape[1]]
    return bits.reshape(shape).astype(bool)


def _compare_detections(case: Case, expected: dict[str, Any], actual: dict[str, Any], path: str) -> list[str]:
    """Detections in the same order, each box within the IoU limit, then every field row by row."""
    e_boxes, a_boxes = expected["xyxy"], actual["xyxy"]
    if len(e_boxes) != len(a_boxes):
        return [f"{path}: {len(a_boxes)} detections, the reference has {len(e_boxes)}"]
    problems = [f"{path}[{i}]: box {a} has IoU {_iou(e, a):.3f} with the reference's {e}"
                for i, (e, a) in enumerate(zip(e_boxes, a_boxes)) if _iou(e, a) < case.limit("iou")]
    for name in ("confidence", "class_id", "tracker_id"):
        if not e_boxes and not expected[name] and not actual[name]:
            continue  # no rows: an absent array and an empty one say the same
        problems += compare(case, expected[name], actual[name], _no_images, {}, f"{path}.{name}")
    if (expected["mask"] is None) != (actual["mask"] is None):
        problems.append(f"{path}.mask: one side has masks, the other not")
    elif expected["mask"] is not None:
        for i, (e, a) in enumerate(zip(expected["mask"], actual["mask"])):
            em, am = _mask(e, expected["mask_shape"]), _mask(a, actual["mask_shape"])
            union = np.logical_or(em, am).sum()
            iou = 1.0 if union == 0 else np.logical_and(em, am).sum() / union
            if iou < case.limit("iou"):
                problems.append(f"{path}.mask[{i}]: IoU {iou:.3f} with the reference's")
    skipped = RANDOM_DATA_KEYS | set(case.ignore_data)
    for key, value in expected["data"].items():
        if key in skipped:
            continue
        if key not in actual["data"]:
            problems.append(f"{path}.data: no '{key}', which the reference has")
            continue
        problems += compare(case, value, actual["data"][key], _no_images, {}, f"{path}.data.{key}")
    return problems


def _no_images(name: str) -> np.ndarray:
    raise AssertionError(f"no image expected here ({name})")


# ---------------------------------------------------------------- the Argus side


def run_argus(case: Case, home: Path) -> tuple[list[Any], dict[str, np.ndarray]]:
    """Argus's outputs for every run of ``case`` (one compiled workflow), encoded, and their images in memory."""
    from argus.runtime.manager import ModelManager
    from argus.settings import Settings
    from argus.store.importers import import_model
    from argus.store.repository import ModelRepository
    from argus.workflows import WorkflowContext, compile_workflow

    settings = Settings(home=home, intra_op_threads=1, inter_op_threads=1, **case.settings)
    manager = None
    if case.models:
        repository = ModelRepository(settings.model_store_dir)
        for model_id in case.models:
            import_model(MODELS_DIR / model_id, model_id, repository)
        manager = ModelManager(settings, repository)
    workflow = compile_workflow(case.definition, WorkflowContext(settings=settings, manager=manager))
    save, images = memory_images()
    with case.environ():
        runs = [encode(workflow.run(case.inputs(index)).outputs, save, f"run{index}.out")
                for index in range(len(case.runs))]
    return runs, images


def differences(case: Case, reference: dict[str, Any], reference_folder: Path, home: Path) -> list[str]:
    """Where Argus's outputs for ``case`` differ from the reference's (``reference.json`` in ``reference_folder``)."""
    runs, images = run_argus(case, home)

    def reference_image(name: str) -> np.ndarray:
        pixels = cv2.imread(str(reference_folder / name), cv2.IMREAD_UNCHANGED)
        assert pixels is not None, reference_folder / name
        return pixels
    return compare(case, reference["runs"], runs, reference_image, images, case.name)
