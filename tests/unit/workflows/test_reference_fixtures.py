"""Argus's workflow blocks against the reference's own execution engine, through captured fixtures.

Each case under ``tests/fixtures/workflow_reference/`` holds a definition, its inputs and what Roboflow Inference
1.8.3's execution engine answered (``reference.json``, written by ``scripts/workflow_differential.py --write``).
Argus runs the same definition on the same inputs here and must agree within the case's tolerance.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workflow_reference import all_cases, differences

CASES = all_cases()


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_argus_answers_as_the_reference_did(case, tmp_path: Path) -> None:
    reference = json.loads((case.folder / "reference.json").read_text())
    assert reference["blocks"] == case.blocks, "the fixture was captured for other blocks: capture it again"
    assert differences(case, reference, case.folder, tmp_path) == []


def test_every_case_has_a_captured_reference() -> None:
    assert CASES, "no workflow reference cases"
    missing = [case.name for case in CASES if not (case.folder / "reference.json").is_file()]
    assert missing == []
