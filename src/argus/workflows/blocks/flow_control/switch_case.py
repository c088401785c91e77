# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Switch Case: run the step named for the value's case, the default steps otherwise, or nothing."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from argus.workflows.blocks.base import Block, BlockManifest, FlowControl, Selector, StepSelector, block_config


class SwitchCaseManifest(BlockManifest):
    model_config = block_config(name="Switch Case", category="flow_control",
                                description="Route to one step by the value of an input.")
    type: Literal["roboflow_core/switch_case@v1", "SwitchCase"]
    value: Selector() | str | int | float | bool
    cases: dict[str, StepSelector()] = Field(default_factory=dict)
    case_insensitive: bool = False
    default_next_steps: list[StepSelector()] = Field(default_factory=list)

    @model_validator(mode="after")
    def _targets_once_and_keys_distinct(self) -> SwitchCaseManifest:
        targets = [*self.cases.values(), *self.default_next_steps]
        repeated = sorted({t for t in targets if targets.count(t) > 1})
        if repeated:
            raise ValueError(f"each step may be a target once across cases and default_next_steps: {repeated}")
        if self.case_insensitive and len({key.lower() for key in self.cases}) != len(self.cases):
            raise ValueError("some cases differ only by letter case, with case_insensitive on")
        return self


class SwitchCaseBlockV1(Block):
    manifest_class = SwitchCaseManifest

    def run(self, value: Any, cases: dict[str, str], case_insensitive: bool = False,
            default_next_steps: list[str] | None = None) -> FlowControl:
        text = str(value)  # the value's text is matched, so 3 matches the case "3"
        if case_insensitive:
            target = next((step for key, step in cases.items() if key.lower() == text.lower()), None)
        else:
            target = cases.get(text)
        if target is not None:
            return FlowControl((target,))
        return FlowControl(tuple(default_next_steps or ()))
