"""Custom Python blocks: ``dynamic_blocks_definitions`` turned into blocks that run in a sandbox process.

The compiler calls :func:`compile_dynamic_blocks` when a definition carries
``dynamic_blocks_definitions``. With ``allow_custom_python`` off (the default) that is a 403 saying
how to turn it on. Otherwise each definition (the reference's ``DynamicBlockDefinition``) becomes a
manifest class built with ``pydantic.create_model`` from its ``inputs`` (selector types and kinds,
value types, defaults) and ``outputs``, and a :class:`DynamicBlock` subclass whose ``run`` sends the
resolved inputs to its own :class:`~argus.workflows.sandbox.SandboxProcess`; the code never runs in
the server process.

Example:
    >>> from argus.settings import Settings
    >>> from argus.workflows.blocks.base import BlockContext
    >>> compile_dynamic_blocks([{"manifest": {}, "code": {}}], BlockContext(Settings()))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    argus.errors.ForbiddenError: This workflow defines custom Python blocks ...
"""

from __future__ import annotations

import logging
from enum import Enum
from typing import Any, Literal, Union

from pydantic import BaseModel, Field, ValidationError, create_model

from argus.errors import ForbiddenError
from argus.workflows.blocks.base import (
    Block,
    BlockContext,
    BlockManifest,
    BlockOutput,
    Element,
    ImageSelector,
    InputSelector,
    OutputDefinition,
    Selector,
    StepOutputSelector,
    block_config,
)
from argus.workflows.errors import WorkflowDefinitionError
from argus.workflows.kinds import ALL_KINDS, IMAGE_KIND, WILDCARD_KIND, Kind
from argus.workflows.sandbox import CustomPythonError, SandboxLimits, SandboxProcess

logger = logging.getLogger(__name__)

DISABLED_MESSAGE = (
    "This workflow defines custom Python blocks ({types}), which are disabled on this server. An administrator "
    "can enable them with ARGUS_ALLOW_CUSTOM_PYTHON=true (the reference's ALLOW_CUSTOM_PYTHON_EXECUTION_IN_WORKFLOWS"
    "=True is accepted too); the code then runs in a separate sandbox process with a time limit "
    "(ARGUS_CUSTOM_PYTHON_TIMEOUT) and a memory limit (ARGUS_CUSTOM_PYTHON_MEMORY_MB)."
)


class SelectorType(str, Enum):
    """What a dynamic input may be wired to (the reference's names)."""

    INPUT_IMAGE = "input_image"
    STEP_OUTPUT_IMAGE = "step_output_image"
    INPUT_PARAMETER = "input_parameter"
    STEP_OUTPUT = "step_output"
    BATCH = "batch"
    SCALAR = "scalar"


class ValueType(str, Enum):
    """Literal values a dynamic input accepts."""

    ANY = "any"
    INTEGER = "integer"
    FLOAT = "float"
    BOOLEAN = "boolean"
    DICT = "dict"
    LIST = "list"
    STRING = "string"


_VALUE_TYPES: dict[ValueType, Any] = {ValueType.ANY: Any, ValueType.INTEGER: int, ValueType.FLOAT: float,
                                      ValueType.BOOLEAN: bool, ValueType.DICT: dict, ValueType.LIST: list,
                                      ValueType.STRING: str}


class DynamicInputDefinition(BaseModel):
    """One input of a dynamic block (one parameter of its ``run``)."""

    type: Literal["DynamicInputDefinition"] = "DynamicInputDefinition"
    has_default_value: bool = False
    default_value: Any = None
    is_optional: bool = False
    is_dimensionality_reference: bool = False
    dimensionality_offset: int = Field(default=0, ge=-1, le=1)
    selector_types: list[SelectorType] = Field(default_factory=list)
    selector_data_kind: dict[SelectorType, list[str]] = Field(default_factory=dict)
    value_types: list[ValueType] = Field(default_factory=list)


