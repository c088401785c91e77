# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Keypoint detection model blocks (v1 and v2; v3 with ``confidence_mode``)."""

from __future__ import annotations

from typing import ClassVar, Literal

from argus.workflows.blocks.base import BlockManifest, Selector, block_config
from argus.workflows.blocks.models.common import DefaultConfidenceMode, DetectionModelManifest, ModelBlock
from argus.workflows.kinds import (
    FLOAT_ZERO_TO_ONE_KIND,
    KEYPOINT_DETECTION_PREDICTION_KIND,
    Kind,
)

_CONFIG = block_config(name="Keypoint Detection Model", category="model",
                       description="Predict skeletons on objects.")


class KeypointDetectionManifestV1(DetectionModelManifest):
    model_config = _CONFIG
    type: Literal["roboflow_core/roboflow_keypoint_detection_model@v1", "RoboflowKeypointDetectionModel",
                  "KeypointsDetectionModel"]
    keypoint_confidence: float | Selector(kind=[FLOAT_ZERO_TO_ONE_KIND]) = 0.0
    prediction_kind: ClassVar[Kind] = KEYPOINT_DETECTION_PREDICTION_KIND


class KeypointDetectionManifestV2(KeypointDetectionManifestV1):
    model_config = _CONFIG
    type: Literal["roboflow_core/roboflow_keypoint_detection_model@v2"]  # type: ignore[assignment]


class KeypointDetectionModelV1(ModelBlock):
    manifest_class: ClassVar[type[BlockManifest]] = KeypointDetectionManifestV1
    tasks = ("keypoint-detection",)
    prediction_type = "keypoint-detection"


class KeypointDetectionModelV2(KeypointDetectionModelV1):
    manifest_class = KeypointDetectionManifestV2


class KeypointDetectionManifestV3(DefaultConfidenceMode, KeypointDetectionManifestV2):
    type: Literal["roboflow_core/roboflow_keypoint_detection_model@v3"]  # type: ignore[assignment]


class KeypointDetectionModelV3(KeypointDetectionModelV1):
    manifest_class = KeypointDetectionManifestV3
    confidence_modes = True
