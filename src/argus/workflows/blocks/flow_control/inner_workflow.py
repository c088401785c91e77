"""Inner Workflow's manifest, for describe and the catalogue: its steps are inlined when the workflow compiles.

:mod:`argus.workflows.inner_workflow` replaces every embedded inner_workflow step by the inner workflow's own
steps before the graph is built, so this block never runs; ``remote_dispatch`` is refused there (501).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from argus.errors import NotImplementedFeatureError
from argus.workflows.blocks.base import Block, BlockManifest, OutputDefinition, Selector, block_config
from argus.workflows.kinds import WILDCARD_KIND


class InnerWorkflowManifest(BlockManifest):
    model_config = block_config(name="Inner Workflow", category="flow_control",
                                description="Run another workflow as one step (inlined when compiled).")
    type: Literal["roboflow_core/inner_workflow@v1"]
    execution_mode: Literal["embedded", "remote_dispatch"] = "embedded"
    remote_target: str | None = None
    workflow_definition: dict[str, Any] | None = None
    workflow_workspace_id: str | None = None
    workflow_id: str | None = None
    workflow_version_id: str | None = None
    parameter_bindings: dict[str, Selector()] = Field()  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _definition_or_reference(self) -> InnerWorkflowManifest:
        inline = bool(self.workflow_definition)
        reference = bool((self.workflow_workspace_id or "").strip() and (self.workflow_id or "").strip())
        if inline == reference:
            raise ValueError("give either workflow_definition or workflow_workspace_id and workflow_id")
        return self

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="*", kind=[WILDCARD_KIND])]


class InnerWorkflowBlockV1(Block):
    manifest_class = InnerWorkflowManifest

    def run(self, *args: Any, **kwargs: Any) -> dict[str, Any]:  # inlined away when compiling; never called
        raise NotImplementedFeatureError("inner_workflow steps are inlined when the workflow compiles")