class DynamicOutputDefinition(BaseModel):
    """One output of a dynamic block and its kinds."""

    type: Literal["DynamicOutputDefinition"] = "DynamicOutputDefinition"
    kind: list[str] = Field(default_factory=list)


class ManifestDescription(BaseModel):
    """The manifest part of a dynamic block definition."""

    type: Literal["ManifestDescription"] = "ManifestDescription"
    block_type: str
    description: str | None = None
    inputs: dict[str, DynamicInputDefinition]
    outputs: dict[str, DynamicOutputDefinition] = Field(default_factory=dict)
    output_dimensionality_offset: int = Field(default=0, ge=-1, le=1)
    accepts_batch_input: bool = False
    accepts_empty_values: bool = False


class PythonCode(BaseModel):
    """The code part: ``run_function_code`` defines ``run(self, <inputs>) -> dict``."""

    type: Literal["PythonCode"] = "PythonCode"
    run_function_code: str
    run_function_name: str = "run"
    init_function_code: str | None = None
    init_function_name: str = "init"
    imports: list[str] = Field(default_factory=list)


class DynamicBlockDefinition(BaseModel):
    """``{"type": "DynamicBlockDefinition", "manifest": {...}, "code": {...}}``."""

    type: Literal["DynamicBlockDefinition"] = "DynamicBlockDefinition"
    manifest: ManifestDescription
    code: PythonCode


class DynamicBlock(Block):
    """Runs its definition's code in its own sandbox process (started on first use, one per compiled step)."""

    code: dict[str, Any]
    block_type: str
    accepts_batch_input: bool = False

    def __init__(self, step: BlockManifest, context: BlockContext) -> None:
        super().__init__(step, context)
        settings = context.settings
        limits = SandboxLimits(timeout_s=settings.custom_python_timeout, memory_mb=settings.custom_python_memory_mb,
                               isolation=settings.custom_python_isolation,
                               protected_paths=tuple(settings.protected_paths))
        self.sandbox = SandboxProcess(self.code, block_type=self.block_type, limits=limits)

    def run_batch(self, elements: list[Element]) -> list[BlockOutput]:
        """With ``accepts_batch_input``, one call for the whole batch: batch inputs arrive as lists (one entry per
        element), scalars as they are, and ``run`` returns a list with one result per element, as the reference."""
        if not self.accepts_batch_input or not elements:
            return super().run_batch(elements)
        self.element = elements[0]
        batch_fields = elements[0].batch_fields
        kwargs = {name: [e.kwargs[name] for e in elements] if name in batch_fields else value
                  for name, value in elements[0].kwargs.items()}
        results = self.sandbox.call(kwargs)
        if not isinstance(results, list) or len(results) != len(elements):
            raise CustomPythonError(f"Custom Python block {self.block_type!r} accepts batch input, so run() must "
                                    f"return a list of {len(elements)} results, one per element.")
        return [self._checked(result) for result in results]

    def run(self, **kwargs: Any) -> Any:
        return self._checked(self.sandbox.call(kwargs))

    def _checked(self, result: Any) -> Any:
        wants_list = self.output_dimensionality_offset == 1
        if wants_list != isinstance(result, list):
            shape = "a list of output dicts (one per child element)" if wants_list else "one dict of outputs"
            raise CustomPythonError(f"Custom Python block {self.block_type!r} must return {shape} with "
                                    f"output_dimensionality_offset {self.output_dimensionality_offset}.")
        return result


def compile_dynamic_blocks(definitions: list[dict[str, Any]], context: BlockContext | None) -> list[type[Block]]:
    """Block classes for ``dynamic_blocks_definitions`` (403 when custom Python is disabled)."""
    parsed = [_parse(raw, i) for i, raw in enumerate(definitions)] if _enabled(context) else None
    if parsed is None:
        types = ", ".join(sorted({str((d.get("manifest") or {}).get("block_type", "?")) for d in definitions
                                  if isinstance(d, dict)})) or "?"
        raise ForbiddenError(DISABLED_MESSAGE.format(types=types))
    return [_block_class(definition) for definition in parsed]


