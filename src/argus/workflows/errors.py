"""Workflow errors: definition errors are 400s that name the step and field; step failures say which step."""

from __future__ import annotations

from typing import Any

from argus.errors import (
    ArgusError,
    ClientError,
    NotImplementedFeatureError,
    ServerError,
)


class WorkflowDefinitionError(ClientError):
    """A definition that cannot be compiled; ``blocks_errors`` names the steps and fields at fault."""

    code = "workflow_definition_error"

    def __init__(self, message: str, error_type: str = "WorkflowDefinitionError", step: str | None = None,
                 block_type: str | None = None, property_name: str | None = None,
                 context: str = "workflow_compilation") -> None:
        if step is not None:
            message = f"Step '{step}': {message}"
        super().__init__(message)
        self.error_type = error_type
        self.context = context
        self.blocks_errors: list[dict[str, Any]] = []
        if step is not None:
            self.blocks_errors.append({"block_id": step, "block_type": block_type, "block_details": message,
                                       "property_name": property_name, "property_details": None})

    def body(self) -> dict[str, Any]:
        """The reference's error body."""
        return {"message": self.message, "error_type": self.error_type, "context": self.context,
                "inner_error_type": self.error_type, "inner_error_message": self.message,
                "blocks_errors": self.blocks_errors}


class UnknownBlockError(WorkflowDefinitionError):
    """A step whose ``type`` no installed block implements."""


class BlockNotImplementedError(NotImplementedFeatureError):
    """A block type of the reference catalogue that Argus does not implement (HTTP 501)."""


class WorkflowInputError(ClientError):
    """Run-time inputs that do not fit the definition (missing image, wrong type)."""

    code = "workflow_input_error"


class StepExecutionError(ServerError):
    """A step failed for a reason that is not the request's fault."""

    code = "step_execution_error"


def error_body(error: ArgusError) -> dict[str, Any]:
    """The JSON body for any error raised while compiling or running a workflow."""
    if isinstance(error, WorkflowDefinitionError):
        return error.body()
    return {"message": error.message, "error_type": type(error).__name__, "context": "workflow_execution",
            "inner_error_type": type(error).__name__, "inner_error_message": error.message, "blocks_errors": []}
