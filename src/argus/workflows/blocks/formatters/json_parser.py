# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""JSON Parser: read fields out of a JSON document (for example a language model's answer)."""

from __future__ import annotations

import json
import logging
import re
from typing import Any, Literal

from pydantic import Field, field_validator

from argus.workflows.blocks.base import (
    Block,
    BlockManifest,
    OutputDefinition,
    Selector,
    block_config,
)
from argus.workflows.kinds import BOOLEAN_KIND, LANGUAGE_MODEL_OUTPUT_KIND, STRING_KIND

logger = logging.getLogger(__name__)

_FENCE = re.compile(r"```(?:json)?\s*(.*?)\s*```", re.DOTALL)


class JSONParserManifest(BlockManifest):
    model_config = block_config(name="JSON Parser", category="formatter",
                                description="Parse raw string into JSON.")
    type: Literal["roboflow_core/json_parser@v1"]
    raw_json: Selector(kind=[LANGUAGE_MODEL_OUTPUT_KIND, STRING_KIND])
    expected_fields: list[str] = Field(min_length=1)

    @field_validator("expected_fields")
    @classmethod
    def _not_reserved(cls, value: list[str]) -> list[str]:
        if "error_status" in value:
            raise ValueError("'error_status' is a reserved output name and cannot be an expected field")
        return value

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="error_status", kind=[BOOLEAN_KIND]), OutputDefinition(name="*")]

    def get_actual_outputs(self) -> list[OutputDefinition]:
        return [OutputDefinition(name="error_status", kind=[BOOLEAN_KIND])] + [
            OutputDefinition(name=name) for name in self.expected_fields]


def parse_json(text: str) -> Any:
    """The JSON in ``text``, also when wrapped in a markdown code fence."""
    match = _FENCE.search(text)
    return json.loads(match.group(1) if match else text)


class JSONParserBlock(Block):
    manifest_class = JSONParserManifest

    def run(self, raw_json: str, expected_fields: list[str]) -> dict[str, Any]:
        try:
            parsed = parse_json(raw_json)
        except (TypeError, ValueError) as error:
            logger.info("json_parser %s: not JSON (%s)", self.step.name, error)
            return {"error_status": True, **{name: None for name in expected_fields}}
        if not isinstance(parsed, dict):
            return {"error_status": True, **{name: None for name in expected_fields}}
        missing = [name for name in expected_fields if name not in parsed]
        return {"error_status": bool(missing), **{name: parsed.get(name) for name in expected_fields}}
