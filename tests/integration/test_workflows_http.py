"""Workflows end to end through a real ``argus serve`` process, on real photos with the zoo detector.

Oracles: the detector's own answer from ``/infer/object_detection`` (the workflow's filtered,
counted and consensus results must agree with it), crop sizes from the boxes, a brightness
classifier whose answer is computed from the crop's pixels, and the reference's error shape.
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest

import onnx_builders
from argus.store.importers import import_model
from argus.store.repository import ModelRepository
from photos import collage

pytestmark = pytest.mark.slow

CLASSIFIER_ID = "wf-bright/1"


@pytest.fixture(scope="module")
def classifier(server_home: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A brightness classifier in the live server's store: logits [2 - 4m, -2 + 4m], m = mean pixel / 255."""
    repository = ModelRepository(server_home / "models")
    if not repository.directory(CLASSIFIER_ID).exists():
        model = onnx_builders.classifier(np.array([2.0, -2.0]), deltas={"output0": np.array([-4.0, 4.0])})
        path = onnx_builders.save(model, tmp_path_factory.mktemp("wf-models") / "bright.onnx")
        import_model(path, CLASSIFIER_ID, repository, task="classification", class_names=["dark", "bright"])
    return CLASSIFIER_ID


def image_object(b64: str) -> dict[str, str]:
    return {"type": "base64", "value": b64}


def decode(value: str) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(base64.b64decode(value), np.uint8), cv2.IMREAD_COLOR)


def confidence_filter(threshold: float) -> list[dict[str, Any]]:
    return [{"type": "DetectionsFilter", "filter_operation": {"type": "StatementGroup", "statements": [{
        "type": "BinaryStatement",
        "left_operand": {"type": "DynamicOperand", "operand_name": "_",
                         "operations": [{"type": "ExtractDetectionProperty", "property_name": "confidence"}]},
        "comparator": {"type": "(Number) >="}, "right_operand": {"type": "StaticOperand", "value": threshold}}]}}]


def pipeline(detector: str, classifier: str) -> dict[str, Any]:
    """detect → filter → crop → classify per crop → count → visualise."""
    return {
        "version": "1.0",
        "inputs": [{"type": "WorkflowImage", "name": "image"},
                   {"type": "WorkflowParameter", "name": "model_id", "default_value": detector},
                   {"type": "WorkflowParameter", "name": "confidence", "default_value": 0.25}],
        "steps": [
            {"type": "roboflow_core/roboflow_object_detection_model@v2", "name": "model", "images": "$inputs.image",
             "model_id": "$inputs.model_id", "confidence": "$inputs.confidence"},
            {"type": "roboflow_core/detections_filter@v1", "name": "filter", "predictions": "$steps.model.predictions",
             "operations": confidence_filter(0.4)},
            {"type": "roboflow_core/dynamic_crop@v1", "name": "crop", "images": "$inputs.image",
             "predictions": "$steps.filter.predictions"},
            {"type": "roboflow_core/roboflow_classification_model@v1", "name": "classify",
             "images": "$steps.crop.crops", "model_id": classifier},
            {"type": "roboflow_core/property_definition@v1", "name": "count", "data": "$steps.filter.predictions",
             "operations": [{"type": "SequenceLength"}]},
            {"type": "roboflow_core/bounding_box_visualization@v1", "name": "viz", "image": "$inputs.image",
             "predictions": "$steps.filter.predictions"},
        ],
        "outputs": [{"type": "JsonField", "name": "predictions", "selector": "$steps.filter.predictions"},
                    {"type": "JsonField", "name": "crops", "selector": "$steps.crop.crops"},
                    {"type": "JsonField", "name": "classes", "selector": "$steps.classify.predictions"},
                    {"type": "JsonField", "name": "count", "selector": "$steps.count.output"},
                    {"type": "JsonField", "name": "viz", "selector": "$steps.viz.image"}],
    }


def direct(http: httpx.Client, model_id: str, b64: str, confidence: float) -> list[dict[str, Any]]:
    response = http.post("/infer/object_detection", json={"model_id": model_id, "image": image_object(b64),
                                                           "confidence": confidence})
    assert response.status_code == 200, response.text
    return response.json()["predictions"]


def box(p: dict[str, Any]) -> tuple[str, float, float, float, float]:
    return (p["class"], p["x"], p["y"], p["width"], p["height"])


