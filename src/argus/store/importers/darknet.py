"""Convert a Darknet YOLO model (``.cfg`` + ``.weights``) to ONNX.

Pure numpy + :mod:`onnx.helper`; no Darknet, PyTorch or OpenCV needed. The
graph takes ``images`` (float32 ``[batch, 3, H, W]``, RGB in ``[0, 1]``) and
emits a single ``output0`` of shape ``[batch, N, 5 + nc]`` in the YOLOv5
layout: ``cx, cy, w, h`` in input pixels, sigmoid objectness, then per-class
sigmoid probabilities (not multiplied by objectness). Anchor/grid decoding
runs inside the graph. Rows are ordered head after head in cfg order and,
within a head, by ``(grid_y, grid_x, anchor)`` -- the order OpenCV's
Darknet importer uses -- so ``N = sum(gh * gw * len(mask))``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from argus.store.importers._darknet_cfg import (
    Section,
    Shape,
    activation,
    conv_params,
    infer_shapes,
    parse_cfg,
    pool_params,
    resolve_ref,
    yolo_params,
)

logger = logging.getLogger(__name__)

OPSET = 13
IR_VERSION = 8  # ONNX 1.10+; keeps the file loadable by older onnxruntime builds
#: Darknet's normalize_cpu divides by ``sqrt(var) + .000001f``; OpenCV's
#: importer uses ``sqrt(var + 1e-6)``. We follow OpenCV, the reference we test
#: against; the two differ by < 1e-6 relative for any non-degenerate variance.
BN_EPS = 1e-6
LEAKY_ALPHA = 0.1


@dataclass(frozen=True)
class DarknetConversion:
    """Summary of a finished conversion.

    Attributes:
        input_width: Network input width in pixels (``[net] width``).
        input_height: Network input height in pixels (``[net] height``).
        num_classes: Number of classes predicted by the YOLO heads.
        num_anchors_total: ``N``, the number of prediction rows in ``output0``.
    """

    input_width: int
    input_height: int
    num_classes: int
    num_anchors_total: int


def _read_weights(path: Path, expected: int) -> np.ndarray:
    """Read the float payload of a ``.weights`` file and check its length.

    Raises:
        ValueError: If the header is unreadable, the file is a transposed
            (major/minor >= 1000) variant, or the payload holds a different
            number of floats than the cfg needs.
    """
    raw = Path(path).read_bytes()
    if len(raw) < 16:
        raise ValueError(f"weights file {path} is too short to hold a Darknet header")
    major, minor, _revision = np.frombuffer(raw, dtype="<i4", count=3)
    if major >= 1000 or minor >= 1000:
        raise ValueError(f"weights file {path}: transposed weights (v{major}.{minor}) are not supported")
    offset = 20 if major * 10 + minor >= 2 else 16  # `seen` is int64 from v0.2 on
    payload = raw[offset:]
    n = len(payload) // 4
    if n != expected or len(payload) % 4:
        raise ValueError(f"weights file {path} has {n} floats, expected {expected}")
    return np.frombuffer(payload, dtype="<f4").astype(np.float32)


class _GraphBuilder:
    """Accumulates ONNX nodes and initializers with unique names."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def _name(self, hint: str) -> str:
        self._n += 1
        return f"{hint}_{self._n}"

    def const(self, hint: str, value: np.ndarray) -> str:
        """Add an initializer and return its name."""
        name = self._name(hint)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def ints(self, hint: str, values: list[int]) -> str:
        """Add an int64 1-D initializer (shapes, slice bounds) and return its name."""
        return self.const(hint, np.asarray(values, dtype=np.int64))

    def slice(self, x: str, lo: int, hi: int, axis: int) -> str:
        """Slice ``x[lo:hi]`` along ``axis``."""
        bounds = [self.ints("starts", [lo]), self.ints("ends", [hi]), self.ints("axes", [axis])]
        return self.op("Slice", [x, *bounds])

    def op(self, op_type: str, inputs: list[str], hint: str | None = None, **attrs: object) -> str:
        """Add a single-output node and return its output name."""
        out = self._name(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=f"{out}_node", **attrs))  # type: ignore[arg-type]
        return out

    def activation(self, x: str, act: str) -> str:
        """Apply a Darknet activation by name."""
        if act == "leaky":
            return self.op("LeakyRelu", [x], alpha=LEAKY_ALPHA)
        if act == "relu":
            return self.op("Relu", [x])
        if act == "logistic":
            return self.op("Sigmoid", [x])
        if act == "mish":
            return self.op("Mul", [x, self.op("Tanh", [self.op("Softplus", [x])])])
        return x