def _enabled(context: BlockContext | None) -> bool:
    return context is not None and bool(context.settings.allow_custom_python)


def _parse(raw: Any, position: int) -> DynamicBlockDefinition:
    try:
        definition = DynamicBlockDefinition.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise WorkflowDefinitionError(f"dynamic_blocks_definitions[{position}].{where}: {first['msg']}",
                                      error_type="DynamicBlockError") from None
    return definition


def _kinds(names: list[str], block_type: str, where: str) -> list[Kind]:
    unknown = [name for name in names if name not in ALL_KINDS]
    if unknown:
        raise WorkflowDefinitionError(f"custom block '{block_type}' {where} names unknown kinds {unknown}; known "
                                      f"kinds: {', '.join(sorted(ALL_KINDS))}.", error_type="DynamicBlockError")
    return [ALL_KINDS[name] for name in names] or [WILDCARD_KIND]


def _input_type(name: str, spec: DynamicInputDefinition, block_type: str) -> tuple[Any, Any]:
    options: list[Any] = []
    for selector_type in spec.selector_types:
        kinds = _kinds(spec.selector_data_kind.get(selector_type, []), block_type, f"input '{name}'")
        if selector_type in (SelectorType.INPUT_IMAGE, SelectorType.STEP_OUTPUT_IMAGE):
            options.append(Selector(kind=kinds if kinds != [WILDCARD_KIND] else [IMAGE_KIND])
                           if selector_type is SelectorType.STEP_OUTPUT_IMAGE else ImageSelector())
        elif selector_type is SelectorType.INPUT_PARAMETER:
            options.append(InputSelector(kind=kinds))
        elif selector_type is SelectorType.STEP_OUTPUT:
            options.append(StepOutputSelector(kind=kinds))
        else:
            options.append(Selector(kind=kinds))
    options.extend(_VALUE_TYPES[value_type] for value_type in spec.value_types)
    annotation: Any = Union[tuple(options)] if len(options) > 1 else (options[0] if options else Any)  # noqa: UP007
    if spec.is_optional:
        return annotation | None, spec.default_value
    if spec.has_default_value:
        return annotation, spec.default_value
    return annotation, ...


def _block_class(definition: DynamicBlockDefinition) -> type[Block]:
    manifest = definition.manifest
    block_type = manifest.block_type
    outputs = [OutputDefinition(name=name, kind=_kinds(out.kind, block_type, f"output '{name}'"))
               for name, out in manifest.outputs.items()]
    fields: dict[str, Any] = {name: _input_type(name, spec, block_type) for name, spec in manifest.inputs.items()}
    clash = {"type", "name"} & set(fields)
    if clash:
        raise WorkflowDefinitionError(f"custom block '{block_type}' declares inputs named {sorted(clash)}, which are "
                                      "reserved for the step's type and name.", error_type="DynamicBlockError")
    base = type(f"DynamicManifestBase_{block_type}", (BlockManifest,), {
        "__module__": __name__,
        "model_config": block_config(name=block_type, category="custom_python",
                                     description=manifest.description or "Custom Python block"),
        "describe_outputs": classmethod(lambda cls: list(outputs)),
    })
    fields["type"] = (Literal[block_type], ...)  # the step's type names this block and nothing else
    manifest_class: type[BlockManifest] = create_model(
        f"DynamicManifest_{block_type}", __base__=base, __module__=__name__, **fields)
    return type(f"DynamicBlock_{block_type}", (DynamicBlock,), {
        "manifest_class": manifest_class,
        "code": definition.code.model_dump(),
        "block_type": block_type,
        "output_dimensionality_offset": manifest.output_dimensionality_offset,
        "accepts_batch_input": manifest.accepts_batch_input,
    })
