# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Instance segmentation model blocks (v1 and v2; v3 and v4 with ``confidence_mode``)."""

from __future__ import annotations

from typing import ClassVar, Literal

from argus.workflows.blocks.base import BlockManifest, Selector, block_config
from argus.workflows.blocks.models.common import ConfidenceMode, DetectionModelManifest, ModelBlock
from argus.workflows.kinds import (
    BOOLEAN_KIND,
    FLOAT_ZERO_TO_ONE_KIND,
    INSTANCE_SEGMENTATION_PREDICTION_KIND,
    STRING_KIND,
    Kind,
)

_CONFIG = block_config(name="Instance Segmentation Model", category="model",
                       description="Predict the shape, size, and location of objects.")


class InstanceSegmentationManifestV1(DetectionModelManifest):
    model_config = _CONFIG
    type: Literal["roboflow_core/roboflow_instance_segmentation_model@v1", "RoboflowInstanceSegmentationModel",
                  "InstanceSegmentationModel"]
    mask_decode_mode: Literal["accurate", "tradeoff", "fast"] | Selector(kind=[STRING_KIND]) = "accurate"
    tradeoff_factor: float | Selector(kind=[FLOAT_ZERO_TO_ONE_KIND]) = 0.0
    prediction_kind: ClassVar[Kind] = INSTANCE_SEGMENTATION_PREDICTION_KIND


class InstanceSegmentationManifestV2(InstanceSegmentationManifestV1):
    model_config = _CONFIG
    type: Literal["roboflow_core/roboflow_instance_segmentation_model@v2"]  # type: ignore[assignment]


class InstanceSegmentationModelV1(ModelBlock):
    manifest_class: ClassVar[type[BlockManifest]] = InstanceSegmentationManifestV1
    tasks = ("instance-segmentation",)
    prediction_type = "instance-segmentation"


class InstanceSegmentationModelV2(InstanceSegmentationModelV1):
    manifest_class = InstanceSegmentationManifestV2


class InstanceSegmentationManifestV4(ConfidenceMode, InstanceSegmentationManifestV2):
    type: Literal["roboflow_core/roboflow_instance_segmentation_model@v4"]  # type: ignore[assignment]


class InstanceSegmentationManifestV3(InstanceSegmentationManifestV4):
    type: Literal["roboflow_core/roboflow_instance_segmentation_model@v3"]  # type: ignore[assignment]
    enforce_dense_masks_in_inference_models: bool | Selector(kind=[BOOLEAN_KIND]) = True
    """A switch of the reference's own model backend; Argus's masks are always dense."""


class InstanceSegmentationModelV3(InstanceSegmentationModelV1):
    manifest_class = InstanceSegmentationManifestV3
    confidence_modes = True


class InstanceSegmentationModelV4(InstanceSegmentationModelV1):
    manifest_class = InstanceSegmentationManifestV4
    confidence_modes = True
