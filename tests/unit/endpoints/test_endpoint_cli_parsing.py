"""Parsing of the ``argus endpoints`` options that are not plain types."""

from __future__ import annotations

import pytest
import typer

from argus.cli.endpoints import env_pairs, minutes


@pytest.mark.parametrize(("text", "expected"), [("15m", 15.0), ("15", 15.0), ("90s", 1.5), ("1h", 60.0),
                                                ("2d", 2880.0), (" 0.5m ", 0.5)])
def test_durations_are_minutes(text, expected):
    assert minutes(text) == expected


@pytest.mark.parametrize("text", ["", "m", "15 minutes", "-5m", "1w"])
def test_bad_durations_are_refused(text):
    with pytest.raises(typer.BadParameter):
        minutes(text)


def test_env_pairs():
    assert env_pairs(["A=1", "B=x=y", "C="]) == {"A": "1", "B": "x=y", "C": ""}
    assert env_pairs(None) is None
    with pytest.raises(typer.BadParameter):
        env_pairs(["NOVALUE"])
