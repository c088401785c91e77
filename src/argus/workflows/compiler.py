"""Compile a workflow definition: parse → validate steps → graph → kinds and batch levels → plan (cached).

The plan is immutable and cached by the hash of the definition; :func:`compile_workflow` turns it
into a :class:`~argus.workflows.executor.CompiledWorkflow` with fresh block instances, so state of
stateful blocks belongs to one compiled workflow (one video pipeline, one request).

Example:
    >>> definition = {"version": "1.0", "inputs": [{"type": "WorkflowParameter", "name": "x"}],
    ...               "steps": [], "outputs": [{"type": "JsonField", "name": "x", "selector": "$inputs.x"}]}
    >>> plan = build_plan(definition)
    >>> plan.inputs["x"].dimensionality
    0
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from argus.workflows.blocks.base import Block, BlockContext, BlockManifest, SelectorSpec
from argus.workflows.definition import (
    JsonField,
    ParsedSelector,
    WorkflowDocument,
    describe_validation,
    input_dimensionality,
    input_kinds,
    parse_document,
    parse_selector,
)
from argus.workflows.errors import (
    BlockNotImplementedError,
    UnknownBlockError,
    WorkflowDefinitionError,
)
from argus.workflows.inner_workflow import Resolver, inline_inner_workflows
from argus.workflows.introspection import find_selectors, selector_fields
from argus.workflows.kinds import WILDCARD_KIND, Kind, kind_names, kinds_compatible
from argus.workflows.reference_catalogue import NOT_IMPLEMENTED_REASONS, REFERENCE_BLOCK_TYPES
from argus.workflows.registry import BlockRegistry, default_registry

if TYPE_CHECKING:
    from argus.runtime.manager import ModelManager
    from argus.settings import Settings

logger = logging.getLogger(__name__)

_PLAN_CACHE_SIZE = 64


@dataclass
class WorkflowContext:
    """What compiled workflows run with (the public API's context object)."""

    settings: Settings
    manager: ModelManager | None = None
    registry: BlockRegistry | None = None
    workflow_id: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def block_registry(self) -> BlockRegistry:
        """The registry in use (the installed blocks unless one was given)."""
        return self.registry or default_registry()


@dataclass(frozen=True)
class InputPlan:
    """A declared workflow input."""

    definition: BaseModel
    kinds: tuple[Kind, ...]
    dimensionality: int


@dataclass
class StepPlan:
    """A validated step and what the executor needs to run it."""

    name: str
    manifest: BlockManifest
    block_class: type[Block]
    selector_fields: frozenset[str]
    data_sources: list[ParsedSelector]
    dependencies: set[str]
    outputs: dict[str, tuple[Kind, ...]]
    next_steps: list[str] = field(default_factory=list)
    controlled_by: list[str] = field(default_factory=list)
    input_dim: int = 0
    dim: int = 0
    batch_fields: frozenset[str] = frozenset()
    """Fields fed by batch data (their values differ per element); the other selector fields are scalars."""


@dataclass
class WorkflowPlan:
    """Everything known about a definition before it runs."""

    document: WorkflowDocument
    inputs: dict[str, InputPlan]
    steps: dict[str, StepPlan]
    order: list[str]
    outputs: list[JsonField]
    output_dims: dict[str, int]
    definition_hash: str = ""


def definition_hash(definition: Any) -> str:
    """A stable hash of the definition JSON."""
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _fail(message: str, step: str | None = None, error_type: str = "WorkflowDefinitionError",
          block_type: str | None = None, property_name: str | None = None) -> WorkflowDefinitionError:
    return WorkflowDefinitionError(message, error_type=error_type, step=step, block_type=block_type,
                                   property_name=property_name)


def extend_registry(document: WorkflowDocument, registry: BlockRegistry, context: BlockContext | None
                    ) -> BlockRegistry:
    """Registry extended by the custom Python blocks of ``dynamic_blocks_definitions``."""
    if not document.dynamic_blocks_definitions:
        return registry
    # The one call site of the custom-Python hook (implemented in argus/workflows/blocks/custom/).
    try:
        from argus.workflows.blocks.custom import compile_dynamic_blocks  # type: ignore[attr-defined]
    except ImportError:
        raise BlockNotImplementedError(
            "This workflow defines custom Python blocks (dynamic_blocks_definitions), which this Argus build "
            "does not support yet.") from None
    blocks = compile_dynamic_blocks(document.dynamic_blocks_definitions, context)
    extended = BlockRegistry(blocks=dict(registry.blocks), failed_modules=dict(registry.failed_modules))
    for block in blocks:
        extended.blocks.update({type_id: block for type_id in block.manifest_class.type_ids()})
    return extended


def _validate_step(raw: Any, position: int, registry: BlockRegistry) -> tuple[BlockManifest, type[Block]]:
    if not isinstance(raw, dict):
        raise _fail(f"steps[{position}] must be an object with 'type' and 'name'.", error_type="WorkflowSyntaxError")
    name = raw.get("name")
    type_id = raw.get("type")
    if not isinstance(name, str) or not name:
        raise _fail(f"steps[{position}] has no 'name'.", error_type="WorkflowSyntaxError")
    if not isinstance(type_id, str):
        raise _fail("has no 'type'.", step=name, error_type="WorkflowSyntaxError")
    block = registry.get(type_id)
    if block is None:
        broken = "; ".join(f"{m}: {e}" for m, e in registry.failed_modules.items())
        hint = f" (block modules that failed to load: {broken})" if broken else ""
        if type_id in REFERENCE_BLOCK_TYPES:
            reason = f" ({NOT_IMPLEMENTED_REASONS[type_id]})" if type_id in NOT_IMPLEMENTED_REASONS else ""
            raise BlockNotImplementedError(
                f"Step '{name}': block type '{type_id}' (from Roboflow Inference's catalogue) is not implemented by "
                f"Argus{reason}{hint}. GET /workflows/blocks/describe lists the available blocks.")
        raise UnknownBlockError(f"block type '{type_id}' is not implemented by Argus{hint}. "
                                "GET /workflows/blocks/describe lists the available blocks.",
                                error_type="UnknownManifestType", step=name, block_type=type_id)
    try:
        manifest = block.manifest_class.model_validate(raw)
    except ValidationError as error:
        details = error.errors()
        prop = str(details[0]["loc"][0]) if details and details[0]["loc"] else None
        selector = next((e for e in error.errors() if isinstance(e.get("input"), str)
                         and e["input"].startswith("$")), None)
        if selector is not None:
            where = ".".join(str(p) for p in selector.get("loc", ()))
            raise _fail(f"field '{where}' cannot take '{selector['input']}': it is not a selector of the kind this "
                        "field takes ('$inputs.<name>' or '$steps.<step>.<output>').", step=name,
                        block_type=type_id, property_name=prop, error_type="InvalidReferenceTargetError") from None
        raise _fail(f"invalid '{type_id}' step: {describe_validation(error)}", step=name, block_type=type_id,
                    property_name=prop, error_type="ManifestValidationError") from None
    known = {name for name, info in type(manifest).model_fields.items()}
    for info in type(manifest).model_fields.values():
        choices = getattr(info.validation_alias, "choices", None) or []
        known.update(str(choice) for choice in choices)
    ignored = sorted(set(raw) - known)
    if ignored:
        logger.warning("step %s (%s): ignoring unknown field(s) %s", name, type_id, ", ".join(ignored))
    return manifest, block


def _outputs_of(manifest: BlockManifest) -> dict[str, tuple[Kind, ...]]:
    return {o.name: tuple(o.kind) for o in manifest.get_actual_outputs()}


def _source_kinds(selector: ParsedSelector, inputs: dict[str, InputPlan], steps: dict[str, StepPlan],
                  step: str, prop: str) -> tuple[Kind, ...]:
    if selector.source == "inputs":
        if selector.name not in inputs:
            raise _fail(f"field '{prop}' refers to input '{selector.name}', which the workflow does not declare "
                        f"(inputs: {', '.join(sorted(inputs)) or 'none'}).", step=step, property_name=prop,
                        error_type="InvalidReferenceTargetError")
        return inputs[selector.name].kinds
    if selector.name not in steps:
        raise _fail(f"field '{prop}' refers to step '{selector.name}', which does not exist.", step=step,
                    property_name=prop, error_type="InvalidReferenceTargetError")
    if selector.output is None or selector.output == "*":
        return (WILDCARD_KIND,)
    outputs = steps[selector.name].outputs
    if selector.output not in outputs:
        raise _fail(f"field '{prop}' refers to output '{selector.output}' of step '{selector.name}', which has "
                    f"outputs: {', '.join(outputs) or 'none'}.", step=step, property_name=prop,
                    error_type="InvalidReferenceTargetError")
    return outputs[selector.output]


def _accepts(specs: tuple[SelectorSpec, ...], selector: ParsedSelector) -> list[SelectorSpec]:
    def fits(spec: SelectorSpec) -> bool:
        if spec.points_to == "step":
            return selector.is_step_reference
        if selector.is_step_reference:
            return False
        if spec.points_to == "workflow_input":
            return selector.source == "inputs"
        if spec.points_to == "step_output":
            return selector.source == "steps"
        return True

    return [spec for spec in specs if fits(spec)]


def _link_step(plan: StepPlan, inputs: dict[str, InputPlan], steps: dict[str, StepPlan]) -> None:
    """Check every selector of a step (existence, target type, kinds) and record its dependencies."""
    specs_by_field = selector_fields(type(plan.manifest))
    type_id = plan.manifest.type
    for prop in plan.selector_fields:
        specs = specs_by_field[prop]
        for path, raw in find_selectors(getattr(plan.manifest, prop), prop):
            selector = parse_selector(raw)
            if selector is None:
                raise _fail(f"field '{path}' holds '{raw}', which is not a selector: use '$inputs.<name>' or "
                            "'$steps.<step>.<output>'.", step=plan.name, block_type=type_id, property_name=prop,
                            error_type="InvalidReferenceTargetError")
            fitting = _accepts(specs, selector)
            if not fitting:
                wanted = sorted({s.points_to for s in specs})
                raise _fail(f"field '{path}' cannot take '{raw}' (it takes: {', '.join(wanted)}).", step=plan.name,
                            block_type=type_id, property_name=prop, error_type="InvalidReferenceTargetError")
            if selector.is_step_reference:
                if selector.name not in steps:
                    raise _fail(f"field '{path}' refers to step '{selector.name}', which does not exist.",
                                step=plan.name, block_type=type_id, property_name=prop,
                                error_type="InvalidReferenceTargetError")
                plan.next_steps.append(selector.name)
                continue
            try:
                produced = _source_kinds(selector, inputs, steps, plan.name, path)
            except WorkflowDefinitionError as error:
                for item in error.blocks_errors:
                    item["block_type"] = type_id
                raise
            accepted = [k for spec in fitting for k in spec.kinds]
            if not kinds_compatible(produced, accepted):
                raise _fail(f"field '{path}' expects {' or '.join(kind_names(accepted))} but '{raw}' is "
                            f"{' or '.join(kind_names(produced))}.", step=plan.name, block_type=type_id,
                            property_name=prop, error_type="ReferenceTypeError")
            plan.data_sources.append(selector)
            if selector.source == "steps":
                plan.dependencies.add(selector.name)


def _order(steps: dict[str, StepPlan]) -> list[str]:
    graph = {name: set(plan.dependencies) for name, plan in steps.items()}
    for name, plan in steps.items():
        for target in plan.next_steps:
            graph[target].add(name)
            steps[target].controlled_by.append(name)
    try:
        return list(TopologicalSorter(graph).static_order())
    except CycleError as error:
        cycle = " -> ".join(error.args[1]) if len(error.args) > 1 else "?"
        first = error.args[1][0] if len(error.args) > 1 else None
        raise _fail(f"the steps form a cycle ({cycle}); a workflow must be a directed acyclic graph.", step=first,
                    error_type="ExecutionGraphStructureError") from None


def _source_dim(selector: ParsedSelector, inputs: dict[str, InputPlan], steps: dict[str, StepPlan]) -> int:
    if selector.source == "inputs":
        return inputs[selector.name].dimensionality
    return steps[selector.name].dim


def _dimensions(order: list[str], inputs: dict[str, InputPlan], steps: dict[str, StepPlan]) -> None:
    for name in order:
        plan = steps[name]
        plan.input_dim = max((_source_dim(s, inputs, steps) for s in plan.data_sources), default=0)
        plan.batch_fields = frozenset(
            prop for prop in plan.selector_fields for _, raw in find_selectors(getattr(plan.manifest, prop))
            if (selector := parse_selector(raw)) is not None and not selector.is_step_reference
            and _source_dim(selector, inputs, steps) >= 1)
        offset = plan.block_class.output_dimensionality_offset
        if offset < 0 and plan.input_dim < 1:
            raise _fail("this block collapses a nested batch, but none of its inputs is batch-oriented.", step=name,
                        block_type=plan.manifest.type, error_type="StepInputDimensionalityError")
        plan.dim = max(0, plan.input_dim + offset)
        for controller in plan.controlled_by:
            if steps[controller].input_dim > plan.input_dim:
                raise _fail(f"flow-control step '{controller}' decides per element of a deeper batch than this "
                            "step's inputs; wire this step to data of the same batch level.", step=name,
                            error_type="ControlFlowDefinitionError")


def _stored_workflows(context: BlockContext | None) -> Resolver | None:
    """Reads stored definitions (``workspace/id``) for inner workflows, when there are settings to find the store."""
    if context is None:
        return None
    from argus.workflows.store import WorkflowStore

    store = WorkflowStore(context.settings.workflow_store_dir)
    return lambda workspace, workflow_id: store.get(workspace, workflow_id).load()


def build_plan(definition: Any, registry: BlockRegistry | None = None, context: BlockContext | None = None
               ) -> WorkflowPlan:
    """Validate ``definition`` into a :class:`WorkflowPlan`; raises :class:`WorkflowDefinitionError` (400).

    Inner workflows are inlined first (:mod:`argus.workflows.inner_workflow`); stored ones come from the workflow
    store of ``context``'s settings."""
    definition = inline_inner_workflows(definition, _stored_workflows(context))
    document = parse_document(definition)
    registry = extend_registry(document, registry or default_registry(), context)
    inputs: dict[str, InputPlan] = {}
    for item in document.inputs:
        if item.name in inputs:
            raise _fail(f"input '{item.name}' is declared twice.", error_type="DuplicatedNameError")
        inputs[item.name] = InputPlan(item, tuple(input_kinds(item)), input_dimensionality(item))
    steps: dict[str, StepPlan] = {}
    for position, raw in enumerate(document.steps):
        manifest, block = _validate_step(raw, position, registry)
        if manifest.name in steps:
            raise _fail(f"the step name '{manifest.name}' is used by more than one step; step names must be "
                        "unique.", step=manifest.name, block_type=manifest.type, error_type="DuplicatedNameError")
        fields = frozenset(f for f in selector_fields(type(manifest)) if find_selectors(getattr(manifest, f)))
        steps[manifest.name] = StepPlan(manifest.name, manifest, block, fields, [], set(), _outputs_of(manifest))
    for plan in steps.values():
        _link_step(plan, inputs, steps)
    order = _order(steps)
    _dimensions(order, inputs, steps)
    output_dims: dict[str, int] = {}
    names: set[str] = set()
    for output in document.outputs:
        if output.name in names:
            raise _fail(f"output '{output.name}' is declared twice.", error_type="DuplicatedNameError")
        names.add(output.name)
        selector = parse_selector(output.selector)
        if selector is None or selector.is_step_reference:
            raise _fail(f"output '{output.name}' has selector '{output.selector}'; use '$steps.<step>.<output>', "
                        "'$steps.<step>.*' or '$inputs.<name>'.", error_type="InvalidReferenceTargetError")
        _source_kinds(selector, inputs, steps, f"<output {output.name}>", "selector")
        output_dims[output.name] = _source_dim(selector, inputs, steps)
    return WorkflowPlan(document, inputs, steps, order, list(document.outputs), output_dims,
                        definition_hash(definition))


class _PlanCache:
    """LRU of plans by definition hash (definitions with custom Python blocks are not cached)."""

    def __init__(self, size: int = _PLAN_CACHE_SIZE) -> None:
        self._plans: OrderedDict[tuple[str, int], WorkflowPlan] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get_or_build(self, definition: Any, context: WorkflowContext, block_context: BlockContext) -> WorkflowPlan:
        registry = context.block_registry()
        if isinstance(definition, dict) and definition.get("dynamic_blocks_definitions"):
            return build_plan(definition, registry, block_context)
        key = (definition_hash(definition), id(registry))
        with self._lock:
            plan = self._plans.get(key)
            if plan is not None:
                self._plans.move_to_end(key)
                return plan
        plan = build_plan(definition, registry, block_context)
        with self._lock:
            self._plans[key] = plan
            while len(self._plans) > self._size:
                self._plans.popitem(last=False)
        return plan


_cache = _PlanCache()


def cached_plan(definition: dict[str, Any], context: WorkflowContext, block_context: BlockContext) -> WorkflowPlan:
    """The plan of ``definition`` (built once per definition hash and context; see :func:`build_plan`)."""
    return _cache.get_or_build(definition, context, block_context)
