"""Tiny ONNX models whose outputs are known by construction, for testing the family decoders.

Every model has one input ``images`` (float32 ``[batch, 3, H, W]``, batch dynamic unless asked
otherwise) and outputs that are **constants**, so a test decides exactly which raw tensors the
decoder sees. Each output is computed as::

    output[b] = base + mean(images[b]) * delta        (delta defaults to 0)

so the input is used, the batch dimension follows the input, and, when a ``delta`` is given, the
output of each image depends on that image's content (an all-black image has mean 0, an all-white
one mean 1 after the default ``/255`` normalisation). That proves batched results are not mixed up.

The family builders take detections in the *decoded* vocabulary (centre boxes in input pixels,
class scores, keypoints ...) and lay them out as the real exporters do; rows beyond the given
detections are padded with zeros (score 0, so never above a threshold) up to ``anchors``.

Example:
    >>> import numpy as np
    >>> model = yolov8_detection(np.array([[32, 32, 16, 16]]), np.array([[0.9, 0.1]]))
    >>> [o.name for o in model.graph.output]
    ['output0']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8

__all__ = [
    "constant_model", "save", "ultralytics_metadata",
    "yolov5_raw", "yolov8_raw", "yolov8_pose_raw",
    "yolov5_detection", "yolov8_detection", "yolo_end2end", "yolov8_seg", "yolov5_seg", "yolov8_pose",
    "classifier", "colour_classifier", "detr", "ssd", "detection_model", "DETECTION_FAMILIES",
]


# --------------------------------------------------------------------------------------------- core

def constant_model(
    outputs: Mapping[str, np.ndarray],
    *,
    deltas: Mapping[str, np.ndarray] | None = None,
    height: int = 64,
    width: int = 64,
    batch: int | None = None,
    metadata: Mapping[str, str] | None = None,
    dynamic_dims: Mapping[str, Mapping[int, str]] | None = None,
    dynamic_input: bool = False,
) -> onnx.ModelProto:
    """A graph whose output ``name`` is ``outputs[name] + mean(image) * deltas[name]`` per image.

    Args:
        outputs: per-image output arrays (no batch axis), in graph-output order.
        deltas: optional per-image arrays of the same shapes, scaled by each image's mean.
        height, width: the image input's spatial size.
        batch: a static batch size, or None for a dynamic ``batch`` dimension.
        metadata: ``metadata_props`` (for example :func:`ultralytics_metadata`).
        dynamic_dims: per output, per-image axis → dim_param name to declare instead of its size
            (axis 0 is the first axis after the batch), as exports with ``dynamic=True`` do.
        dynamic_input: declare the input's height and width dynamic too (``height``, ``width``).
    """
    deltas = dict(deltas or {})
    dynamic_dims = dict(dynamic_dims or {})
    batch_dim: int | str = batch if batch is not None else "batch"
    nodes = [helper.make_node("ReduceMean", ["images"], ["image_mean"], axes=[1, 2, 3], keepdims=1)]
    initialisers = []
    graph_outputs = []
    for name, value in outputs.items():
        base = np.asarray(value, dtype=np.float32)
        delta = np.asarray(deltas.get(name, np.zeros_like(base)), dtype=np.float32)
        if delta.shape != base.shape:
            raise ValueError(f"delta of {name} has shape {delta.shape}, the output {base.shape}")
        initialisers += [
            numpy_helper.from_array(base[None], f"{name}_base"),
            numpy_helper.from_array(delta[None], f"{name}_delta"),
            numpy_helper.from_array(np.array([-1] + [1] * base.ndim, dtype=np.int64), f"{name}_mean_shape"),
        ]
        nodes += [
            helper.make_node("Reshape", ["image_mean", f"{name}_mean_shape"], [f"{name}_mean"]),
            helper.make_node("Mul", [f"{name}_mean", f"{name}_delta"], [f"{name}_shift"]),
            helper.make_node("Add", [f"{name}_base", f"{name}_shift"], [name]),
        ]
        dims: list[int | str] = [batch_dim] + list(base.shape)
        for axis, param in dynamic_dims.get(name, {}).items():
            dims[axis + 1] = param
        graph_outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, dims))
    graph = helper.make_graph(
        nodes,
        "argus-test-constant",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT,
                                       [batch_dim, 3, "height", "width"] if dynamic_input
                                       else [batch_dim, 3, height, width])],
        graph_outputs,
        initializer=initialisers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="argus-tests")
    model.ir_version = IR_VERSION
    for key, value in (metadata or {}).items():
        model.metadata_props.append(onnx.StringStringEntryProto(key=key, value=str(value)))
    onnx.checker.check_model(model)
    return model


def save(model: onnx.ModelProto, path: Path) -> Path:
    """Write ``model`` to ``path`` and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def ultralytics_metadata(task: str, names: Sequence[str], imgsz: Sequence[int] = (64, 64), *,
                         stride: int = 32, kpt_shape: Sequence[int] | None = None,
                         **extra: Any) -> dict[str, str]:
    """``metadata_props`` as an ultralytics export writes them (python reprs of dicts and lists)."""
    meta = {
        "description": "Ultralytics test model",
        "author": "Ultralytics",
        "version": "8.3.0",
        "license": "AGPL-3.0 License (https://ultralytics.com/license)",
        "stride": str(stride),
        "task": task,
        "batch": "1",
        "imgsz": str(list(imgsz)),
        "names": str(dict(enumerate(names))),
    }
    if kpt_shape is not None:
        meta["kpt_shape"] = str(list(kpt_shape))
    meta.update({k: str(v) for k, v in extra.items()})
    return meta