def same_boxes(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> None:
    assert sorted(p["class"] for p in a) == sorted(p["class"] for p in b)
    for left, right in zip(sorted(a, key=box), sorted(b, key=box)):
        assert box(left)[1:] == pytest.approx(box(right)[1:], abs=0.01)
        assert left["confidence"] == pytest.approx(right["confidence"], abs=1e-3)


@pytest.fixture(scope="module")
def pipeline_run(http_module: httpx.Client, model_ids, classifier: str, collage_b64: str) -> dict[str, Any]:
    body = {"specification": pipeline(model_ids.detector_alias, classifier),
            "inputs": {"image": [image_object(collage_b64), image_object(collage_b64)]}, "enable_profiling": True}
    response = http_module.post("/workflows/run", json=body)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def http_module(live_server) -> Any:
    with live_server.client() as client:
        yield client


def test_pipeline_returns_one_output_per_image_and_a_trace(pipeline_run):
    assert len(pipeline_run["outputs"]) == 2
    names = {event["name"] for event in pipeline_run["profiler_trace"]}
    assert {"model", "filter", "crop", "classify", "count", "viz"} <= names


def test_filtered_detections_and_count_match_the_detector(pipeline_run, http_module, model_ids, collage_b64):
    expected = [p for p in direct(http_module, model_ids.detector, collage_b64, 0.25) if p["confidence"] >= 0.4]
    assert expected, "the collage should hold confident detections"
    for output in pipeline_run["outputs"]:
        predictions = output["predictions"]
        assert predictions["image"] == {"width": 1280, "height": 720}
        same_boxes(predictions["predictions"], expected)
        assert all(p["parent_id"] == "image" for p in predictions["predictions"])
        assert output["count"] == len(expected)
    assert {"cat", "motorbike"} <= {p["class"] for p in expected}


def test_crops_cover_the_boxes_and_classifications_follow_their_pixels(pipeline_run):
    picture = collage()
    output = pipeline_run["outputs"][0]
    detections = output["predictions"]["predictions"]
    assert len(output["crops"]) == len(output["classes"]) == len(detections)
    checked = 0
    for detection, crop, cls in zip(detections, output["crops"], output["classes"]):
        assert crop["parent_id"] == cls["parent_id"] == detection["detection_id"]
        assert crop["root_parent_id"] == "image"
        x1 = round(detection["x"] - detection["width"] / 2)
        y1 = round(detection["y"] - detection["height"] / 2)
        assert crop["parent_origin"]["offset_x"] == max(0, x1) and crop["parent_origin"]["offset_y"] == max(0, y1)
        pixels = decode(crop["value"])
        assert abs(pixels.shape[1] - detection["width"]) <= 1.01 and abs(pixels.shape[0] - detection["height"]) <= 1.01
        region = picture[max(0, y1):max(0, y1) + pixels.shape[0], max(0, x1):max(0, x1) + pixels.shape[1]]
        mean = float(region.mean()) / 255
        if abs(mean - 0.5) > 0.03:  # clear cases only: JPEG and resizing move the mean a little
            assert cls["top"] == ("bright" if mean > 0.5 else "dark")
            checked += 1
    assert checked >= 1


def test_visualisation_draws_the_boxes(pipeline_run, collage_jpg: Path):
    output = pipeline_run["outputs"][0]
    drawn = decode(output["viz"]["value"]).astype(int)
    original = cv2.imread(str(collage_jpg)).astype(int)
    assert drawn.shape == original.shape
    first = output["predictions"]["predictions"][0]
    y1 = round(first["y"] - first["height"] / 2)
    x1, x2 = round(first["x"] - first["width"] / 2), round(first["x"] + first["width"] / 2)
    edge = np.abs(drawn[max(y1, 1), x1 + 5:x2 - 5] - original[max(y1, 1), x1 + 5:x2 - 5]).mean()
    assert edge > 20  # the box's top edge is drawn over the photo


def test_two_model_consensus_keeps_what_both_detectors_agree_on(http_module, model_ids, collage_b64):
    definition = {
        "version": "1.0", "inputs": [{"type": "WorkflowImage", "name": "image"}],
        "steps": [
            {"type": "ObjectDetectionModel", "name": "strict", "image": "$inputs.image",
             "model_id": model_ids.detector, "confidence": 0.5},
            {"type": "ObjectDetectionModel", "name": "loose", "image": "$inputs.image",
             "model_id": model_ids.detector_alias, "confidence": 0.3},
            {"type": "roboflow_core/detections_consensus@v1", "name": "vote", "required_votes": 2,
             "predictions_batches": ["$steps.strict.predictions", "$steps.loose.predictions"]},
        ],
        "outputs": [{"type": "JsonField", "name": "agreed", "selector": "$steps.vote.predictions"},
                    {"type": "JsonField", "name": "present", "selector": "$steps.vote.object_present"},
                    {"type": "JsonField", "name": "confidence", "selector": "$steps.vote.presence_confidence"}]}
    response = http_module.post("/workflows/run", json={"specification": definition,
                                                          "inputs": {"image": image_object(collage_b64)}})
    assert response.status_code == 200, response.text
    output = response.json()["outputs"][0]
    expected = direct(http_module, model_ids.detector, collage_b64, 0.5)
    same_boxes(output["agreed"]["predictions"], expected)
    assert output["present"] is True
    best = {}
    for p in expected:
        best[p["class"]] = max(best.get(p["class"], 0.0), p["confidence"])
    assert output["confidence"] == pytest.approx(best, abs=1e-3)


def _mutate(definition: dict[str, Any], step: int, **fields: Any) -> dict[str, Any]:
    changed = copy.deepcopy(definition)
    changed["steps"][step].update(fields)
    return changed


@pytest.mark.parametrize(("case", "step"), [
    ("unknown_block", "crop"), ("bad_selector", "count"), ("cycle", None), ("kind_mismatch", "model"),
    ("missing_input", "model"), ("duplicate_step", "count"),
])
def test_compile_errors_are_400s_naming_the_step(http_module, model_ids, case, step):
    base = pipeline(model_ids.detector, CLASSIFIER_ID)
    definition = {
        "unknown_block": lambda: _mutate(base, 2, type="roboflow_core/dynamic_crop@v9"),
        "bad_selector": lambda: _mutate(base, 4, data="steps.filter.predictions"),
        "cycle": lambda: _mutate(base, 1, predictions="$steps.filter.predictions"),
        "kind_mismatch": lambda: _mutate(base, 0, confidence="$inputs.image"),
        "missing_input": lambda: _mutate(base, 0, images="$inputs.frame"),
        "duplicate_step": lambda: _mutate(base, 5, name="count"),
    }[case]()
    response = http_module.post("/workflows/run", json={"specification": definition, "inputs": {}})
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) >= {"message", "error_type", "context", "blocks_errors"}
    if step is None:
        assert "cycle" in body["message"] and "'filter'" in body["message"]
    else:
        assert body["message"].startswith(f"Step '{step}'")
        assert body["blocks_errors"][0]["block_id"] == step
    validated = http_module.post("/workflows/validate", json=definition)
    assert validated.status_code == 400 and validated.json()["message"] == body["message"]


