# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Expression: a switch over conditions on named inputs, returning a static or computed value."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from argus.errors import InvalidInputError
from argus.workflows.blocks.base import (
    Block,
    BlockManifest,
    OutputDefinition,
    Selector,
    block_config,
)
from argus.workflows.query_language import (
    AllOperationsType,
    StatementGroup,
    apply_operations,
    evaluate_statement,
)


class StaticCaseResult(BaseModel):
    type: Literal["StaticCaseResult"]
    value: Any


class DynamicCaseResult(BaseModel):
    type: Literal["DynamicCaseResult"]
    parameter_name: str
    operations: list[AllOperationsType] = Field(default_factory=list)


CaseResult = Annotated[StaticCaseResult | DynamicCaseResult, Field(discriminator="type")]


class CaseDefinition(BaseModel):
    type: Literal["CaseDefinition"]
    condition: StatementGroup
    result: CaseResult


class CasesDefinition(BaseModel):
    type: Literal["CasesDefinition"]
    cases: list[CaseDefinition]
    default: CaseResult


class ExpressionManifest(BlockManifest):
    model_config = block_config(name="Expression", category="formatter",
                                description="Create a specific output based on defined input conditions.")
    type: Literal["roboflow_core/expression@v1", "Expression"]
    data: dict[str, Selector() | Any]
    data_operations: dict[str, list[AllOperationsType]] = Field(default_factory=dict)
    switch: CasesDefinition

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="output")]


def case_value(result: StaticCaseResult | DynamicCaseResult, data: dict[str, Any]) -> Any:
    """The value a case yields."""
    if isinstance(result, StaticCaseResult):
        return result.value
    if result.parameter_name not in data:
        raise InvalidInputError(f"expression result refers to '{result.parameter_name}', which is not in 'data' "
                                f"({', '.join(sorted(data))})")
    return apply_operations(result.operations, data[result.parameter_name], data)


class ExpressionBlock(Block):
    manifest_class = ExpressionManifest

    def run(self, data: dict[str, Any], data_operations: dict[str, list[Any]], switch: CasesDefinition
            ) -> dict[str, Any]:
        values = {name: apply_operations(data_operations.get(name, []), value, data) for name, value in data.items()}
        for case in switch.cases:
            if evaluate_statement(case.condition, values):
                return {"output": case_value(case.result, values)}
        return {"output": case_value(switch.default, values)}
