"""Run a compiled workflow: steps in dependency order, independent ones at once on a thread pool.

The profiler trace is a list of Chrome trace events (``ph: "X"`` with ``ts``/``dur`` in µs): load it
in chrome://tracing or Perfetto.

Data live in batches keyed by index tuples: ``(i,)`` is input image ``i``; ``(i, j)`` is crop ``j`` of
it (a nested batch made by a block with ``output_dimensionality_offset = 1``). A step runs once per
element of its deepest input; an element whose inputs are missing (a skipped branch) or that flow
control turned away is skipped, and its outputs come back as ``None``.

Example:
    >>> from argus.settings import Settings  # doctest: +SKIP
    >>> compiled = compile_workflow(definition, WorkflowContext(settings=Settings()))  # doctest: +SKIP
    >>> compiled.run({"image": frame}).outputs[0]["predictions"]  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from graphlib import TopologicalSorter
from typing import TYPE_CHECKING, Any

from argus.errors import ArgusError
from argus.workflows.blocks.base import Block, BlockContext, Element, FlowControl
from argus.workflows.compiler import WorkflowContext, cached_plan
from argus.workflows.data import VideoMetadata
from argus.workflows.definition import ParsedSelector, parse_selector
from argus.workflows.errors import StepExecutionError
from argus.workflows.inputs import Index, prepare_inputs
from argus.workflows.introspection import resolve_value
from argus.workflows.outputs import assemble_outputs
from argus.workflows.pools import pools_for
from argus.workflows.run_state import RunState, lookup, source_dim, source_domain

if TYPE_CHECKING:
    from argus.workflows.compiler import StepPlan, WorkflowPlan

logger = logging.getLogger(__name__)



@dataclass
class WorkflowResult:
    """One output dict per input image, plus the profiler trace when asked for."""

    outputs: list[dict[str, Any]]
    profiler_trace: list[dict[str, Any]] = field(default_factory=list)


class CompiledWorkflow:
    """A plan with its block instances; keeps per-video state of stateful blocks across runs."""

    def __init__(self, plan: WorkflowPlan, context: WorkflowContext, block_context: BlockContext) -> None:
        self.plan = plan
        self.context = context
        self._pools = pools_for(context.settings)
        block_context.executor = block_context.executor or self._pools.io
        self.blocks: dict[str, Block] = {
            name: step.block_class(step.manifest, block_context) for name, step in plan.steps.items()
        }
        self._run_lock = threading.Lock()

    def run(self, inputs: dict[str, Any], profile: bool = False, disable_sinks: bool = False) -> WorkflowResult:
        """Run on ``inputs`` (input name → value); see :mod:`argus.workflows.inputs` for accepted values."""
        started = time.perf_counter()
        prepared = prepare_inputs(self.plan, inputs, self.context.settings)
        state = RunState(prepared, trace=[] if profile else None, disable_sinks=disable_sinks)
        with self._run_lock:  # stateful blocks see frames in order
            self._run_steps(state)
        outputs = assemble_outputs(self.plan, state)
        if state.trace is not None:
            state.trace.append(_event("workflow_run", "workflow", started, time.perf_counter()))
        return WorkflowResult(outputs, state.trace or [])

    def _run_steps(self, state: RunState) -> None:
        graph = {name: set(step.dependencies) | set(step.controlled_by) for name, step in self.plan.steps.items()}
        sorter = TopologicalSorter(graph)
        sorter.prepare()
        pending: dict[Future[None], str] = {}
        while sorter.is_active():
            ready = list(sorter.get_ready())
            if len(ready) == 1 and not pending:
                self._run_step(ready[0], state)
                sorter.done(ready[0])
                continue
            for name in ready:
                pending[self._pools.steps.submit(self._run_step, name, state)] = name
            if not pending:
                break
            done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for future in done:
                name = pending.pop(future)
                error = future.exception()
                if error is not None:
                    for other in pending:
                        other.cancel()
                    wait(list(pending))
                    raise error
                sorter.done(name)

    def _run_step(self, name: str, state: RunState) -> None:
        step = self.plan.steps[name]
        started = time.perf_counter()
        elements = _elements(step, self.plan, state)
        block = self.blocks[name]
        results: list[Any] = []
        if elements:
            try:
                results = block.run_batch(elements)
            except ArgusError as error:
                if not error.message.startswith(f"Step '{name}'"):
                    error.message = f"Step '{name}': {error.message}"
                    error.args = (error.message,)
                raise
            except Exception as error:
                logger.exception("workflow step %s (%s) failed", name, step.manifest.type)
                raise StepExecutionError(f"Step '{name}' ({step.manifest.type}) failed: "
                                         f"{type(error).__name__}: {error}") from error
            if len(results) != len(elements):
                raise StepExecutionError(f"Step '{name}': block returned {len(results)} results for "
                                         f"{len(elements)} inputs.")
        _store(step, elements, results, state)
        if state.trace is not None:
            event = _event(name, "step_execution", started, time.perf_counter())
            event["args"] = {"block_type": step.manifest.type, "elements": len(elements)}
            with state.lock:
                state.trace.append(event)


def _event(name: str, category: str, started: float, ended: float) -> dict[str, Any]:
    return {"name": name, "cat": category, "ph": "X", "ts": round(started * 1e6), "dur": round(
        (ended - started) * 1e6), "pid": os.getpid(), "tid": threading.get_ident()}


def _source_parents(selector: ParsedSelector, state: RunState) -> list[Index]:
    if selector.source == "inputs":
        return state.inputs.parents.get(selector.name, [()])
    return state.parents.get(selector.name, [])


def _indices(step: StepPlan, plan: WorkflowPlan, state: RunState) -> list[Index]:
    """Element indices at the step's input depth where every input is present and flow control allows it."""
    deepest = [s for s in step.data_sources if source_dim(s, plan) == step.input_dim and step.input_dim > 0]
    lenient = step.block_class.accepts_empty_values
    if not deepest:
        candidates: list[Index] = [()]
    elif lenient and step.input_dim == 1:
        candidates = [(i,) for i in range(state.inputs.batch_size)]
    else:
        domains = [source_domain(s, state) or {} for s in deepest]
        candidates = sorted(set().union(*domains)) if lenient else [
            index for index in domains[0] if all(index in d for d in domains[1:])]
    selected = []
    for index in candidates:
        present = lenient or all(lookup(s, index, plan, state)[0] for s in step.data_sources)
        if present and all(name_allowed(step.name, c, index, plan, state) for c in step.controlled_by):
            selected.append(index)
    return sorted(selected)


