# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Detections Filter and Detections Transformation: query-language operations on detections."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import supervision as sv
from pydantic import Field

from argus.workflows.blocks.base import (
    Block,
    BlockManifest,
    OutputDefinition,
    Selector,
    block_config,
)
from argus.workflows.kinds import DETECTION_KINDS
from argus.workflows.query_language import AllOperationsType, apply_operations


class _OperationsManifest(BlockManifest):
    predictions: Selector(kind=list(DETECTION_KINDS))
    operations: list[AllOperationsType]
    operations_parameters: dict[str, Selector()] = Field(default_factory=dict)

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="predictions", kind=list(DETECTION_KINDS))]


class DetectionsFilterManifest(_OperationsManifest):
    model_config = block_config(name="Detections Filter", category="transformation",
                                description="Conditionally filter out model predictions.")
    type: Literal["roboflow_core/detections_filter@v1", "DetectionsFilter"]


class DetectionsTransformationManifest(_OperationsManifest):
    model_config = block_config(name="Detections Transformation", category="transformation",
                                description="Apply transformations on detected bounding boxes.")
    type: Literal["roboflow_core/detections_transformation@v1", "DetectionsTransformation"]


class DetectionsFilterBlock(Block):
    manifest_class: ClassVar[type[BlockManifest]] = DetectionsFilterManifest

    def run(self, predictions: sv.Detections, operations: list[Any], operations_parameters: dict[str, Any]
            ) -> dict[str, Any]:
        return {"predictions": apply_operations(operations, predictions, operations_parameters)}


class DetectionsTransformationBlock(DetectionsFilterBlock):
    manifest_class = DetectionsTransformationManifest
