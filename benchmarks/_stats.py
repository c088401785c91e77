"""Timing helpers shared by the benchmark scripts: repeat, summarise, print tables."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table


@dataclass(frozen=True)
class Timing:
    """Seconds per call: median and spread (p10, p90) over ``n`` calls."""

    name: str
    median: float
    p10: float
    p90: float
    n: int


def time_calls(name: str, function: Callable[[], object], repeats: int, warmup: int = 3) -> Timing:
    """Call ``function`` ``warmup`` times, then ``repeats`` times, timing each call."""
    for _ in range(warmup):
        function()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    deciles = statistics.quantiles(samples, n=10)
    return Timing(name, statistics.median(samples), deciles[0], deciles[-1], repeats)


def interleaved(named: dict[str, Callable[[], object]], repeats: int, warmup: int = 3) -> list[Timing]:
    """Time several functions in alternation, so machine noise hits them alike."""
    for function in named.values():
        for _ in range(warmup):
            function()
    samples: dict[str, list[float]] = {name: [] for name in named}
    for _ in range(repeats):
        for name, function in named.items():
            started = time.perf_counter()
            function()
            samples[name].append(time.perf_counter() - started)
    out = []
    for name, values in samples.items():
        deciles = statistics.quantiles(values, n=10)
        out.append(Timing(name, statistics.median(values), deciles[0], deciles[-1], repeats))
    return out


def print_table(title: str, timings: list[Timing], baseline: Timing) -> None:
    """Median, spread and ratio against ``baseline`` (same run)."""
    table = Table(title=title)
    for column in ("what", "median ms", "p10 ms", "p90 ms", "n", "ratio vs baseline"):
        table.add_column(column, justify="right" if column != "what" else "left")
    for t in timings:
        table.add_row(t.name, f"{t.median * 1e3:.2f}", f"{t.p10 * 1e3:.2f}", f"{t.p90 * 1e3:.2f}", str(t.n),
                      f"{t.median / baseline.median:.3f}")
    Console().print(table)
