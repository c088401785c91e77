"""Self-description: blocks (with JSON Schemas from their manifests), the definition schema, interfaces.

Example:
    >>> describe_blocks()["blocks"][0]["manifest_type_identifier"].startswith("roboflow_core/")  # doctest: +SKIP
    True
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from pydantic import TypeAdapter, ValidationError
from pydantic.json_schema import models_json_schema

from argus.workflows.blocks.base import Block
from argus.workflows.blocks.custom.dynamic import DynamicBlockDefinition
from argus.workflows.compiler import build_plan
from argus.workflows.definition import (
    WorkflowDocument,
    describe_validation,
    parse_selector,
)
from argus.workflows.errors import UnknownBlockError, WorkflowDefinitionError
from argus.workflows.introspection import selector_fields
from argus.workflows.kinds import ALL_KINDS, Kind
from argus.workflows.query_language import AllOperationsType, StatementGroup
from argus.workflows.registry import BlockRegistry, default_registry

logger = logging.getLogger(__name__)

EXECUTION_ENGINE_VERSIONS = ["1.17.0"]
"""The reference engine version whose definitions Argus runs (what 1.8.3 reports)."""


def _block_description(block: type[Block]) -> dict[str, Any]:
    manifest = block.manifest_class
    ids = manifest.type_ids()
    extra = manifest.model_config.get("json_schema_extra") or {}
    offsets = {name: 0 for name in selector_fields(manifest)}
    return {
        "manifest_type_identifier": ids[0],
        "manifest_type_identifier_aliases": list(ids[1:]),
        "human_friendly_block_name": extra.get("name", ids[0]) if isinstance(extra, dict) else ids[0],
        "block_schema": manifest.model_json_schema(),
        "outputs_manifest": [output.describe() for output in manifest.describe_outputs()],
        "block_source": "workflows_core",
        "fully_qualified_block_class_name": f"{block.__module__}.{block.__qualname__}",
        "input_dimensionality_offsets": offsets,
        "output_dimensionality_offset": block.output_dimensionality_offset,
        "execution_engine_compatibility": ">=1.0.0,<2.0.0",
    }


def _connections(blocks: list[type[Block]]) -> dict[str, list[dict[str, Any]]]:
    connections: dict[str, list[dict[str, Any]]] = {}
    for block in blocks:
        manifest = block.manifest_class
        for prop, specs in selector_fields(manifest).items():
            for spec in specs:
                for kind in spec.kinds:
                    connections.setdefault(kind.name, []).append({
                        "manifest_type_identifier": manifest.type_ids()[0], "property_name": prop,
                        "property_description": manifest.model_fields[prop].description or "",
                        "compatible_element": spec.points_to,
                    })
    return connections


_DESCRIBED: list[dict[str, Any]] = []


def _describe(registry: BlockRegistry) -> dict[str, Any]:
    blocks = registry.unique_blocks()
    return {
        "blocks": [_block_description(block) for block in blocks],
        "declared_kinds": [kind.describe() for kind in ALL_KINDS.values()],
        "kinds_connections": _connections(blocks),
        "primitives_connections": [],
        "universal_query_language_description": {
            "operations_schema": TypeAdapter(list[AllOperationsType]).json_schema(),
            "statement_schema": StatementGroup.model_json_schema(),
        },
        # the JSON Schema of a custom Python block's definition (what a workflow's dynamic_blocks_definitions holds)
        "dynamic_block_definition_schema": DynamicBlockDefinition.model_json_schema(),
    }


def describe_blocks(registry: BlockRegistry | None = None) -> dict[str, Any]:
    """The ``/workflows/blocks/describe`` answer (computed once for the installed blocks)."""
    if registry is not None and registry is not default_registry():
        return _describe(registry)  # extended by custom blocks: one request's answer, not cached
    if not _DESCRIBED:
        _DESCRIBED.append(_describe(default_registry()))
    return _DESCRIBED[0]


@functools.cache
def definition_schema() -> dict[str, Any]:
    """JSON Schema of a workflow definition, with one ``$defs`` entry per block manifest."""
    manifests = [block.manifest_class for block in default_registry().unique_blocks()]
    _, schema = models_json_schema([(m, "validation") for m in manifests], ref_template="#/$defs/{model}")
    document = WorkflowDocument.model_json_schema(ref_template="#/$defs/{model}")
    defs = {**schema.get("$defs", {}), **document.pop("$defs", {})}
    document["properties"]["steps"] = {"type": "array", "items": {"anyOf": [
        {"$ref": f"#/$defs/{m.__name__}"} for m in manifests]}}
    document["$defs"] = defs
    return document


def _kind_names(kinds: tuple[Kind, ...] | list[Kind]) -> list[str]:
    return [k.name for k in kinds]


def describe_interface(definition: dict[str, Any]) -> dict[str, Any]:
    """Inputs and outputs of a definition with their kinds (``/workflows/describe_interface``)."""
    plan = build_plan(definition)
    inputs = {name: _kind_names(spec.kinds) for name, spec in plan.inputs.items()}
    outputs: dict[str, Any] = {}
    for output in plan.outputs:
        selector = parse_selector(output.selector)
        assert selector is not None
        if selector.source == "inputs":
            outputs[output.name] = inputs[selector.name]
        elif selector.output == "*":
            outputs[output.name] = {name: _kind_names(kinds) for name, kinds in plan.steps[selector.name].outputs.items()}
        else:
            outputs[output.name] = _kind_names(plan.steps[selector.name].outputs[str(selector.output)])
    used = {name for kinds in inputs.values() for name in kinds}
    for value in outputs.values():
        used.update(name for kinds in (value.values() if isinstance(value, dict) else [value]) for name in kinds)
    hints = {name: ALL_KINDS[name].internal_type if name in ALL_KINDS else "Any" for name in sorted(used)}
    return {"inputs": inputs, "outputs": outputs, "typing_hints": hints, "kinds_schemas": {}}


def dynamic_outputs(step: dict[str, Any]) -> list[dict[str, Any]]:
    """Outputs of one step manifest (``/workflows/blocks/dynamic_outputs``)."""
    if not isinstance(step, dict) or not isinstance(step.get("type"), str):
        raise WorkflowDefinitionError("Send one step manifest: a JSON object with 'type' and 'name'.")
    block = default_registry().get(step["type"])
    if block is None:
        raise UnknownBlockError(f"block type '{step['type']}' is not implemented by Argus.",
                                error_type="UnknownManifestType", step=str(step.get("name", "?")),
                                block_type=step["type"])
    try:
        manifest = block.manifest_class.model_validate({"name": "step", **step})
    except ValidationError as error:
        raise WorkflowDefinitionError(f"invalid '{step['type']}' manifest: {describe_validation(error)}",
                                      step=str(step.get("name", "?")), block_type=step["type"]) from None
    return [output.describe() for output in manifest.get_actual_outputs()]
