"""Detections given as a workflow input: read as the reference reads a model route's JSON, or a 400 saying why."""

from __future__ import annotations

from pathlib import Path

import pytest

from argus.settings import Settings
from argus.workflows import WorkflowContext, compile_workflow
from argus.workflows.errors import WorkflowInputError

DEFINITION = {"version": "1.0",
              "inputs": [{"type": "WorkflowBatchInput", "name": "dets", "kind": ["object_detection_prediction"]}],
              "steps": [{"type": "roboflow_core/detections_merge@v1", "name": "m", "predictions": "$inputs.dets"}],
              "outputs": [{"type": "JsonField", "name": "merged", "selector": "$steps.m.predictions"}]}


def run(tmp_path: Path, value: object) -> object:
    workflow = compile_workflow(DEFINITION, WorkflowContext(settings=Settings(home=tmp_path)))
    return workflow.run({"dets": value}).outputs[0]["merged"]


def test_boxes_in_centre_form_merge_into_their_hand_computed_union(tmp_path: Path) -> None:
    merged = run(tmp_path, {"image": {"width": 100, "height": 80}, "predictions": [
        {"x": 20, "y": 20, "width": 10, "height": 10, "confidence": 0.9, "class": "a", "class_id": 0},
        {"x": 60, "y": 50, "width": 20, "height": 30, "confidence": 0.4, "class": "b", "class_id": 1}]})
    assert merged.xyxy.tolist() == [[15.0, 15.0, 70.0, 65.0]]
    assert merged.confidence.tolist() == pytest.approx([0.4])


@pytest.mark.parametrize("value", [
    "not detections", {"predictions": []}, {"image": {"width": 10, "height": 10}, "predictions": "x"},
    {"image": {"width": 10, "height": 10}, "predictions": [{"x": "left", "y": 1, "width": 1, "height": 1,
                                                            "confidence": 1, "class": "a"}]},
    {"image": {"width": 10}, "predictions": [{"x": 1, "y": 1, "width": 1, "height": 1, "confidence": 1,
                                              "class": "a"}]}])
def test_malformed_detections_are_a_client_error_naming_the_input(tmp_path: Path, value: object) -> None:
    with pytest.raises(WorkflowInputError, match="'dets'"):
        run(tmp_path, value)