# ------------------------------------------------------------------------------------ raw layouts

def _rows(*columns: np.ndarray, anchors: int) -> np.ndarray:
    """Stack per-detection columns ``(N, k)`` side by side and pad with zero rows to ``anchors``."""
    parts = [np.asarray(c, dtype=np.float32).reshape(len(c), -1) for c in columns]
    rows = np.concatenate(parts, axis=1)
    if len(rows) > anchors:
        raise ValueError(f"{len(rows)} detections do not fit in {anchors} anchors")
    padded = np.zeros((anchors, rows.shape[1]), dtype=np.float32)
    padded[: len(rows)] = rows
    return padded


def yolov5_raw(boxes_cxcywh: np.ndarray, objectness: np.ndarray, class_scores: np.ndarray,
               extra: np.ndarray | None = None, anchors: int = 32) -> np.ndarray:
    """``[N, 5 + nc (+ extra)]``: cx, cy, w, h (input px), objectness, class scores (, extra)."""
    columns = [boxes_cxcywh, np.asarray(objectness).reshape(-1, 1), class_scores]
    if extra is not None:
        columns.append(extra)
    return _rows(*columns, anchors=anchors)


def yolov8_raw(boxes_cxcywh: np.ndarray, class_scores: np.ndarray, extra: np.ndarray | None = None,
               anchors: int = 32) -> np.ndarray:
    """``[4 + nc (+ extra), N]``: one column per anchor (ultralytics v8/v11 layout)."""
    columns = [boxes_cxcywh, class_scores] + ([extra] if extra is not None else [])
    return _rows(*columns, anchors=anchors).T.copy()


def yolov8_pose_raw(boxes_cxcywh: np.ndarray, class_scores: np.ndarray, keypoints: np.ndarray,
                    anchors: int = 32) -> np.ndarray:
    """``[4 + nc + K·d, N]`` with keypoints ``(N, K, d)`` flattened as x, y(, visibility) per keypoint."""
    keypoints = np.asarray(keypoints, dtype=np.float32)
    return yolov8_raw(boxes_cxcywh, class_scores, keypoints.reshape(len(keypoints), -1), anchors)


# ------------------------------------------------------------------------------- family builders

def yolov5_detection(boxes_cxcywh: np.ndarray, objectness: np.ndarray, class_scores: np.ndarray, *,
                     anchors: int = 32, **kwargs: Any) -> onnx.ModelProto:
    """YOLOv5/v7 detection: ``output0 [B, N, 5 + nc]``."""
    return constant_model({"output0": yolov5_raw(boxes_cxcywh, objectness, class_scores, anchors=anchors)},
                          **kwargs)


