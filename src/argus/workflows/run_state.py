"""What one workflow run holds (values by step and element index) and how a selector reads from it.

Shared by the executor, which fills a :class:`RunState`, and the output assembly, which reads it; neither
imports the other for it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from argus.workflows.definition import ParsedSelector
from argus.workflows.inputs import Index, PreparedInputs

if TYPE_CHECKING:
    from argus.workflows.compiler import WorkflowPlan


@dataclass
class RunState:
    """Everything one run produces, by step name and element index."""

    inputs: PreparedInputs
    values: dict[str, dict[Index, dict[str, Any]]] = field(default_factory=dict)
    parents: dict[str, list[Index]] = field(default_factory=dict)
    flow: dict[str, dict[Index, frozenset[str]]] = field(default_factory=dict)
    trace: list[dict[str, Any]] | None = None
    disable_sinks: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


def source_dim(selector: ParsedSelector, plan: WorkflowPlan) -> int:
    """Batch depth of the data a selector points at (0: one value for the whole run)."""
    if selector.source == "inputs":
        return plan.inputs[selector.name].dimensionality
    return plan.steps[selector.name].dim


def source_domain(selector: ParsedSelector, state: RunState) -> dict[Index, Any] | None:
    """Index → value of a batch source (None for scalar inputs)."""
    if selector.source == "inputs":
        return state.inputs.batches.get(selector.name)
    return state.values.get(selector.name, {})


def lookup(selector: ParsedSelector, index: Index, plan: WorkflowPlan, state: RunState) -> tuple[bool, Any]:
    """``(present, value)`` of a selector at ``index`` (truncated to the source's depth)."""
    dim = source_dim(selector, plan)
    if selector.source == "inputs" and dim == 0:
        return True, state.inputs.scalars.get(selector.name)
    domain = source_domain(selector, state) or {}
    key = index[:dim]
    if key not in domain:
        return False, None
    value = domain[key]
    if selector.source == "steps":
        return True, dict(value) if selector.output == "*" else value.get(selector.output)
    return True, value
