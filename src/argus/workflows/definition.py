"""The workflow definition document: inputs, outputs and selector syntax (steps are block manifests)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from argus.workflows.errors import WorkflowDefinitionError
from argus.workflows.kinds import (
    ALL_KINDS,
    IMAGE_KIND,
    VIDEO_METADATA_KIND,
    WILDCARD_KIND,
    Kind,
)

_SELECTOR = re.compile(r"^\$(inputs|steps)\.([A-Za-z_0-9\-]+)(?:\.([A-Za-z_0-9\-]+|\*))?\Z")


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    kind: list[str | dict[str, Any]] = Field(default_factory=list)


class WorkflowImage(_Input):
    type: Literal["WorkflowImage", "InferenceImage"]


class WorkflowParameter(_Input):
    type: Literal["WorkflowParameter", "InferenceParameter"]
    default_value: Any = None


class WorkflowVideoMetadata(_Input):
    type: Literal["WorkflowVideoMetadata"]


class WorkflowBatchInput(_Input):
    type: Literal["WorkflowBatchInput"]
    dimensionality: int = Field(default=1, ge=1, le=3)


InputDefinition = Annotated[WorkflowImage | WorkflowParameter | WorkflowVideoMetadata | WorkflowBatchInput,
                            Field(discriminator="type")]


class JsonField(BaseModel):
    """One output of the workflow."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["JsonField"] = "JsonField"
    name: str = Field(min_length=1)
    selector: str
    coordinates_system: Literal["own", "parent"] = "own"


class WorkflowDocument(BaseModel):
    """The definition, with steps still raw (each is validated against its block's manifest)."""

    model_config = ConfigDict(extra="allow")

    version: str = "1.0"
    inputs: list[InputDefinition] = Field(default_factory=list)
    steps: list[dict[str, Any]] = Field(default_factory=list)
    outputs: list[JsonField] = Field(default_factory=list)
    dynamic_blocks_definitions: list[dict[str, Any]] = Field(default_factory=list)


@dataclass(frozen=True)
class ParsedSelector:
    """``$inputs.name``, ``$steps.name`` or ``$steps.name.output`` (``output`` may be ``*``)."""

    raw: str
    source: str  # "inputs" | "steps"
    name: str
    output: str | None

    @property
    def is_step_reference(self) -> bool:
        """Points at a whole step (flow-control target), not at data."""
        return self.source == "steps" and self.output is None


def parse_selector(value: str) -> ParsedSelector | None:
    """The parts of a selector string, or None when ``value`` is not one."""
    match = _SELECTOR.match(value)
    if match is None:
        return None
    return ParsedSelector(value, match.group(1), match.group(2), match.group(3))


def looks_like_selector(value: Any) -> bool:
    """A string the author meant as a selector (starts with ``$``)."""
    return isinstance(value, str) and value.startswith("$")


def parse_document(definition: Any) -> WorkflowDocument:
    """Validate the outer document; the error names the first bad place."""
    if not isinstance(definition, dict):
        raise WorkflowDefinitionError("The workflow definition must be a JSON object with 'version', 'inputs', "
                                      "'steps' and 'outputs'.", error_type="WorkflowSyntaxError")
    try:
        return WorkflowDocument.model_validate(definition)
    except ValidationError as error:
        raise WorkflowDefinitionError(f"Invalid workflow definition: {describe_validation(error)}",
                                      error_type="WorkflowSyntaxError") from None


def describe_validation(error: ValidationError, limit: int = 3) -> str:
    """The first few pydantic errors as 'field: message'."""
    parts = []
    for item in error.errors()[:limit]:
        location = ".".join(str(p) for p in item.get("loc", ()))
        parts.append(f"{location or 'value'}: {item.get('msg')}")
    return "; ".join(parts)


def input_kinds(definition: BaseModel) -> list[Kind]:
    """The kinds a workflow input produces."""
    if isinstance(definition, WorkflowImage):
        return [IMAGE_KIND]
    if isinstance(definition, WorkflowVideoMetadata):
        return [VIDEO_METADATA_KIND]
    declared = []
    for item in getattr(definition, "kind", []):
        name = item.get("name") if isinstance(item, dict) else item
        declared.append(ALL_KINDS.get(str(name), Kind(str(name))))
    return declared or [WILDCARD_KIND]


def input_dimensionality(definition: BaseModel) -> int:
    """0 for parameters (the same value for every image), 1+ for batch-oriented inputs."""
    if isinstance(definition, WorkflowParameter):
        return 0
    if isinstance(definition, WorkflowBatchInput):
        return definition.dimensionality
    return 1
