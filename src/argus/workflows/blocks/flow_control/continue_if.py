# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Continue If: run the next steps only for elements where a condition holds."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from argus.workflows.blocks.base import (
    Block,
    BlockManifest,
    FlowControl,
    Selector,
    StepSelector,
    block_config,
)
from argus.workflows.query_language import StatementGroup, evaluate_statement


class ContinueIfManifest(BlockManifest):
    model_config = block_config(name="Continue If", category="flow_control",
                                description="Conditionally stop execution of a branch.")
    type: Literal["roboflow_core/continue_if@v1", "ContinueIf"]
    condition_statement: StatementGroup
    evaluation_parameters: dict[str, Selector()] = Field(default_factory=dict)
    next_steps: list[StepSelector()]


class ContinueIfBlock(Block):
    manifest_class = ContinueIfManifest

    def run(self, condition_statement: StatementGroup, evaluation_parameters: dict[str, Any],
            next_steps: list[str]) -> FlowControl:
        if evaluate_statement(condition_statement, evaluation_parameters):
            return FlowControl(tuple(next_steps))
        return FlowControl(())
