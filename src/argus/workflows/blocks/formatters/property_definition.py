# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Property Definition: apply a query-language operation chain to any value (count, class names, ...)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from argus.workflows.blocks.base import (
    Block,
    BlockManifest,
    OutputDefinition,
    Selector,
    block_config,
)
from argus.workflows.query_language import AllOperationsType, apply_operations


class PropertyDefinitionManifest(BlockManifest):
    model_config = block_config(name="Property Definition", category="formatter",
                                description="Define a field using properties from previous workflow steps.")
    type: Literal["roboflow_core/property_definition@v1", "PropertyDefinition", "PropertyExtraction"]
    data: Selector()
    operations: list[AllOperationsType] = Field(min_length=1)

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="output")]


class PropertyDefinitionBlock(Block):
    manifest_class = PropertyDefinitionManifest

    def run(self, data: Any, operations: list[Any]) -> dict[str, Any]:
        return {"output": apply_operations(operations, data)}
