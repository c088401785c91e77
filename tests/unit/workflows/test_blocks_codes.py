"""QR and barcode blocks where Argus deliberately differs from the reference, or refuses bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from argus.errors import InvalidInputError
from argus.settings import Settings
from argus.workflows import WorkflowContext, compile_workflow


def run(tmp_path: Path, step: dict, inputs: list[dict], given: dict, output: str) -> object:
    definition = {"version": "1.0", "inputs": inputs, "steps": [{"name": "s", **step}],
                  "outputs": [{"type": "JsonField", "name": "out", "selector": f"$steps.s.{output}"}]}
    return compile_workflow(definition, WorkflowContext(settings=Settings(home=tmp_path))).run(given).outputs[0]["out"]


def test_an_image_without_a_qr_code_has_no_detections(tmp_path: Path) -> None:
    # the reference's block raises here (OpenCV gives no corner points to iterate)
    found = run(tmp_path, {"type": "roboflow_core/qr_code_detector@v1", "images": "$inputs.image"},
                [{"type": "WorkflowImage", "name": "image"}], {"image": np.full((64, 64, 3), 200, np.uint8)},
                "predictions")
    assert len(found) == 0  # type: ignore[arg-type]


def test_a_text_too_long_for_a_qr_code_is_a_client_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="too long for a QR code"):
        run(tmp_path, {"type": "roboflow_core/qr_code_generator@v1", "text": "$inputs.text",
                       "error_correct": "High (~30% word recovery / lowest data capacity)"},
            [{"type": "WorkflowParameter", "name": "text"}], {"text": "x" * 5000}, "qr_code")
