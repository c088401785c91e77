"""Inner workflows (``roboflow_core/inner_workflow@v1``): a workflow used as one step, inlined when compiling.

As the reference's compiler does, an embedded inner workflow becomes its own steps in the outer graph, before
anything else is checked:

- each inner step is renamed ``<inner step>__<its name>`` (with ``__2``, ``__3`` … if that name is taken);
- ``$inputs.x`` inside becomes the selector bound to ``x`` in ``parameter_bindings`` (or an unbound parameter's
  default value); ``$steps.old`` becomes ``$steps.<new name>``;
- outside, ``$steps.<inner step>.<output>`` becomes the selector of the inner workflow's output of that name, and a
  bare ``$steps.<inner step>`` (flow control naming it) the first inlined step.

The inner workflow is given inline (``workflow_definition``) or by ``workflow_workspace_id`` / ``workflow_id`` from
this server's workflow store. Nesting is at most :data:`MAX_NESTING` deep and :data:`MAX_INNER_WORKFLOWS` in all, and
a workflow that contains itself is refused. ``remote_dispatch`` (sending the inner workflow to another server) is
not supported: 501.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from argus.errors import NotImplementedFeatureError
from argus.workflows.errors import WorkflowDefinitionError

INNER_WORKFLOW_TYPE = "roboflow_core/inner_workflow@v1"
MAX_NESTING = 8
MAX_INNER_WORKFLOWS = 64
_INPUT_REFERENCE = re.compile(r"^\$inputs\.(?P<name>[A-Za-z0-9_\-]+)$")
_OPTIONAL_INPUT_TYPES = {"WorkflowParameter", "InferenceParameter"}

Resolver = Callable[[str, str], dict[str, Any]]
"""(workspace, workflow id) → the stored definition (raises a 404 client error when there is none)."""


def _fail(message: str) -> WorkflowDefinitionError:
    return WorkflowDefinitionError(message, error_type="InnerWorkflowError", block_type=INNER_WORKFLOW_TYPE)


def inline_inner_workflows(definition: Any, resolve: Resolver | None = None) -> Any:
    """``definition`` with every embedded inner workflow inlined (a copy; the definition itself as is if none)."""
    if not isinstance(definition, dict) or not _has_inner(definition.get("steps")):
        return definition
    root = copy.deepcopy(definition)
    count = [0]
    _inline_all(root, resolve, depth=0, count=count, ancestry=())
    return root


def _has_inner(steps: Any) -> bool:
    return isinstance(steps, list) and any(isinstance(s, dict) and s.get("type") == INNER_WORKFLOW_TYPE for s in steps)


def _inline_all(workflow: dict[str, Any], resolve: Resolver | None, depth: int, count: list[int],
                ancestry: tuple[str, ...]) -> None:
    """Inline the inner steps of ``workflow`` (their own inner steps first), in order."""
    if depth >= MAX_NESTING:
        raise _fail(f"inner workflows nest more than {MAX_NESTING} deep")
    index = 0
    while isinstance(workflow.get("steps"), list) and index < len(workflow["steps"]):
        step = workflow["steps"][index]
        if not isinstance(step, dict) or step.get("type") != INNER_WORKFLOW_TYPE:
            index += 1
            continue
        count[0] += 1
        if count[0] > MAX_INNER_WORKFLOWS:
            raise _fail(f"a workflow may hold at most {MAX_INNER_WORKFLOWS} inner workflows")
        if step.get("execution_mode", "embedded") != "embedded":
            raise NotImplementedFeatureError(
                f"inner_workflow step '{step.get('name')}': execution_mode {step.get('execution_mode')!r} is not "
                "supported; Argus runs inner workflows embedded (execution_mode 'embedded')")
        inner, stored = _child(step, resolve)
        if stored in ancestry:
            raise _fail(f"stored workflow {stored} contains itself")
        _inline_all(inner, resolve, depth + 1, count, (*ancestry, stored) if stored else ancestry)
        inlined = _expand(workflow, index, inner)
        index += inlined


def _child(step: dict[str, Any], resolve: Resolver | None) -> tuple[dict[str, Any], str | None]:
    """The inner workflow's definition (a copy), and ``workspace/id`` when it is a stored one (for cycle checks:
    only stored workflows can contain themselves)."""
    name = step.get("name")
    inline = step.get("workflow_definition")
    workspace, workflow_id = (str(step.get(k) or "").strip() for k in ("workflow_workspace_id", "workflow_id"))
    if isinstance(inline, dict) and inline and (workspace or workflow_id):
        raise _fail(f"inner_workflow step '{name}': give either workflow_definition or workflow_workspace_id and "
                    "workflow_id, not both")
    if isinstance(inline, dict) and inline:
        return copy.deepcopy(inline), None
    if not workspace or not workflow_id:
        raise _fail(f"inner_workflow step '{name}' needs a workflow_definition object, or workflow_workspace_id "
                    "and workflow_id of a stored workflow")
    if resolve is None:
        raise _fail(f"inner_workflow step '{name}' names a stored workflow, but no workflow store is available")
    return copy.deepcopy(resolve(workspace, workflow_id)), f"{workspace}/{workflow_id}"


def _expand(workflow: dict[str, Any], index: int, inner: dict[str, Any]) -> int:
    """Replace step ``index`` of ``workflow`` (an inner_workflow step) by the inner steps; how many there are."""
    step = workflow["steps"][index]
    name = step.get("name")
    if not isinstance(name, str) or not name:
        raise _fail("an inner_workflow step needs a non-empty string name")
    bindings = step.get("parameter_bindings") or {}
    inner_steps, inner_inputs = inner.get("steps"), inner.get("inputs") or []
    if not isinstance(bindings, dict) or not isinstance(inner_steps, list) or not inner_steps \
            or not isinstance(inner_inputs, list):
        raise _fail(f"inner_workflow step '{name}' needs parameter_bindings (an object) and a workflow with steps "
                    "and inputs (lists)")
    bound = {str(k): str(v) for k, v in bindings.items()}
    defaults = _check_bindings(name, bound, inner_inputs)
    taken = {s.get("name") for s in workflow["steps"] if isinstance(s, dict)} - {name}
    renames: list[tuple[str, str]] = []
    for inner_step in inner_steps:
        old = inner_step.get("name") if isinstance(inner_step, dict) else None
        if not isinstance(old, str) or not old:
            raise _fail(f"inner_workflow step '{name}': every inner step needs a non-empty string name")
        new, suffix = f"{name}__{old}", 2
        while new in taken:
            new, suffix = f"{name}__{old}__{suffix}", suffix + 1
        taken.add(new)
        renames.append((old, new))
    renames.sort(key=lambda pair: len(pair[0]), reverse=True)

    def rewrite(value: Any) -> Any:
        return _rewrite_inner(value, renames, bound, defaults) if isinstance(value, str) else value

    new_names = dict(renames)
    inlined = []
    for inner_step in inner_steps:
        clone = _map_leaves(copy.deepcopy(inner_step), rewrite)
        clone["name"] = new_names[inner_step["name"]]
        inlined.append(clone)
    outputs = {}
    for output in inner.get("outputs") or []:
        if isinstance(output, dict) and output.get("type", "JsonField") == "JsonField":
            selector = rewrite(output.get("selector"))
            if not isinstance(selector, str):
                raise _fail(f"inner workflow '{name}': output {output.get('name')!r} must be a selector")
            outputs[str(output.get("name"))] = selector
    first = inlined[0]["name"]
    rest = [_map_leaves(s, lambda v: _rewrite_outer(v, name, outputs, first) if isinstance(v, str) else v)
            for i, s in enumerate(workflow["steps"]) if i != index]
    workflow["outputs"] = _map_leaves(workflow.get("outputs") or [],
                                      lambda v: _rewrite_outer(v, name, outputs, first) if isinstance(v, str) else v)
    workflow["steps"] = rest[:index] + inlined + rest[index:]
    return len(inlined)


def _check_bindings(name: str, bound: dict[str, str], inner_inputs: list[Any]) -> dict[str, Any]:
    """The defaults of unbound optional parameters; a 400 for unknown bindings or unbound required inputs."""
    declared: dict[str, Any] = {str(i["name"]): i for i in inner_inputs if isinstance(i, dict) and i.get("name")}
    unknown = sorted(set(bound) - set(declared))
    if unknown:
        raise _fail(f"inner_workflow step '{name}': parameter_bindings name {unknown}, which the inner workflow does "
                    f"not declare (it declares {sorted(declared)})")
    missing = sorted(n for n, spec in declared.items() if n not in bound
                     and spec.get("type") not in _OPTIONAL_INPUT_TYPES)
    if missing:
        raise _fail(f"inner_workflow step '{name}': bind the inner workflow's inputs {missing} in parameter_bindings "
                    "(only WorkflowParameter inputs may be left unbound)")
    return {n: copy.deepcopy(spec["default_value"]) for n, spec in declared.items()
            if n not in bound and spec.get("type") in _OPTIONAL_INPUT_TYPES and spec.get("default_value") is not None}


def _map_leaves(value: Any, fn: Callable[[Any], Any]) -> Any:
    if isinstance(value, dict):
        return {k: _map_leaves(v, fn) for k, v in value.items()}
    if isinstance(value, list):
        return [_map_leaves(v, fn) for v in value]
    return fn(value)


def _rewrite_inner(text: str, renames: list[tuple[str, str]], bound: dict[str, str], defaults: dict[str, Any]) -> Any:
    for old, new in renames:
        text = text.replace(f"$steps.{old}.", f"$steps.{new}.")
    for old, new in renames:
        text = re.sub(rf"\$steps\.{re.escape(old)}(?!\.)(?!__)(?![A-Za-z0-9_\-])", f"$steps.{new}", text)
    whole = _INPUT_REFERENCE.match(text)
    if whole and whole.group("name") in bound:
        return bound[whole.group("name")]
    if whole and whole.group("name") in defaults:
        return copy.deepcopy(defaults[whole.group("name")])
    for key in sorted(bound, key=len, reverse=True):
        text = text.replace(f"$inputs.{key}", bound[key])
    return text


def _rewrite_outer(text: str, inner_name: str, outputs: dict[str, str], first: str) -> str:
    for output in sorted(outputs, key=len, reverse=True):
        text = text.replace(f"$steps.{inner_name}.{output}", outputs[output])
    return re.sub(rf"\$steps\.{re.escape(inner_name)}(?!\.)(?!__)(?![A-Za-z0-9_\-])", f"$steps.{first}", text)
