# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Dimension Collapse: the values of a nested batch (for example one per crop) as one list per parent element."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from argus.workflows.blocks.base import Block, BlockManifest, OutputDefinition, Selector, block_config
from argus.workflows.kinds import LIST_OF_VALUES_KIND


class DimensionCollapseManifest(BlockManifest):
    model_config = block_config(name="Dimension Collapse", category="fusion",
                                description="Collapse a nested batch into a list per parent element.")
    type: Literal["roboflow_core/dimension_collapse@v1", "DimensionCollapse"]
    data: Selector() = Field(description="Data of a nested batch (a step's output per crop, say)")

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="output", kind=[LIST_OF_VALUES_KIND])]


class DimensionCollapseBlockV1(Block):
    manifest_class = DimensionCollapseManifest
    output_dimensionality_offset: ClassVar[int] = -1

    def run(self, data: list[Any]) -> dict[str, Any]:
        return {"output": list(data)}
