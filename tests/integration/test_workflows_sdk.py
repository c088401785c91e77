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
CHAIN = json.loads(os.environ["SDK_TEST_CHAIN"])
FRAMES = json.loads(os.environ["SDK_TEST_FRAMES"])
step("chain", lambda: client.run_workflow(specification=CHAIN, images={"image": FRAMES,
                                                                       "template": os.environ["SDK_TEST_TEMPLATE"]}))
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


# The chain: an inner workflow finds a template (classical CV) in each frame of a batch, SORT tracks it across the
# frames, each tracked box is cropped and turned grey, and dimension_collapse gathers each frame's crops in a list.
FIND = {"version": "1.0", "inputs": [{"type": "WorkflowImage", "name": "picture"},
                                     {"type": "WorkflowImage", "name": "pattern"}],
        "steps": [{"type": "roboflow_core/template_matching@v1", "name": "match", "image": "$inputs.picture",
                   "template": "$inputs.pattern", "matching_threshold": 0.999}],
        "outputs": [{"type": "JsonField", "name": "found", "selector": "$steps.match.predictions"}]}
CHAIN = {"version": "1.0",
         "inputs": [{"type": "WorkflowImage", "name": "image"}, {"type": "WorkflowImage", "name": "template"}],
         "steps": [{"type": "roboflow_core/inner_workflow@v1", "name": "find", "workflow_definition": FIND,
                    "parameter_bindings": {"picture": "$inputs.image", "pattern": "$inputs.template"}},
                   {"type": "roboflow_core/trackers_sort@v1", "name": "track", "image": "$inputs.image",
                    "detections": "$steps.find.found", "minimum_consecutive_frames": 1},
                   {"type": "roboflow_core/dynamic_crop@v1", "name": "crop", "images": "$inputs.image",
                    "predictions": "$steps.track.tracked_detections"},
                   {"type": "roboflow_core/convert_grayscale@v1", "name": "gray", "image": "$steps.crop.crops"},
                   {"type": "roboflow_core/dimension_collapse@v1", "name": "collapse", "data": "$steps.gray.image"},
                   {"type": "roboflow_core/property_definition@v1", "name": "crops", "data": "$steps.collapse.output",
                    "operations": [{"type": "SequenceLength"}]}],
         "outputs": [{"type": "JsonField", "name": "tracked", "selector": "$steps.track.tracked_detections"},
                     {"type": "JsonField", "name": "crops", "selector": "$steps.crops.output"}]}
FRAME_SHIFTS = [(0, 0), (6, 2), (12, 4), (18, 6)]  # where the pattern moves, frame by frame (x, y)
PATTERN = (100, 60, 40, 32)  # x, y, width, height of the template in the first frame


def write_frames(folder: Path) -> tuple[list[str], str]:
    """Frames cut from one photo at moving offsets, so the template sits at a known place in each."""
    import cv2

    from photos import read_bgr

    photo = read_bgr("astronaut.png")
    frames = []
    for i, (dx, dy) in enumerate(FRAME_SHIFTS):
        path = folder / f"frame{i}.png"
        cv2.imwrite(str(path), photo[100 - dy:340 - dy, 100 - dx:420 - dx])
        frames.append(str(path))
    x, y, w, h = PATTERN
    template = folder / "template.png"
    cv2.imwrite(str(template), photo[100 + y:100 + y + h, 100 + x:100 + x + w])
    return frames, str(template)


@pytest.fixture(scope="module")
def outcomes(live_server, server_home: Path, model_ids, collage_jpg: Path, astronaut_png: Path,
             tmp_path_factory: pytest.TempPathFactory) -> Outcomes:
    spec = specification(model_ids.detector)
    stored = server_home / "workflows" / "sdk" / "count.json"
    stored.parent.mkdir(parents=True, exist_ok=True)
    stored.write_text(json.dumps(spec))
    frames, template = write_frames(tmp_path_factory.mktemp("frames"))
    env = sdk_env(live_server, model_ids, collage_jpg, astronaut_png, SDK_TEST_SPEC=json.dumps(spec),
                  SDK_TEST_CHAIN=json.dumps(CHAIN), SDK_TEST_FRAMES=json.dumps(frames), SDK_TEST_TEMPLATE=template)
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


def test_run_workflow_chains_an_inner_workflow_a_tracker_and_dimension_collapse(outcomes):
    """The template's box, known by construction, in every frame, under one track id, one crop per frame."""
    outputs = outcomes.ok("chain")
    assert len(outputs) == len(FRAME_SHIFTS)
    x, y, w, h = PATTERN
    track_ids = set()
    for output, (dx, dy) in zip(outputs, FRAME_SHIFTS):
        (box,) = output["tracked"]["predictions"]
        assert (box["x"], box["y"], box["width"], box["height"]) == pytest.approx(
            (x + dx + w / 2, y + dy + h / 2, w, h), abs=1)
        track_ids.add(box["tracker_id"])
        assert output["crops"] == 1
    assert len(track_ids) == 1
