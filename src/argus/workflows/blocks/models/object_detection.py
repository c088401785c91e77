"""Object detection model blocks (v1 and v2: same fields, same outputs; v3: ``confidence_mode``)."""

from __future__ import annotations

from typing import ClassVar, Literal

from argus.workflows.blocks.base import BlockManifest, block_config
from argus.workflows.blocks.models.common import ConfidenceMode, DetectionModelManifest, ModelBlock
from argus.workflows.kinds import OBJECT_DETECTION_PREDICTION_KIND, Kind

_CONFIG = block_config(name="Object Detection Model", category="model",
                       description="Predict the location of objects with bounding boxes.")


class ObjectDetectionManifestV1(DetectionModelManifest):
    model_config = _CONFIG
    type: Literal["roboflow_core/roboflow_object_detection_model@v1", "RoboflowObjectDetectionModel",
                  "ObjectDetectionModel"]
    prediction_kind: ClassVar[Kind] = OBJECT_DETECTION_PREDICTION_KIND


class ObjectDetectionManifestV2(DetectionModelManifest):
    model_config = _CONFIG
    type: Literal["roboflow_core/roboflow_object_detection_model@v2"]
    prediction_kind: ClassVar[Kind] = OBJECT_DETECTION_PREDICTION_KIND


class ObjectDetectionModelV1(ModelBlock):
    manifest_class: ClassVar[type[BlockManifest]] = ObjectDetectionManifestV1
    tasks = ("object-detection",)
    prediction_type = "object-detection"


class ObjectDetectionModelV2(ObjectDetectionModelV1):
    manifest_class = ObjectDetectionManifestV2


class ObjectDetectionManifestV3(ConfidenceMode, ObjectDetectionManifestV2):
    type: Literal["roboflow_core/roboflow_object_detection_model@v3"]  # type: ignore[assignment]


class ObjectDetectionModelV3(ObjectDetectionModelV1):
    manifest_class = ObjectDetectionManifestV3
    confidence_modes = True
