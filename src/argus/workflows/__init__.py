"""Workflows: JSON-defined graphs of blocks, compiled once and run many times.

Example:
    >>> from argus.workflows import WorkflowContext, compile_workflow  # doctest: +SKIP
    >>> compiled = compile_workflow(definition, WorkflowContext(settings=settings, manager=manager))  # doctest: +SKIP
    >>> serialize_outputs(compiled.run({"image": frame}).outputs)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

__all__ = ["CompiledWorkflow", "WorkflowContext", "WorkflowResult", "compile_workflow", "serialize_outputs"]


def __getattr__(name: str) -> Any:
    # Lazy: block modules import argus.workflows.* submodules; the engine imports the registry.
    if name in ("CompiledWorkflow", "WorkflowResult", "compile_workflow"):
        from argus.workflows import executor

        return getattr(executor, name)
    if name == "WorkflowContext":
        from argus.workflows import compiler

        return compiler.WorkflowContext
    if name == "serialize_outputs":
        from argus.workflows.serialization import serialize_outputs

        return serialize_outputs
    raise AttributeError(name)
