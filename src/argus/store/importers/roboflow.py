"""Roboflow Inference model-cache folders: weights.onnx, environment.json, class_names.txt, model_type.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from argus.errors import InvalidInputError
from argus.store.importers.inspect import guess_family, read_interface
from argus.store.manifest import Family, ModelManifest, Normalization, ResizeMode, Task

WEIGHT_NAMES = ("weights.onnx", "yolov5s_weights.onnx", "best.onnx", "model.onnx")
_FIT_PAD = {"Fit (black edges) in": 0, "Fit (white edges) in": 255, "Fit (grey edges) in": 114}
_TASKS = {
    "object-detection": Task.OBJECT_DETECTION,
    "instance-segmentation": Task.INSTANCE_SEGMENTATION,
    "keypoint-detection": Task.KEYPOINT_DETECTION,
    "classification": Task.CLASSIFICATION,
}


def is_roboflow_cache(path: Path) -> bool:
    """True for a folder in the layout of Roboflow's model cache."""
    return path.is_dir() and (path / "environment.json").is_file() and any((path / n).is_file() for n in WEIGHT_NAMES)


def weights_file(path: Path) -> Path:
    """The ONNX weights inside a cache folder."""
    for name in WEIGHT_NAMES:
        if (path / name).is_file():
            return path / name
    raise InvalidInputError(f"no ONNX weights ({', '.join(WEIGHT_NAMES)}) in {path}")


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise InvalidInputError(f"{path.name} is not valid JSON ({error})") from None


def manifest_from_roboflow(path: Path, **overrides: Any) -> ModelManifest:
    """A manifest from a Roboflow model-cache folder (overrides win)."""
    environment = _read_json(path / "environment.json")
    model_type = _read_json(path / "model_type.json")
    preprocessing = environment.get("PREPROCESSING") or {}
    if isinstance(preprocessing, str):
        preprocessing = json.loads(preprocessing)
    resize = preprocessing.get("resize", {})
    class_names = _class_names(path, environment)
    multilabel = bool(environment.get("MULTICLASS"))
    task = _TASKS.get(model_type.get("project_task_type", "object-detection"), Task.OBJECT_DETECTION)
    if task == Task.CLASSIFICATION and multilabel:
        task = Task.MULTI_LABEL_CLASSIFICATION
    interface = read_interface(weights_file(path))
    height, width = interface.input_hw
    fields: dict[str, Any] = {
        "task": task,
        "family": _family(str(model_type.get("model_type", "")), interface, class_names, task),
        "input_width": int(resize.get("width") or width or 640),
        "input_height": int(resize.get("height") or height or 640),
        "class_names": class_names,
        "resize": ResizeMode.STRETCH,
        "source": f"roboflow cache {model_type.get('model_id', path.name)}",
    }
    fit = resize.get("format", "Stretch to")
    if fit in _FIT_PAD:
        fields["resize"], fields["pad_value"] = ResizeMode.LETTERBOX, _FIT_PAD[fit]
    if task in (Task.CLASSIFICATION, Task.MULTI_LABEL_CLASSIFICATION):
        # Roboflow classifiers are trained on (x/255 - 0.5) / 0.5.
        fields["normalization"] = Normalization(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    keypoints = _read_json(path / "keypoints_metadata.json") if (path / "keypoints_metadata.json").is_file() else {}
    if keypoints:
        fields["keypoint_names"] = _keypoint_names(keypoints)
    fields.update({k: v for k, v in overrides.items() if v is not None})
    return ModelManifest(**fields)


def _class_names(path: Path, environment: dict[str, Any]) -> list[str]:
    names_file = path / "class_names.txt"
    if names_file.is_file():
        return [line.strip() for line in names_file.read_text().splitlines() if line.strip()]
    class_map = environment.get("CLASS_MAP") or {}
    return [str(class_map[k]) for k in sorted(class_map, key=int)]


def _family(model_type: str, interface: Any, class_names: list[str], task: Task) -> Family:
    kind = model_type.lower()
    if task in (Task.CLASSIFICATION, Task.MULTI_LABEL_CLASSIFICATION):
        return Family.CLASSIFIER
    if "detr" in kind:
        return Family.DETR
    if task == Task.KEYPOINT_DETECTION:
        return Family.YOLOV8_POSE
    if task == Task.INSTANCE_SEGMENTATION:
        return Family.YOLOV5_SEG if kind.startswith("yolov5") else Family.YOLOV8_SEG
    if kind.startswith(("yolov5", "yolov7")):
        return Family.YOLOV5
    if kind.startswith("yolov10"):
        return Family.YOLO_END2END
    return guess_family(interface, len(class_names))


def _keypoint_names(metadata: Any) -> list[str]:
    """Keypoint names from Roboflow's keypoints_metadata.json (a list per class; the first class is used)."""
    entries = metadata if isinstance(metadata, list) else [metadata]
    for entry in entries:
        names = entry.get("keypoints") if isinstance(entry, dict) else None
        if isinstance(names, dict):
            return [str(names[k]) for k in sorted(names, key=int)]
    return []
