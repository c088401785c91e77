# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""CSV Formatter: one CSV document built from the whole batch (delivered on the batch's last element)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field, field_validator

from argus.workflows.blocks.base import (
    Block,
    BlockManifest,
    Element,
    OutputDefinition,
    Selector,
    block_config,
)
from argus.workflows.kinds import STRING_KIND
from argus.workflows.query_language import AllOperationsType, apply_operations


class CSVFormatterManifest(BlockManifest):
    model_config = block_config(name="CSV Formatter", category="formatter",
                                description="Create CSV files with specified columns.")
    type: Literal["roboflow_core/csv_formatter@v1"]
    columns_data: dict[str, Selector() | str | int | float | bool] = Field(min_length=1)
    columns_operations: dict[str, list[AllOperationsType]] = Field(default_factory=dict)

    @field_validator("columns_data")
    @classmethod
    def _no_timestamp(cls, value: dict[str, Any]) -> dict[str, Any]:
        if "timestamp" in value:
            raise ValueError("'timestamp' is added by the block itself and cannot be a column")
        return value

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="csv_content", kind=[STRING_KIND])]


def to_csv(rows: list[dict[str, Any]]) -> str:
    """Rows as CSV text with a header (columns in first-seen order)."""
    columns = list(dict.fromkeys(name for row in rows for name in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


class CSVFormatterBlock(Block):
    manifest_class = CSVFormatterManifest

    def run(self, columns_data: dict[str, Any], columns_operations: dict[str, list[Any]]) -> dict[str, Any]:
        return self.run_batch([Element({"columns_data": columns_data, "columns_operations": columns_operations})])[0]

    def run_batch(self, elements: list[Element]) -> list[Any]:
        stamp = datetime.now(UTC).isoformat()
        rows = []
        for element in elements:
            data = element.kwargs["columns_data"]
            operations = element.kwargs["columns_operations"]
            row = {name: apply_operations(operations.get(name, []), value) for name, value in data.items()}
            row["timestamp"] = stamp
            rows.append(row)
        outputs: list[Any] = [{"csv_content": None} for _ in elements]
        if outputs:
            outputs[-1] = {"csv_content": to_csv(rows)}
        return outputs
