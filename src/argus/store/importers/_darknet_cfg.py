"""Parser and shape inference for Darknet ``.cfg`` network descriptions.

A Darknet cfg is an INI-like file: ``[section]`` headers followed by
``key=value`` lines, ``#``/``;`` comments, and repeated section names (one
per layer). The first section must be ``[net]`` (or ``[network]``); every
later section is one layer, indexed from 0 in file order, which is how
``[route]`` and ``[shortcut]`` refer to each other. Defaults follow
Darknet's own ``parser.c`` (e.g. a conv without ``activation`` is logistic).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np

logger = logging.getLogger(__name__)

#: Layer section types the converter knows how to translate.
SUPPORTED_LAYERS: frozenset[str] = frozenset(
    {"convolutional", "maxpool", "route", "upsample", "shortcut", "yolo"}
)
_NET_SECTIONS = frozenset({"net", "network"})
#: Activations the converter can express in ONNX.
ACTIVATIONS: frozenset[str] = frozenset({"leaky", "linear", "relu", "logistic", "mish"})

Shape = tuple[int, int, int]  # (channels, height, width), batch excluded
T = TypeVar("T")


def _split(value: str) -> list[str]:
    """Split a comma-separated option value, dropping empty items."""
    return [item for item in value.split(",") if item.strip()]


@dataclass(frozen=True)
class Section:
    """One ``[kind]`` block of a cfg file.

    Attributes:
        kind: Section name without brackets, lower-cased (``"convolutional"``).
        line: 1-based line number of the header, for error messages.
        options: Raw ``key -> value`` strings, whitespace stripped.
    """

    kind: str
    line: int
    options: dict[str, str] = field(default_factory=dict)

    def _get(self, key: str, default: T | None, convert: Callable[[str], T], what: str) -> T:
        """Convert option ``key``; fall back to ``default`` (``None`` means required)."""
        if key not in self.options:
            if default is None:
                raise ValueError(f"[{self.kind}] at line {self.line}: missing required option '{key}'")
            return default
        try:
            return convert(self.options[key])
        except ValueError:
            raise ValueError(
                f"[{self.kind}] at line {self.line}: '{key}={self.options[key]}' is not {what}"
            ) from None

    def get_int(self, key: str, default: int | None = None) -> int:
        """Integer option, or ``default``; raises ``ValueError`` if absent without default."""
        return self._get(key, default, int, "an integer")

    def get_float(self, key: str, default: float | None = None) -> float:
        """Float option, or ``default``; raises ``ValueError`` if absent without default."""
        return self._get(key, default, float, "a number")

    def get_str(self, key: str, default: str | None = None) -> str:
        """String option, or ``default``; raises ``ValueError`` if absent without default."""
        return self._get(key, default, str, "a string")

    def get_list(self, key: str, default: list[float] | None = None) -> list[float]:
        """Comma-separated numeric option (``anchors``) as floats."""
        return self._get(key, default, lambda v: [float(x) for x in _split(v)], "a number list")

    def get_ints(self, key: str, default: list[int] | None = None) -> list[int]:
        """Comma-separated integer option (``mask``, ``layers``, ``from``)."""
        return self._get(key, default, lambda v: [int(x) for x in _split(v)], "an integer list")


def parse_cfg(path: Path) -> tuple[Section, list[Section]]:
    """Parse a Darknet cfg file.

    Args:
        path: Path to the ``.cfg`` file.

    Returns:
        The ``[net]`` section and the list of layer sections in file order.

    Raises:
        ValueError: If the file has no ``[net]`` header first, an option line
            outside any section or without ``=``, or a layer type that is not
            in :data:`SUPPORTED_LAYERS`.
    """
    sections: list[Section] = []
    for lineno, raw in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                raise ValueError(f"{path}:{lineno}: malformed section header {line!r}")
            sections.append(Section(kind=line[1:-1].strip().lower(), line=lineno))
            continue
        if not sections:
            raise ValueError(f"{path}:{lineno}: option {line!r} appears before any [section]")
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"{path}:{lineno}: expected 'key=value', got {line!r}")
        sections[-1].options[key.strip()] = value.strip()

    if not sections or sections[0].kind not in _NET_SECTIONS:
        raise ValueError(f"{path}: a Darknet cfg must start with a [net] section")
    net, layers = sections[0], sections[1:]
    for sec in layers:
        if sec.kind not in SUPPORTED_LAYERS:
            raise ValueError(
                f"{path}:{sec.line}: unsupported Darknet section [{sec.kind}] "
                f"(supported: {', '.join(sorted(SUPPORTED_LAYERS))})"
            )
    logger.debug("parsed %s: %d layers", path, len(layers))
    return net, layers


def resolve_ref(sec: Section, index: int, i: int) -> int:
    """Turn a route/shortcut reference of layer ``i`` (absolute or negative) into an index."""
    j = index if index >= 0 else i + index
    if not 0 <= j < i:
        raise ValueError(f"[{sec.kind}] at line {sec.line}: layer reference {index} is out of range")
    return j


def activation(sec: Section, default: str) -> str:
    """The section's ``activation``, checked against :data:`ACTIVATIONS`."""
    act = sec.get_str("activation", default)
    if act not in ACTIVATIONS:
        raise ValueError(f"[{sec.kind}] at line {sec.line}: unsupported activation '{act}'")
    return act