def yolov8_detection(boxes_cxcywh: np.ndarray, class_scores: np.ndarray, *, anchors: int = 32,
                     **kwargs: Any) -> onnx.ModelProto:
    """YOLOv8/v11 detection: ``output0 [B, 4 + nc, N]``."""
    return constant_model({"output0": yolov8_raw(boxes_cxcywh, class_scores, anchors=anchors)}, **kwargs)


def yolo_end2end(rows_xyxy_score_class: np.ndarray, *, anchors: int = 32, **kwargs: Any) -> onnx.ModelProto:
    """End-to-end (YOLOv10, NMS in graph): ``output0 [B, N, 6]`` of x1, y1, x2, y2, score, class."""
    return constant_model({"output0": _rows(rows_xyxy_score_class, anchors=anchors)}, **kwargs)


def yolov8_seg(boxes_cxcywh: np.ndarray, class_scores: np.ndarray, coefficients: np.ndarray,
               protos: np.ndarray, *, anchors: int = 32, **kwargs: Any) -> onnx.ModelProto:
    """YOLOv8-seg: ``output0 [B, 4 + nc + nm, N]`` and ``output1 [B, nm, mh, mw]`` prototypes."""
    prediction = yolov8_raw(boxes_cxcywh, class_scores, coefficients, anchors=anchors)
    return constant_model({"output0": prediction, "output1": np.asarray(protos, np.float32)}, **kwargs)


def yolov5_seg(boxes_cxcywh: np.ndarray, objectness: np.ndarray, class_scores: np.ndarray,
               coefficients: np.ndarray, protos: np.ndarray, *, anchors: int = 32, **kwargs: Any
               ) -> onnx.ModelProto:
    """YOLOv5-seg: ``output0 [B, N, 5 + nc + nm]`` and ``output1 [B, nm, mh, mw]`` prototypes."""
    prediction = yolov5_raw(boxes_cxcywh, objectness, class_scores, coefficients, anchors=anchors)
    return constant_model({"output0": prediction, "output1": np.asarray(protos, np.float32)}, **kwargs)


def yolov8_pose(boxes_cxcywh: np.ndarray, class_scores: np.ndarray, keypoints: np.ndarray, *,
                anchors: int = 32, **kwargs: Any) -> onnx.ModelProto:
    """YOLOv8-pose: ``output0 [B, 4 + nc + 3K, N]`` (visibility already a probability, as exported)."""
    return constant_model({"output0": yolov8_pose_raw(boxes_cxcywh, class_scores, keypoints, anchors)}, **kwargs)


def classifier(values: np.ndarray, *, name: str = "output0", **kwargs: Any) -> onnx.ModelProto:
    """Classifier: ``[B, C]`` logits or probabilities."""
    return constant_model({name: np.asarray(values, np.float32).reshape(-1)}, **kwargs)


def colour_classifier(head: np.ndarray, *, size: int = 32) -> onnx.ModelProto:
    """A real small CNN whose class is the image's dominant channel, as the ``head`` weighs it.

    3x3 box-filter convolution per channel (twice each) → Relu → 1x1 convolution folding the copies →
    Relu → global average pool → Gemm with ``head`` (``[3, classes]``) → Softmax. Its outputs depend on every
    pixel, so quantizing it changes them for real.
    """
    box = np.zeros((6, 3, 3, 3), np.float32)
    for out in range(6):
        box[out, out % 3] = 1 / 9
    fold = np.zeros((3, 6, 1, 1), np.float32)
    for channel in range(3):
        fold[channel, channel] = fold[channel, channel + 3] = 0.5
    head = np.asarray(head, np.float32)
    initialisers = [numpy_helper.from_array(box, "box"), numpy_helper.from_array(fold, "fold"),
                    numpy_helper.from_array(head, "head"),
                    numpy_helper.from_array(np.zeros(head.shape[1], np.float32), "head_bias")]
    nodes = [helper.make_node("Conv", ["images", "box"], ["boxed"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["boxed"], ["boxed_relu"]),
             helper.make_node("Conv", ["boxed_relu", "fold"], ["folded"]),
             helper.make_node("Relu", ["folded"], ["folded_relu"]),
             helper.make_node("GlobalAveragePool", ["folded_relu"], ["pooled"]),
             helper.make_node("Flatten", ["pooled"], ["features"]),
             helper.make_node("Gemm", ["features", "head", "head_bias"], ["logits"]),
             helper.make_node("Softmax", ["logits"], ["output0"], axis=1)]
    graph = helper.make_graph(
        nodes, "argus-test-colour-classifier",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, size, size])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, ["batch", head.shape[1]])],
        initializer=initialisers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="argus-tests")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def detr(boxes_cxcywh_normalised: np.ndarray, logits: np.ndarray, *,
         names: tuple[str, str] = ("dets", "labels"), **kwargs: Any) -> onnx.ModelProto:
    """DETR / RF-DETR: boxes ``[B, Q, 4]`` (cx, cy, w, h in 0..1) and class logits ``[B, Q, C]``."""
    return constant_model({names[0]: np.asarray(boxes_cxcywh_normalised, np.float32),
                           names[1]: np.asarray(logits, np.float32)}, **kwargs)


