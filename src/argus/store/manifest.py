"""The model manifest (``model.json``): everything needed to turn pixels into predictions.

Example:
    >>> m = ModelManifest(task="object-detection", family="yolov8", input_width=640, input_height=640,
    ...                   class_names=["person"])
    >>> m.resize.value, m.color.value
    ('stretch', 'rgb')
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Task(StrEnum):
    """What a model predicts; the values are the reference's ``task_type`` strings."""

    OBJECT_DETECTION = "object-detection"
    INSTANCE_SEGMENTATION = "instance-segmentation"
    KEYPOINT_DETECTION = "keypoint-detection"
    CLASSIFICATION = "classification"
    MULTI_LABEL_CLASSIFICATION = "multi-label-classification"


class Family(StrEnum):
    """Output layout of the network, which decides the decoder."""

    YOLOV5 = "yolov5"  # [B, N, 5 + nc]: cx, cy, w, h, objectness, class scores
    YOLOV8 = "yolov8"  # [B, 4 + nc, N]: cx, cy, w, h, class scores (v8, v9, v11)
    YOLO_END2END = "yolo-end2end"  # [B, N, 6]: x1, y1, x2, y2, score, class (v10, NMS in graph)
    YOLOV5_SEG = "yolov5-seg"  # [B, N, 5 + nc + nm] + prototypes [B, nm, h, w]
    YOLOV8_SEG = "yolov8-seg"  # [B, 4 + nc + nm, N] + prototypes [B, nm, h, w]
    YOLOV8_POSE = "yolov8-pose"  # [B, 4 + nc + 3K, N]
    CLASSIFIER = "classifier"  # [B, C] logits or probabilities
    DETR = "detr"  # boxes [B, Q, 4] cxcywh normalised + logits [B, Q, C] (RF-DETR, DETR)
    SSD = "ssd"  # boxes, scores, classes, count: NMS in the graph (TF object-detection API)


TASK_OF_FAMILY: dict[Family, Task] = {
    Family.YOLOV5: Task.OBJECT_DETECTION,
    Family.YOLOV8: Task.OBJECT_DETECTION,
    Family.YOLO_END2END: Task.OBJECT_DETECTION,
    Family.DETR: Task.OBJECT_DETECTION,
    Family.SSD: Task.OBJECT_DETECTION,
    Family.YOLOV5_SEG: Task.INSTANCE_SEGMENTATION,
    Family.YOLOV8_SEG: Task.INSTANCE_SEGMENTATION,
    Family.YOLOV8_POSE: Task.KEYPOINT_DETECTION,
    Family.CLASSIFIER: Task.CLASSIFICATION,
}


class ResizeMode(StrEnum):
    """How an image is fitted to the network input."""

    STRETCH = "stretch"
    LETTERBOX = "letterbox"
    CENTER_CROP = "center-crop"


class ColorOrder(StrEnum):
    """Channel order the network expects."""

    RGB = "rgb"
    BGR = "bgr"


class Layout(StrEnum):
    """Tensor layout the network expects."""

    NCHW = "nchw"
    NHWC = "nhwc"


class Normalization(BaseModel):
    """``(pixel * scale - mean) / std`` per channel (in the network's color order)."""

    model_config = ConfigDict(frozen=True)

    scale: float = 1.0 / 255.0
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)


class Batching(BaseModel):
    """Dynamic batching, Triton-style: up to ``max_batch_size`` requests or ``max_queue_delay_ms``."""

    model_config = ConfigDict(frozen=True)

    max_batch_size: int = Field(default=1, ge=1, le=256)
    max_queue_delay_ms: float = Field(default=2.0, ge=0.0, le=1000.0)


class Optimization(BaseModel):
    """How a variant was made from its base model, and what was measured when it was (argus.models.optimize)."""

    model_config = ConfigDict(frozen=True)

    base_model: str
    precision: Literal["int8", "fp16", "bf16"]
    metric: str
    """How agreement with the base model was scored (``box F1@0.5``, ``top-1 agreement``)."""
    agreement: float = Field(ge=0.0, le=1.0)
    held_back_photos: int = Field(ge=0)
    calibration_photos: int = Field(ge=0)
    speedup: float = Field(ge=0.0)
    """Base model's median ``session.run`` time over the variant's, on the machine that made it."""


class Tuning(BaseModel):
    """Serving knobs ``argus models tune`` measured as the best on one machine (argus.models.tune)."""

    model_config = ConfigDict(frozen=True)

    instances: int = Field(ge=1, le=16)
    intra_op_threads: int = Field(ge=0, le=256)
    cpu_count: int = Field(ge=1)
    """The machine's CPU count: on another machine the tuning is not applied."""
    clients: int = Field(ge=1)
    images_per_s: float = Field(ge=0.0)
    p99_ms: float = Field(ge=0.0)


class ModelManifest(BaseModel):
    """Contents of ``model.json`` beside ``model.onnx``."""

    model_config = ConfigDict(frozen=True, extra="ignore", use_enum_values=False)

    schema_version: int = 1
    task: Task
    family: Family
    input_width: int = Field(ge=1, le=8192)
    input_height: int = Field(ge=1, le=8192)
    resize: ResizeMode = ResizeMode.STRETCH
    color: ColorOrder = ColorOrder.RGB
    layout: Layout = Layout.NCHW
    pad_value: int = Field(default=114, ge=0, le=255)
    normalization: Normalization = Normalization()
    class_names: list[str] = Field(default_factory=list)
    keypoint_names: list[str] = Field(default_factory=list)
    skeleton: list[tuple[int, int]] = Field(default_factory=list)
    outputs_probabilities: bool | None = None
    """Classifiers: True when the graph ends in softmax/sigmoid; None lets the decoder tell."""
    confidence: float = Field(default=0.4, ge=0.0, le=1.0)
    iou_threshold: float = Field(default=0.3, ge=0.0, le=1.0)
    batching: Batching = Batching()
    source: str | None = None
    license: str | None = None
    sha256: str | None = None
    optimization: Optimization | None = None
    """Set on variants written by ``argus models optimize``."""
    tuning: Tuning | None = None
    """Set by ``argus models tune``; ``batching.max_batch_size`` is then the measured one."""

    @model_validator(mode="after")
    def _check(self) -> ModelManifest:
        if self.task == Task.KEYPOINT_DETECTION and self.skeleton and self.keypoint_names:
            k = len(self.keypoint_names)
            bad = [edge for edge in self.skeleton if not (0 <= edge[0] < k and 0 <= edge[1] < k)]
            if bad:
                raise ValueError(f"skeleton edges {bad} refer to keypoints outside 0..{k - 1}")
        return self

    @property
    def multilabel(self) -> bool:
        """True for multi-label classifiers."""
        return self.task == Task.MULTI_LABEL_CLASSIFICATION
