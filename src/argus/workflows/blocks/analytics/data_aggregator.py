# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Data Aggregator: sums, averages, counts and distinct values of step outputs over an interval (time or runs).

As the reference's block: each ``<variable>_<mode>`` output is None until the interval ends, then the aggregate, and
the aggregation starts again. Distinct values and value counts are bounded (:data:`MAX_DISTINCT` per output) so a
stream cannot grow them without end; a non-number given to an arithmetic mode is a 400.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field

from argus.errors import InvalidInputError
from argus.workflows.blocks.base import Block, BlockManifest, OutputDefinition, Selector, block_config
from argus.workflows.kinds import DICTIONARY_KIND, FLOAT_KIND, INTEGER_KIND, LIST_OF_VALUES_KIND
from argus.workflows.query_language import AllOperationsType, apply_operations

Mode = Literal["sum", "avg", "max", "min", "count", "distinct", "count_distinct", "values_counts", "values_difference"]
SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600}
MAX_DISTINCT = 10_000


class DataAggregatorManifest(BlockManifest):
    model_config = block_config(name="Data Aggregator", category="analytics",
                                description="Aggregate values over time or runs.")
    type: Literal["roboflow_core/data_aggregator@v1"]
    data: dict[str, Selector()]
    data_operations: dict[str, list[AllOperationsType]] = Field(default_factory=dict)
    aggregation_mode: dict[str, list[Mode]]
    interval_unit: Literal["seconds", "minutes", "hours", "runs"] = "seconds"
    interval: int = Field(gt=0)

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="*")]

    def get_actual_outputs(self) -> list[OutputDefinition]:
        kinds = {"distinct": [LIST_OF_VALUES_KIND], "values_counts": [DICTIONARY_KIND]}
        return [OutputDefinition(name=f"{name}_{mode}", kind=kinds.get(mode, [FLOAT_KIND, INTEGER_KIND]))
                for name in self.data for mode in self.aggregation_mode.get(name, [])]


def _number(value: Any, mode: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInputError(f"aggregation '{mode}' needs numbers, got {type(value).__name__}")
    return value


def _items(value: Any, with_sets: bool) -> list[Any]:
    """The elements of a list (or of a set or tuple too, ``with_sets``); a single value otherwise."""
    if isinstance(value, list) or (with_sets and isinstance(value, (set, tuple))):
        return list(value)
    return [value]


class _Aggregate:
    """One ``<variable>_<mode>`` aggregate between two flushes."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.total: float = 0
        self.count = 0
        self.low: Any = None
        self.high: Any = None
        self.counts: Counter[Any] = Counter()

    def add(self, value: Any) -> None:
        mode = self.mode
        if mode in ("sum", "avg"):
            self.total += _number(value, mode)
            self.count += 1
        elif mode in ("max", "min", "values_difference"):
            number = _number(value, mode)
            self.low = number if self.low is None else min(self.low, number)
            self.high = number if self.high is None else max(self.high, number)
        elif mode == "count":
            self.count += len(value) if hasattr(value, "__len__") else 1
        else:  # distinct, count_distinct, values_counts
            for item in _items(value, with_sets=mode != "values_counts"):
                if item in self.counts or len(self.counts) < MAX_DISTINCT:
                    self.counts[item] += 1

    def result(self) -> Any:
        results: dict[str, Callable[[], Any]] = {
            "sum": lambda: self.total, "avg": lambda: self.total / self.count if self.count else None,
            "max": lambda: self.high, "min": lambda: self.low, "count": lambda: self.count,
            "distinct": lambda: list(self.counts), "count_distinct": lambda: len(self.counts),
            "values_counts": lambda: dict(self.counts),
            "values_difference": lambda: None if self.low is None else self.high - self.low}
        return results[self.mode]()


class DataAggregatorBlockV1(Block):
    manifest_class = DataAggregatorManifest
    stateful = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._aggregates: dict[str, _Aggregate] = {}
        self._started = time.monotonic()
        self._runs = 0

    def run(self, data: dict[str, Any], aggregation_mode: dict[str, list[str]], interval: int,
            data_operations: dict[str, list[Any]] | None = None, interval_unit: str = "seconds") -> dict[str, Any]:
        for name in data:
            for mode in aggregation_mode.get(name, []):
                self._aggregates.setdefault(f"{name}_{mode}", _Aggregate(mode))
        self._runs += 1
        values = dict(data)
        for name, operations in (data_operations or {}).items():
            if name in values:
                values[name] = apply_operations(operations, values[name])
        for name, value in values.items():
            for mode in aggregation_mode.get(name, []):
                self._aggregates[f"{name}_{mode}"].add(value)
        due = self._runs >= interval if interval_unit == "runs" else \
            time.monotonic() - self._started >= interval * SECONDS[interval_unit]
        if not due:
            return {key: None for key in self._aggregates}
        results = {key: aggregate.result() for key, aggregate in self._aggregates.items()}
        self._aggregates, self._runs, self._started = {}, 0, time.monotonic()
        return results