def test_validate_accepts_a_good_definition_and_describe_routes_answer(http_module, model_ids):
    definition = pipeline(model_ids.detector, CLASSIFIER_ID)
    assert http_module.post("/workflows/validate", json=definition).json() == {"status": "ok"}
    assert http_module.get("/workflows/execution_engine/versions").json() == {"versions": ["1.17.0"]}
    interface = http_module.post("/workflows/describe_interface", json={"specification": definition}).json()
    assert interface["inputs"]["image"] == ["image"]
    assert interface["outputs"]["crops"] == ["image"] and interface["outputs"]["classes"] == [
        "classification_prediction"]
    blocks = http_module.get("/workflows/blocks/describe").json()
    described = {b["manifest_type_identifier"]: b for b in blocks["blocks"]}
    assert described["roboflow_core/dynamic_crop@v1"]["manifest_type_identifier_aliases"] == ["DynamicCrop", "Crop"]
    assert described["roboflow_core/dynamic_crop@v1"]["output_dimensionality_offset"] == 1
    assert http_module.post("/workflows/blocks/describe", json={}).status_code == 200
    schema = http_module.get("/workflows/definition/schema").json()["schema"]
    assert "DynamicCropManifest" in schema["$defs"]
    outputs = http_module.post("/workflows/blocks/dynamic_outputs", json={
        "type": "roboflow_core/json_parser@v1", "name": "p", "raw_json": "$inputs.t", "expected_fields": ["x"]})
    assert [o["name"] for o in outputs.json()] == ["error_status", "x"]


def test_stored_workflows_run_by_workspace_and_id(http_module, server_home: Path, model_ids, collage_b64):
    definition = {"version": "1.0", "inputs": [{"type": "WorkflowImage", "name": "image"}],
                  "steps": [{"type": "ObjectDetectionModel", "name": "det", "image": "$inputs.image",
                             "model_id": model_ids.detector, "confidence": 0.5},
                            {"type": "PropertyDefinition", "name": "n", "data": "$steps.det.predictions",
                             "operations": [{"type": "SequenceLength"}]}],
                  "outputs": [{"type": "JsonField", "name": "n", "selector": "$steps.n.output"}]}
    target = server_home / "workflows" / "acme" / "count.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(definition))
    expected = len(direct(http_module, model_ids.detector, collage_b64, 0.5))
    for path in ("/acme/workflows/count", "/infer/workflows/acme/count"):
        response = http_module.post(path, json={"inputs": {"image": image_object(collage_b64)}})
        assert response.status_code == 200, response.text
        assert response.json()["outputs"] == [{"n": expected}]
        assert response.headers["x-workflow-id"] == "count"
    missing = http_module.post("/acme/workflows/nothing", json={"inputs": {}})
    assert missing.status_code == 404 and "argus workflows add" in missing.json()["message"]


def test_bad_inputs_are_client_errors(http_module, model_ids):
    definition = pipeline(model_ids.detector, CLASSIFIER_ID)
    missing = http_module.post("/workflows/run", json={"specification": definition, "inputs": {}})
    assert missing.status_code == 400 and "'image' is required" in missing.json()["message"]
    garbage = http_module.post("/workflows/run", json={"specification": definition,
                                                       "inputs": {"image": image_object("bm90IGFuIGltYWdl")}})
    assert garbage.status_code == 400 and "Could not load input image" in garbage.json()["message"]
    assert http_module.post("/workflows/run", json={"inputs": {}}).status_code == 422  # no specification
