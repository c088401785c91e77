"""Read an ONNX graph's interface and guess its family from the output layout."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import onnx

from argus.errors import InvalidInputError, ModelArtifactError
from argus.store.manifest import Family


@dataclass(frozen=True)
class GraphInterface:
    """Input/output names and shapes (None for dynamic dims) and the metadata_props of a graph."""

    input_names: tuple[str, ...]
    input_shapes: tuple[tuple[int | None, ...], ...]
    output_names: tuple[str, ...]
    output_shapes: tuple[tuple[int | None, ...], ...]
    metadata: dict[str, str]

    @property
    def input_hw(self) -> tuple[int | None, int | None]:
        """Spatial size of the first input: NCHW, or NHWC when the last dim is 3."""
        shape = self.input_shapes[0]
        if len(shape) != 4:
            return None, None
        if shape[3] in (1, 3) and shape[1] not in (1, 3):
            return shape[1], shape[2]
        return shape[2], shape[3]

    @property
    def is_nhwc(self) -> bool:
        """True when the image input is channels-last."""
        shape = self.input_shapes[0]
        return len(shape) == 4 and shape[3] in (1, 3) and shape[1] not in (1, 3)


def _dims(value_info: onnx.ValueInfoProto) -> tuple[int | None, ...]:
    dims = value_info.type.tensor_type.shape.dim
    return tuple(d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in dims)


def read_interface(path: Path) -> GraphInterface:
    """Interface of an ONNX file without loading its weights into a session."""
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as error:  # noqa: BLE001 - onnx raises assorted types for unreadable files
        raise ModelArtifactError(f"{path.name} is not a readable ONNX model ({error}).") from None
    initialisers = {init.name for init in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initialisers]
    if not inputs or not model.graph.output:
        raise ModelArtifactError(f"{path.name} has no graph inputs or outputs.")
    return GraphInterface(
        input_names=tuple(i.name for i in inputs),
        input_shapes=tuple(_dims(i) for i in inputs),
        output_names=tuple(o.name for o in model.graph.output),
        output_shapes=tuple(_dims(o) for o in model.graph.output),
        metadata={p.key: p.value for p in model.metadata_props},
    )


def guess_family(interface: GraphInterface, num_classes: int | None = None, task_hint: str | None = None) -> Family:
    """Family from output shapes (and the class count, when known, to break ties)."""
    shapes = interface.output_shapes
    names = [n.lower() for n in interface.output_names]
    if task_hint in ("classification", "multi-label-classification", "classify"):
        return Family.CLASSIFIER
    if len(shapes) >= 3 and sum(any(k in n for k in ("box", "score", "class", "num")) for n in names) >= 3:
        return Family.SSD
    if len(shapes) == 1 and len(shapes[0]) == 2:
        return Family.CLASSIFIER
    if len(shapes) == 2 and any(len(s) == 4 for s in shapes):
        prediction = next(s for s in shapes if len(s) == 3)
        return Family.YOLOV8_SEG if _channels_first(prediction, num_classes, extra=4) else Family.YOLOV5_SEG
    if len(shapes) == 2 and all(len(s) == 3 for s in shapes) and any(s[-1] == 4 for s in shapes):
        return Family.DETR
    if len(shapes) == 1 and len(shapes[0]) == 3:
        if task_hint in ("keypoint-detection", "pose"):
            return Family.YOLOV8_POSE
        shape = shapes[0]
        if _channels_first(shape, num_classes, extra=4):
            return Family.YOLOV8
        if shape[2] == 6 and num_classes not in (1,):
            return Family.YOLO_END2END
        return Family.YOLOV5
    raise InvalidInputError(
        f"Cannot tell the model family from its outputs {dict(zip(interface.output_names, shapes))}; "
        "pass --family (one of: " + ", ".join(f.value for f in Family) + ")."
    )


def _channels_first(shape: tuple[int | None, ...], num_classes: int | None, extra: int) -> bool:
    """True for ``[B, extra + nc (+ more), N]`` (fewer rows than columns, YOLOv8 style)."""
    rows, columns = shape[1], shape[2]
    if num_classes and rows == extra + num_classes:
        return True
    if rows is not None and columns is None:
        return True  # [B, fixed channels, dynamic anchors]: the anchor axis is the one that varies
    if rows is None or columns is None:
        return False
    return rows < columns
