# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""First Non Empty Or Default: the first input that has a value (skipped branches have none)."""

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


class FirstNonEmptyOrDefaultManifest(BlockManifest):
    model_config = block_config(name="First Non Empty Or Default", category="formatter",
                                description="Take the first non-empty data element or default.")
    type: Literal["roboflow_core/first_non_empty_or_default@v1", "FirstNonEmptyOrDefault"]
    data: list[Selector()] = Field(min_length=1)
    default: Any = None

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="output")]


class FirstNonEmptyOrDefaultBlock(Block):
    manifest_class = FirstNonEmptyOrDefaultManifest
    accepts_empty_values = True

    def run(self, data: list[Any], default: Any) -> dict[str, Any]:
        return {"output": next((value for value in data if value is not None), default)}