def ssd(boxes_yxyx_normalised: np.ndarray, scores: np.ndarray, classes: np.ndarray, num_detections: int,
        **kwargs: Any) -> onnx.ModelProto:
    """TF object-detection API: ``detection_boxes [B, N, 4]`` (ymin, xmin, ymax, xmax in 0..1),
    ``detection_scores [B, N]``, ``detection_classes [B, N]`` (float) and ``num_detections [B]``."""
    return constant_model({
        "detection_boxes": np.asarray(boxes_yxyx_normalised, np.float32),
        "detection_scores": np.asarray(scores, np.float32),
        "detection_classes": np.asarray(classes, np.float32),
        "num_detections": np.asarray(float(num_detections), np.float32),
    }, **kwargs)


# ------------------------------------------------------------------- one vocabulary, every layout

DETECTION_FAMILIES = ("yolov5", "yolov8", "yolo-end2end", "detr", "ssd")
"""Families :func:`detection_model` can build from the same boxes."""


def detection_model(family: str, boxes_xyxy: np.ndarray, scores: np.ndarray, class_ids: np.ndarray,
                    num_classes: int, *, height: int = 64, width: int = 64, **kwargs: Any) -> onnx.ModelProto:
    """A detector of ``family`` whose decoded output is exactly the given detections.

    ``boxes_xyxy`` are in network-input pixels; each detection scores ``scores[i]`` for class
    ``class_ids[i]`` and nothing for the others (YOLOv5 objectness is 1, DETR logits are the
    inverse sigmoid of the score, SSD boxes are normalised ``ymin, xmin, ymax, xmax``).
    """
    boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    class_ids = np.asarray(class_ids, dtype=np.int64).reshape(-1)
    n = len(boxes)
    cxcywh = np.concatenate([(boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2]], axis=1)
    one_hot = np.zeros((n, num_classes))
    one_hot[np.arange(n), class_ids] = scores
    size = dict(height=height, width=width, **kwargs)
    if family == "yolov5":
        return yolov5_detection(cxcywh, np.ones(n), one_hot, **size)
    if family == "yolov8":
        return yolov8_detection(cxcywh, one_hot, **size)
    if family == "yolo-end2end":
        return yolo_end2end(np.concatenate([boxes, scores[:, None], class_ids[:, None]], axis=1), **size)
    scale = np.array([width, height, width, height], dtype=np.float64)
    if family == "detr":
        queries = n + 3  # a few empty queries, as a real DETR always has
        logits = np.full((queries, num_classes), -20.0)
        logits[np.arange(n), class_ids] = np.log(scores / (1.0 - scores))
        normalised = np.zeros((queries, 4))
        normalised[:n] = cxcywh / scale
        return detr(normalised, logits, **size)
    if family == "ssd":
        rows = n + 2  # padding rows beyond num_detections, with high scores that must be ignored
        yx = np.zeros((rows, 4))
        yx[:n] = (boxes / scale)[:, [1, 0, 3, 2]]
        yx[n:] = [0.0, 0.0, 1.0, 1.0]
        padded_scores = np.concatenate([scores, np.full(rows - n, 0.99)])
        padded_classes = np.concatenate([class_ids, np.zeros(rows - n, dtype=np.int64)]).astype(np.float32)
        return ssd(yx, padded_scores, padded_classes, n, **size)
    raise ValueError(f"no builder for family {family!r}")
