"""Ultralytics ONNX exports: task, class names, image size and keypoint shape come from metadata_props."""

from __future__ import annotations

import ast
from typing import Any

from argus.errors import InvalidInputError
from argus.store.importers.inspect import GraphInterface, guess_family
from argus.store.manifest import Family, ModelManifest, Normalization, ResizeMode, Task

_TASKS = {
    "detect": Task.OBJECT_DETECTION,
    "segment": Task.INSTANCE_SEGMENTATION,
    "pose": Task.KEYPOINT_DETECTION,
    "classify": Task.CLASSIFICATION,
}
COCO_KEYPOINTS = [
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle",
]
COCO_SKELETON = [
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8), (7, 9), (8, 10),
    (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
]


def is_ultralytics(interface: GraphInterface) -> bool:
    """True when the graph carries ultralytics export metadata."""
    meta = interface.metadata
    return "names" in meta and "task" in meta and ("imgsz" in meta or "stride" in meta)


def _literal(text: str | None, what: str) -> Any:
    try:
        return ast.literal_eval(text) if text else None
    except (ValueError, SyntaxError):
        raise InvalidInputError(f"ultralytics metadata '{what}' is not readable: {text!r}") from None


def manifest_from_ultralytics(interface: GraphInterface, **overrides: Any) -> ModelManifest:
    """A manifest from ultralytics metadata (overrides win)."""
    meta = interface.metadata
    task = _TASKS.get(meta.get("task", ""))
    if task is None:
        raise InvalidInputError(f"ultralytics task {meta.get('task')!r} is not supported (detect, segment, pose, classify)")
    names = _literal(meta.get("names"), "names") or {}
    class_names = [str(names[k]) for k in sorted(names)] if isinstance(names, dict) else [str(n) for n in names]
    imgsz = _literal(meta.get("imgsz"), "imgsz")
    height, width = (imgsz, imgsz) if isinstance(imgsz, int) else tuple(imgsz or interface.input_hw)
    fields: dict[str, Any] = {
        "task": task,
        "input_width": width,
        "input_height": height,
        "class_names": class_names,
        "resize": ResizeMode.CENTER_CROP if task == Task.CLASSIFICATION else ResizeMode.LETTERBOX,
        "normalization": Normalization(),
        "license": meta.get("license"),
        "source": f"ultralytics {meta.get('version', '')}".strip(),
        "confidence": 0.25 if task != Task.CLASSIFICATION else 0.4,
        "iou_threshold": 0.45,
    }
    if task == Task.CLASSIFICATION:
        fields["family"] = Family.CLASSIFIER
        fields["outputs_probabilities"] = True
    elif str(meta.get("end2end", "")).lower() == "true":
        fields["family"] = Family.YOLO_END2END
    elif task == Task.KEYPOINT_DETECTION:
        fields["family"] = Family.YOLOV8_POSE
        shape = _literal(meta.get("kpt_shape"), "kpt_shape") or [17, 3]
        if int(shape[0]) == 17:
            fields["keypoint_names"], fields["skeleton"] = COCO_KEYPOINTS, COCO_SKELETON
        else:
            fields["keypoint_names"] = [str(k) for k in range(int(shape[0]))]
    else:
        fields["family"] = guess_family(interface, len(class_names))
    fields.update({k: v for k, v in overrides.items() if v is not None})
    return ModelManifest(**fields)