def conv_params(sec: Section) -> tuple[int, int, int, int, int]:
    """Return ``(filters, size, stride, padding, groups)`` of a convolutional section."""
    size = sec.get_int("size", 1)
    padding = size // 2 if sec.get_int("pad", 0) else sec.get_int("padding", 0)
    if sec.get_int("dilation", 1) != 1 or "stride_x" in sec.options or "stride_y" in sec.options:
        raise ValueError(f"[convolutional] at line {sec.line}: dilation/stride_x/stride_y are not supported")
    activation(sec, "logistic")
    return sec.get_int("filters"), size, sec.get_int("stride", 1), padding, sec.get_int("groups", 1)


def pool_params(sec: Section) -> tuple[int, int, int]:
    """Return ``(size, stride, padding)`` of a maxpool section, Darknet defaults applied."""
    stride = sec.get_int("stride", 1)
    size = sec.get_int("size", stride)
    return size, stride, sec.get_int("padding", size - 1)


def yolo_params(sec: Section, channels: int) -> tuple[int, np.ndarray, float]:
    """Return ``(classes, anchors of this head [na, 2] in pixels, scale_x_y)`` of a yolo section."""
    nc = sec.get_int("classes")
    anchors = np.asarray(sec.get_list("anchors"), dtype=np.float64)
    if anchors.size == 0 or anchors.size % 2:
        raise ValueError(f"[yolo] at line {sec.line}: 'anchors' must hold (w, h) pairs")
    anchors = anchors.reshape(-1, 2)
    mask = sec.get_ints("mask", list(range(len(anchors))))
    if not mask or not all(0 <= m < len(anchors) for m in mask) or sec.get_int("new_coords", 0):
        raise ValueError(f"[yolo] at line {sec.line}: bad mask {mask} or unsupported new_coords")
    if channels != len(mask) * (5 + nc):
        raise ValueError(
            f"[yolo] at line {sec.line}: {channels} input channels do not fit "
            f"{len(mask)} anchors x (5 + {nc} classes)"
        )
    return nc, anchors[mask], sec.get_float("scale_x_y", 1.0)


def infer_shapes(net: Section, layers: list[Section]) -> tuple[Shape, list[Shape], int]:
    """Validate the layers, propagate ``(c, h, w)`` and count the weights they need.

    Args:
        net: The ``[net]`` section (``width``, ``height``, ``channels``).
        layers: Layer sections as returned by :func:`parse_cfg`.

    Returns:
        The input shape, the output shape of every layer, and the number of
        float32 values the ``.weights`` file must hold after its header.

    Raises:
        ValueError: On any option or wiring the converter cannot express.
    """
    inp: Shape = (net.get_int("channels", 3), net.get_int("height"), net.get_int("width"))
    shapes: list[Shape] = []
    n_floats = 0
    for i, sec in enumerate(layers):
        c, h, w = shapes[-1] if shapes else inp
        out: Shape = (c, h, w)
        if sec.kind == "convolutional":
            filters, size, stride, pad, groups = conv_params(sec)
            if c % groups or filters % groups:
                raise ValueError(f"[convolutional] at line {sec.line}: groups={groups} must divide channels")
            n_floats += filters * (4 if sec.get_int("batch_normalize", 0) else 1)
            n_floats += filters * (c // groups) * size * size
            out = (filters, (h + 2 * pad - size) // stride + 1, (w + 2 * pad - size) // stride + 1)
        elif sec.kind == "maxpool":
            size, stride, pad = pool_params(sec)
            out = (c, (h + pad - size) // stride + 1, (w + pad - size) // stride + 1)
        elif sec.kind == "upsample":
            s = sec.get_int("stride", 2)
            if s < 1 or sec.get_float("scale", 1.0) != 1.0:
                raise ValueError(f"[upsample] at line {sec.line}: only stride >= 1, scale = 1 is supported")
            out = (c, h * s, w * s)
        elif sec.kind == "route":
            src = [shapes[resolve_ref(sec, k, i)] for k in sec.get_ints("layers")]
            groups = sec.get_int("groups", 1)
            if not src or len({s[1:] for s in src}) != 1 or any(s[0] % groups for s in src):
                raise ValueError(f"[route] at line {sec.line}: inputs have incompatible shapes {src}")
            out = (sum(s[0] for s in src) // groups, *src[0][1:])
        elif sec.kind == "shortcut":
            src = [shapes[resolve_ref(sec, k, i)] for k in sec.get_ints("from")]
            if any(s != out for s in src) or sec.get_str("weights_type", "none") != "none":
                raise ValueError(f"[shortcut] at line {sec.line}: only equal-shape unweighted sums supported")
            activation(sec, "linear")
        else:  # yolo: pass-through
            yolo_params(sec, c)
        if min(out) <= 0:
            raise ValueError(f"[{sec.kind}] at line {sec.line}: output shape {out} is empty")
        shapes.append(out)
    return inp, shapes, n_floats
