# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""String Template: ``str.format`` over named values, each optionally passed through query-language operations.

As the reference: only named placeholders (no positional, attribute or index access), widths and precisions at
most 10,000, and a rendered string of at most 1,000,000 characters, so a template cannot take more than its share.
"""

from __future__ import annotations

import re
from string import Formatter
from typing import Any, Literal

from pydantic import Field

from argus.errors import InvalidInputError
from argus.workflows.blocks.base import Block, BlockManifest, OutputDefinition, Selector, block_config
from argus.workflows.kinds import STRING_KIND
from argus.workflows.query_language import AllOperationsType, apply_operations

MAX_FORMAT_SPEC_NUMBER = 10_000
MAX_RENDERED_LENGTH = 1_000_000


class StringTemplateManifest(BlockManifest):
    model_config = block_config(name="String Template", category="formatter",
                                description="Render a string from a template and named values.")
    type: Literal["roboflow_core/string_template@v1"]
    template: Selector(kind=[STRING_KIND]) | str
    data: dict[str, Selector() | str | int | float | bool] = Field(default_factory=dict)
    data_operations: dict[str, list[AllOperationsType]] = Field(default_factory=dict)

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="output", kind=[STRING_KIND])]


class StringTemplateBlockV1(Block):
    manifest_class = StringTemplateManifest

    def run(self, template: Any, data: dict[str, Any], data_operations: dict[str, list[Any]]) -> dict[str, Any]:
        if not isinstance(template, str):
            raise InvalidInputError(f"'template' must be a string, got {type(template).__name__}")
        values = dict(data)
        for name, operations in data_operations.items():
            if name not in values:
                raise InvalidInputError(f"'data_operations' names '{name}', which 'data' does not declare "
                                        f"(declared: {sorted(values)})")
            values[name] = apply_operations(operations, values[name])
        return {"output": render(template, values)}


class _BoundedFormatter(Formatter):
    def format_field(self, value: Any, format_spec: str) -> str:
        if any(int(digits) > MAX_FORMAT_SPEC_NUMBER for digits in re.findall(r"\d+", format_spec)):
            raise InvalidInputError(f"format spec '{format_spec}' asks for more than {MAX_FORMAT_SPEC_NUMBER} "
                                    "characters or digits")
        return super().format_field(value, format_spec)


def placeholders(template: str) -> set[str]:
    """The template's named placeholders (nested ones in format specs too); positional or dotted ones are a 400."""
    try:
        parsed = list(Formatter().parse(template))
    except ValueError as exc:
        raise InvalidInputError(f"the template cannot be parsed: {exc}; write literal braces as {{{{ and }}}}") \
            from None
    names: set[str] = set()
    for _, field, spec, _ in parsed:
        if field is None:
            continue
        if field == "" or field.isdigit():
            raise InvalidInputError("the template has a positional placeholder: name it, e.g. {count}")
        if "." in field or "[" in field:
            raise InvalidInputError(f"placeholder {{{field}}} accesses an attribute or index: extract the value "
                                    "with data_operations first")
        names.add(field)
        if spec and "{" in spec:
            names |= placeholders(spec)
    return names


def render(template: str, values: dict[str, Any]) -> str:
    missing = placeholders(template) - set(values)
    if missing:
        raise InvalidInputError(f"the template uses {sorted(missing)}, which 'data' does not declare "
                                f"(declared: {sorted(values)})")
    try:
        rendered = _BoundedFormatter().vformat(template, (), values)
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(f"the template cannot be rendered: {exc}; check the format specs against the "
                                "values' types") from None
    if len(rendered) > MAX_RENDERED_LENGTH:
        raise InvalidInputError(f"the rendered string has {len(rendered)} characters, more than "
                                f"{MAX_RENDERED_LENGTH}")
    return rendered
