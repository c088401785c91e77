"""``inference_sdk``'s ``run_workflow`` (1.8.3, its own venv) against a real Argus server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sdk_venv import run_in_sdk
from test_inference_sdk import SCRIPT_PRELUDE, Outcomes, sdk_env

pytestmark = pytest.mark.slow

SCRIPT = SCRIPT_PRELUDE + r'''
SPEC = json.loads(os.environ["SDK_TEST_SPEC"])
client = InferenceHTTPClient(api_url=URL, api_key="dummy")
step("inline", lambda: client.run_workflow(specification=SPEC, images={"image": COLLAGE},
                                           parameters={"confidence": 0.5}))
step("inline_batch", lambda: client.run_workflow(specification=SPEC, images={"image": [COLLAGE, ASTRONAUT]}))
step("excluded", lambda: client.run_workflow(specification=SPEC, images={"image": COLLAGE},
                                             excluded_fields=["predictions"]))
step("stored", lambda: client.run_workflow(workspace_name="sdk", workflow_id="count", images={"image": COLLAGE},
                                           parameters={"confidence": 0.5}))
step("legacy_infer_from_workflow", lambda: client.infer_from_workflow(specification=SPEC,
                                                                      images={"image": COLLAGE}))
bad = dict(SPEC, steps=[dict(SPEC["steps"][0], type="roboflow_core/no_such_block@v1")] + SPEC["steps"][1:])
step("bad", lambda: client.run_workflow(specification=bad, images={"image": COLLAGE}))
print(json.dumps(results))
'''


def specification(detector: str) -> dict[str, Any]:
    return {"version": "1.0",
            "inputs": [{"type": "WorkflowImage", "name": "image"},
                       {"type": "WorkflowParameter", "name": "confidence", "default_value": 0.3}],
            "steps": [{"type": "roboflow_core/roboflow_object_detection_model@v2", "name": "model",
                       "images": "$inputs.image", "model_id": detector, "confidence": "$inputs.confidence"},
                      {"type": "roboflow_core/property_definition@v1", "name": "count",
                       "data": "$steps.model.predictions", "operations": [{"type": "SequenceLength"}]}],
            "outputs": [{"type": "JsonField", "name": "predictions", "selector": "$steps.model.predictions"},
                        {"type": "JsonField", "name": "count", "selector": "$steps.count.output"}]}


@pytest.fixture(scope="module")
def outcomes(live_server, server_home: Path, model_ids, collage_jpg: Path, astronaut_png: Path) -> Outcomes:
    spec = specification(model_ids.detector)
    stored = server_home / "workflows" / "sdk" / "count.json"
    stored.parent.mkdir(parents=True, exist_ok=True)
    stored.write_text(json.dumps(spec))
    env = sdk_env(live_server, model_ids, collage_jpg, astronaut_png, SDK_TEST_SPEC=json.dumps(spec))
    return Outcomes(run_in_sdk(SCRIPT, env), live_server, model_ids)


def direct_count(live_server, model_ids, collage_jpg: Path, confidence: float) -> int:
    import base64

    with live_server.client() as http:
        response = http.post("/infer/object_detection", json={
            "model_id": model_ids.detector, "confidence": confidence,
            "image": {"type": "base64", "value": base64.b64encode(collage_jpg.read_bytes()).decode()}})
    return len(response.json()["predictions"])


def test_run_workflow_with_a_specification(outcomes, live_server, model_ids, collage_jpg):
    outputs = outcomes.ok("inline")
    assert len(outputs) == 1
    expected = direct_count(live_server, model_ids, collage_jpg, 0.5)
    assert outputs[0]["count"] == expected == len(outputs[0]["predictions"]["predictions"])
    prediction = outputs[0]["predictions"]["predictions"][0]
    assert {"x", "y", "width", "height", "confidence", "class", "class_id", "detection_id"} <= set(prediction)


def test_run_workflow_batches_images_and_applies_defaults(outcomes, live_server, model_ids, collage_jpg):
    outputs = outcomes.ok("inline_batch")
    assert len(outputs) == 2
    assert outputs[0]["count"] == direct_count(live_server, model_ids, collage_jpg, 0.3)


def test_excluded_fields_are_left_out(outcomes):
    assert set(outcomes.ok("excluded")[0]) == {"count"}


def test_stored_workflow_by_workspace_and_id(outcomes, live_server, model_ids, collage_jpg):
    assert outcomes.ok("stored")[0]["count"] == direct_count(live_server, model_ids, collage_jpg, 0.5)


def test_deprecated_infer_from_workflow(outcomes):
    assert "count" in outcomes.ok("legacy_infer_from_workflow")[0]


def test_compile_error_reaches_the_sdk_as_a_400(outcomes):
    error = outcomes.error("bad")
    assert error["status_code"] == 400
    assert "no_such_block" in (error["api_message"] or error["message"])