def name_allowed(name: str, controller: str, index: Index, plan: WorkflowPlan, state: RunState) -> bool:
    """Whether flow-control step ``controller`` let ``name`` run for the element at ``index``."""
    decision = state.flow.get(controller, {}).get(index[:plan.steps[controller].input_dim])
    return decision is not None and name in decision


def _kwargs(step: StepPlan, index: Index, plan: WorkflowPlan, state: RunState, children: list[Index] | None
            ) -> dict[str, Any]:
    def resolve(raw: str) -> Any:
        selector = parse_selector(raw)
        if selector is None or selector.is_step_reference:
            return raw
        if children is not None and source_dim(selector, plan) == step.input_dim:
            return [lookup(selector, child, plan, state)[1] for child in children]
        return lookup(selector, index, plan, state)[1]

    manifest = step.manifest
    kwargs = {}
    for name in type(manifest).model_fields:
        if name in ("type", "name"):
            continue
        value = getattr(manifest, name)
        kwargs[name] = resolve_value(value, resolve) if name in step.selector_fields else value
    return kwargs


def _video_metadata(index: Index, state: RunState) -> VideoMetadata:
    return state.inputs.video_metadata.get(index[0], VideoMetadata()) if index else (
        state.inputs.video_metadata.get(0, VideoMetadata()))


def _elements(step: StepPlan, plan: WorkflowPlan, state: RunState) -> list[Element]:
    offset = step.block_class.output_dimensionality_offset
    indices = _indices(step, plan, state)
    if offset >= 0:
        return [Element(_kwargs(step, index, plan, state, None), index, _video_metadata(index, state),
                        state.disable_sinks, step.batch_fields) for index in indices]
    deepest = next(s for s in step.data_sources if source_dim(s, plan) == step.input_dim)
    groups: dict[Index, list[Index]] = {parent: [] for parent in _source_parents(deepest, state)}
    for index in indices:
        groups.setdefault(index[:-1], []).append(index)
    elements = []
    for parent, children in sorted(groups.items()):
        present = all(lookup(s, parent, plan, state)[0] for s in step.data_sources
                      if source_dim(s, plan) < step.input_dim)
        allowed = all(name_allowed(step.name, c, parent, plan, state) for c in step.controlled_by
                      if plan.steps[c].input_dim <= len(parent))
        if present and allowed:
            elements.append(Element(_kwargs(step, parent, plan, state, children), parent,
                                    _video_metadata(parent, state), state.disable_sinks, step.batch_fields))
    return elements


def _check_dict(step: StepPlan, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise StepExecutionError(f"Step '{step.name}': block returned {type(value).__name__}, expected a dict of "
                                 "outputs.")
    return value


def _store(step: StepPlan, elements: list[Element], results: list[Any], state: RunState) -> None:
    offset = step.block_class.output_dimensionality_offset
    values: dict[Index, dict[str, Any]] = {}
    flow: dict[Index, frozenset[str]] = {}
    for element, result in zip(elements, results):
        if isinstance(result, FlowControl):
            chosen = {s.split(".", 1)[1] if s.startswith("$steps.") else s for s in result.next_steps}
            flow[element.index] = frozenset(chosen)
            values[element.index] = {}
        elif offset > 0:
            if not isinstance(result, list):
                raise StepExecutionError(f"Step '{step.name}': block must return a list of output dicts (one per "
                                         f"new batch element), got {type(result).__name__}.")
            for k, item in enumerate(result):
                values[element.index + (k,)] = _check_dict(step, item)
        else:
            values[element.index] = _check_dict(step, result)
    with state.lock:
        state.values[step.name] = values
        state.flow[step.name] = flow
        if offset > 0:
            state.parents[step.name] = [e.index for e in elements]
        elif offset < 0:
            state.parents[step.name] = sorted({index[:-1] for index in values})
        else:
            state.parents[step.name] = _inherited_parents(step, state)


def _inherited_parents(step: StepPlan, state: RunState) -> list[Index]:
    """Parents of an element-wise step's output: those of its deepest input."""
    for source in step.data_sources:
        parents = _source_parents(source, state)
        if parents and len(parents[0]) == step.input_dim - 1:
            return parents
    return [()]


def compile_workflow(definition: dict[str, Any], context: WorkflowContext) -> CompiledWorkflow:
    """Compile ``definition`` (plan cached by its hash) into a runnable workflow with its own block instances."""
    block_context = BlockContext(settings=context.settings, manager=context.manager,
                                 workflow_id=context.workflow_id, extras=dict(context.extras))
    return CompiledWorkflow(cached_plan(definition, context, block_context), context, block_context)
