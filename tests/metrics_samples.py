"""Reading a server's /metrics in tests: prometheus-client's own parser, so the exposition format is checked too."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families


def samples(client: httpx.Client, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Values of metric sample ``name`` by sorted label pairs."""
    text = client.get("/metrics").text
    found: dict[tuple[tuple[str, str], ...], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def labelled(values: dict[tuple[tuple[str, str], ...], float], **labels: str) -> float:
    """The sum of the samples carrying all of ``labels`` (0 before the series exists)."""
    return sum(v for k, v in values.items() if all((name, value) in k for name, value in labels.items()))