def _emit_conv(
    g: _GraphBuilder, x: str, sec: Section, in_c: int, data: np.ndarray, cursor: int
) -> tuple[str, int]:
    """Emit Conv (+ activation) with BatchNorm folded in; return output and new cursor."""
    filters, size, stride, pad, groups = conv_params(sec)

    def take(n: int) -> np.ndarray:
        nonlocal cursor
        cursor += n
        return data[cursor - n : cursor]

    bias = take(filters).astype(np.float64)
    if sec.get_int("batch_normalize", 0):
        gamma, mean, var = (take(filters).astype(np.float64) for _ in range(3))
        scale = gamma / np.sqrt(var + BN_EPS)
        bias = bias - mean * scale
    else:
        scale = np.ones(filters)
    weight = take(filters * (in_c // groups) * size * size).reshape(filters, in_c // groups, size, size)
    weight = (weight * scale[:, None, None, None]).astype(np.float32)
    y = g.op(
        "Conv",
        [x, g.const("conv_w", weight), g.const("conv_b", bias.astype(np.float32))],
        kernel_shape=[size, size], strides=[stride, stride], pads=[pad] * 4, group=groups,
    )
    return g.activation(y, activation(sec, "logistic")), cursor


def _emit_yolo(
    g: _GraphBuilder, x: str, shape: Shape, sec: Section, width: int, height: int
) -> tuple[str, int]:
    """Emit the reshape + decode of one YOLO head.

    Returns:
        The ``[batch, n, 5 + nc]`` tensor name and its row count ``n``.
    """
    c, gh, gw = shape
    nc, anchors, sxy = yolo_params(sec, c)
    na, no = len(anchors), 5 + nc

    # Shapes use 0 (copy) / -1 (infer) so any batch size works.
    x = g.op("Reshape", [x, g.ints("shape", [0, na, no, gh, gw])])
    x = g.op("Transpose", [x], perm=[0, 3, 4, 1, 2])  # -> [B, gh, gw, na, no]
    p = g.op("Reshape", [x, g.ints("shape", [0, -1, no])])

    # Row r = (gy * gw + gx) * na + a, matching the Transpose above.
    gy, gx, a = np.meshgrid(np.arange(gh), np.arange(gw), np.arange(na), indexing="ij")
    stride_xy = np.array([width / gw, height / gh])
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1) - 0.5 * (sxy - 1.0)
    # cx = (sxy * sigmoid(tx) - (sxy - 1) / 2 + grid_x) * W / gw, folded into one Mul + Add.
    gain = g.const("xy_gain", (sxy * stride_xy).astype(np.float32))
    xy = g.op("Mul", [g.op("Sigmoid", [g.slice(p, 0, 2, axis=2)]), gain])
    xy = g.op("Add", [xy, g.const("grid", (grid * stride_xy).astype(np.float32))])
    anchor_wh = g.const("anchor_wh", anchors[a.ravel()].astype(np.float32))
    wh = g.op("Mul", [g.op("Exp", [g.slice(p, 2, 4, axis=2)]), anchor_wh])
    conf = g.op("Sigmoid", [g.slice(p, 4, no, axis=2)])
    return g.op("Concat", [xy, wh, conf], hint="yolo", axis=2), gh * gw * na


def convert_darknet(
    cfg_path: Path,
    weights_path: Path,
    output_path: Path,
    *,
    class_names: list[str] | None = None,
) -> DarknetConversion:
    """Convert a Darknet YOLO model to a YOLOv5-layout ONNX file.

    Args:
        cfg_path: Darknet ``.cfg`` network description.
        weights_path: Matching Darknet ``.weights`` file.
        output_path: Where to write the ``.onnx`` model.
        class_names: Optional class names stored as ``names`` metadata; must
            have one entry per class.

    Returns:
        A :class:`DarknetConversion` summary of the written model.

    Raises:
        ValueError: On an unsupported or inconsistent cfg, a weights file of
            the wrong size, or a ``class_names`` list of the wrong length.
    """
    net, layers = parse_cfg(Path(cfg_path))
    inp, shapes, n_floats = infer_shapes(net, layers)
    classes = {sec.get_int("classes") for sec in layers if sec.kind == "yolo"}
    if len(classes) != 1:
        raise ValueError(f"{cfg_path}: expected [yolo] layers agreeing on 'classes', found {sorted(classes)}")
    nc = classes.pop()
    if class_names is not None and len(class_names) != nc:
        raise ValueError(f"class_names has {len(class_names)} entries but the model predicts {nc} classes")
    data = _read_weights(Path(weights_path), n_floats)
    _, height, width = inp

    g = _GraphBuilder()
    outs: list[str] = []  # output tensor name per layer index
    heads: list[str] = []
    strides: list[int] = []
    cursor, n_total = 0, 0
    for i, sec in enumerate(layers):
        prev, prev_shape = (outs[-1], shapes[i - 1]) if i else ("images", inp)
        if sec.kind == "convolutional":
            y, cursor = _emit_conv(g, prev, sec, prev_shape[0], data, cursor)
        elif sec.kind == "maxpool":
            size, stride, pad = pool_params(sec)
            # Darknet pads pad//2 before and the rest after (size=2/stride=1 pads right/bottom only).
            pads = [pad // 2, pad // 2, pad - pad // 2, pad - pad // 2]
            y = g.op("MaxPool", [prev], kernel_shape=[size, size], strides=[stride, stride], pads=pads)
        elif sec.kind == "upsample":
            s = float(sec.get_int("stride", 2))
            scales = g.const("scales", np.array([1, 1, s, s], np.float32))
            y = g.op("Resize", [prev, "", scales], mode="nearest",
                     coordinate_transformation_mode="asymmetric", nearest_mode="floor")
        elif sec.kind == "route":
            srcs = [resolve_ref(sec, k, i) for k in sec.get_ints("layers")]
            groups, gid = sec.get_int("groups", 1), sec.get_int("group_id", 0)
            # Darknet's grouped route takes channel chunk `group_id` of each input, then concatenates.
            chunks = [shapes[j][0] // groups for j in srcs]
            parts = [outs[j] if groups == 1 else g.slice(outs[j], gid * k, (gid + 1) * k, axis=1)
                     for j, k in zip(srcs, chunks)]
            y = parts[0] if len(parts) == 1 else g.op("Concat", parts, hint="route", axis=1)
        elif sec.kind == "shortcut":
            y = prev
            for k in sec.get_ints("from"):
                y = g.op("Add", [y, outs[resolve_ref(sec, k, i)]], hint="shortcut")
            y = g.activation(y, activation(sec, "linear"))
        else:  # yolo
            head, n = _emit_yolo(g, prev, prev_shape, sec, width, height)
            heads.append(head)
            n_total += n
            strides.append(round(width / prev_shape[2]))
            y = prev  # later layers routing to a [yolo] see its (raw) input
        outs.append(y)

    if len(heads) > 1:
        g.nodes.append(helper.make_node("Concat", heads, ["output0"], name="output0_node", axis=1))
    else:
        g.nodes.append(helper.make_node("Identity", heads, ["output0"], name="output0_node"))

    graph = helper.make_graph(
        g.nodes,
        "darknet_yolo",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", inp[0], height, width])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, ["batch", n_total, 5 + nc])],
        initializer=g.inits,
    )
    model = helper.make_model(
        graph, producer_name="argus", opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION
    )
    meta = {
        "task": "detect",
        "imgsz": str([height, width]),
        "stride": str(max(strides)),
        "argus_layout": "yolov5",
    }
    if class_names is not None:
        meta["names"] = str(dict(enumerate(class_names)))
    helper.set_model_props(model, meta)
    onnx.checker.check_model(model)
    output_path = Path(output_path)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, output_path)
    logger.info("converted %s -> %s (%dx%d, %d classes, %d rows)",
                cfg_path, output_path, width, height, nc, n_total)
    return DarknetConversion(width, height, nc, n_total)
