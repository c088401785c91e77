# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Classification model blocks: single-label and multi-label, v1 and v2; v3 with ``confidence_mode``."""

from __future__ import annotations

from typing import ClassVar, Literal

from argus.workflows.blocks.base import BlockManifest, block_config
from argus.workflows.blocks.models.common import ConfidenceMode, DefaultConfidenceMode, ModelBlock, ModelManifest
from argus.workflows.kinds import CLASSIFICATION_PREDICTION_KIND, Kind

_SINGLE = block_config(name="Single-Label Classification Model", category="model",
                       description="Apply a single tag to an image.")
_MULTI = block_config(name="Multi-Label Classification Model", category="model",
                      description="Apply multiple tags to an image.")


class ClassificationManifestV1(ModelManifest):
    model_config = _SINGLE
    type: Literal["roboflow_core/roboflow_classification_model@v1", "RoboflowClassificationModel",
                  "ClassificationModel"]
    prediction_kind: ClassVar[Kind] = CLASSIFICATION_PREDICTION_KIND


class ClassificationManifestV2(ClassificationManifestV1):
    model_config = _SINGLE
    type: Literal["roboflow_core/roboflow_classification_model@v2"]  # type: ignore[assignment]


class MultiLabelClassificationManifestV1(ModelManifest):
    model_config = _MULTI
    type: Literal["roboflow_core/roboflow_multi_label_classification_model@v1",
                  "RoboflowMultiLabelClassificationModel", "MultiLabelClassificationModel"]
    prediction_kind: ClassVar[Kind] = CLASSIFICATION_PREDICTION_KIND


class MultiLabelClassificationManifestV2(MultiLabelClassificationManifestV1):
    model_config = _MULTI
    type: Literal["roboflow_core/roboflow_multi_label_classification_model@v2"]  # type: ignore[assignment]


class ClassificationModelV1(ModelBlock):
    manifest_class: ClassVar[type[BlockManifest]] = ClassificationManifestV1
    tasks = ("classification",)
    prediction_type = "classification"


class ClassificationModelV2(ClassificationModelV1):
    manifest_class = ClassificationManifestV2


class MultiLabelClassificationModelV1(ModelBlock):
    manifest_class: ClassVar[type[BlockManifest]] = MultiLabelClassificationManifestV1
    tasks = ("multi-label-classification",)
    prediction_type = "classification"


class MultiLabelClassificationModelV2(MultiLabelClassificationModelV1):
    manifest_class = MultiLabelClassificationManifestV2


class ClassificationManifestV3(DefaultConfidenceMode, ClassificationManifestV2):
    type: Literal["roboflow_core/roboflow_classification_model@v3"]  # type: ignore[assignment]


class MultiLabelClassificationManifestV3(ConfidenceMode, MultiLabelClassificationManifestV2):
    type: Literal["roboflow_core/roboflow_multi_label_classification_model@v3"]  # type: ignore[assignment]


class ClassificationModelV3(ClassificationModelV1):
    manifest_class = ClassificationManifestV3
    confidence_modes = True


class MultiLabelClassificationModelV3(MultiLabelClassificationModelV1):
    manifest_class = MultiLabelClassificationManifestV3
    confidence_modes = True
