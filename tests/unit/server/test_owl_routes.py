"""Open-vocabulary detection on a tiny random OWL-ViT exported by optimum: boxes, scores and labels against
transformers' ``post_process_object_detection`` on the same weights, and /owlv2/infer's answers."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient

from argus.errors import ClientGoneError
from argus.models.foundation.owl import OwlModel
from argus.runtime.foundation import FoundationService
from argus.runtime.manager import ModelManager
from argus.runtime.service import InferenceService
from argus.server.app import create_app
from argus.settings import Settings
from foundation_fixtures import FIXTURES, clip_images, owl_examples, owl_expected, settings_with, wire_images

EXPECTED, QUERIES = owl_expected()
IMAGES = wire_images()


def by_score(xyxy: np.ndarray, scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, ...]:
    order = np.argsort(-scores, kind="stable")
    return xyxy[order], scores[order], labels[order]


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return settings_with(tmp_path_factory.mktemp("owl-home"),
                         {"owlv2/owlv2-large-patch14-ensemble": "owlvit-optimum"})


@pytest.fixture(scope="module")
def api(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.mark.parametrize("index", [0, 1, 2])
def test_detections_match_transformers_within_1e_3(settings: Settings, index: int) -> None:
    model = ModelManager(settings).foundation("owlv2/owlv2-large-patch14-ensemble", OwlModel)
    assert isinstance(model, OwlModel)
    found = model.detect(clip_images()[index], QUERIES, 0.0)
    boxes, scores, labels = by_score(EXPECTED[f"boxes{index}"], EXPECTED[f"scores{index}"], EXPECTED[f"labels{index}"])
    np.testing.assert_allclose(found.xyxy, boxes, atol=1e-3)
    np.testing.assert_allclose(found.scores, scores, atol=1e-5)
    assert found.labels.tolist() == labels.tolist()


def test_the_route_answers_object_detection_predictions(api: TestClient) -> None:
    response = api.post("/owlv2/infer", json={"image": IMAGES[0], "text": QUERIES, "confidence": 0.0,
                                              "iou_threshold": 1.0})
    assert response.status_code == 200, response.text
    body = response.json()
    boxes, scores, labels = by_score(EXPECTED["boxes0"], EXPECTED["scores0"], EXPECTED["labels0"])
    got = np.array([[p["x"] - p["width"] / 2, p["y"] - p["height"] / 2, p["x"] + p["width"] / 2,
                     p["y"] + p["height"] / 2] for p in body["predictions"]])
    np.testing.assert_allclose(got, boxes, atol=1e-3)
    assert [p["class"] for p in body["predictions"]] == [QUERIES[i] for i in labels]
    assert body["image"] == {"width": 64, "height": 48}


def test_nms_and_the_threshold_thin_the_answer(api: TestClient) -> None:
    body = api.post("/owlv2/infer", json={"image": [IMAGES[0], IMAGES[2]], "text": QUERIES, "confidence": 0.5}
                    ).json()
    assert len(body) == 2
    for answer, index in zip(body, (0, 2)):
        above = int((EXPECTED[f"scores{index}"] > 0.5).sum())
        assert 0 < len(answer["predictions"]) <= above
        assert all(p["confidence"] > 0.5 for p in answer["predictions"])


EXAMPLES = owl_examples()
TRAINING = [{"image": IMAGES[EXAMPLES["image"]], "boxes": EXAMPLES["boxes"]}]


@pytest.mark.parametrize("index", [0, 1, 2])
def test_image_guided_detection_matches_the_references_algorithm(api: TestClient, index: int) -> None:
    response = api.post("/owlv2/infer", json={"image": IMAGES[index], "training_data": TRAINING,
                                              "confidence": EXAMPLES["confidence"],
                                              "iou_threshold": EXAMPLES["iou_threshold"]})
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    names = [str(n) for n in EXPECTED["guided_names"]]
    got = np.array([[p["x"] - p["width"] / 2, p["y"] - p["height"] / 2, p["x"] + p["width"] / 2,
                     p["y"] + p["height"] / 2] for p in predictions]).reshape(-1, 4)
    np.testing.assert_allclose(got, EXPECTED[f"guided_boxes{index}"], atol=1e-3)
    np.testing.assert_allclose([p["confidence"] for p in predictions], EXPECTED[f"guided_scores{index}"], atol=1e-5)
    assert [p["class"] for p in predictions] == [names[i] for i in EXPECTED[f"guided_labels{index}"]]
    assert [p["class_id"] for p in predictions] == EXPECTED[f"guided_labels{index}"].tolist()


def test_examples_that_match_no_predicted_box_find_nothing(api: TestClient) -> None:
    far = [{"image": IMAGES[0], "boxes": [{"x": 1, "y": 1, "w": 1, "h": 1, "cls": "speck"}]}]
    body = api.post("/owlv2/infer", json={"image": IMAGES[1], "training_data": far, "iou_threshold": 0.5}).json()
    assert body["predictions"] == []


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"training_data": []}, 400, "'training_data' (example images"),
    ({}, 400, "text"),
    ({"text": [""]}, 400, "non-empty"),
    ({"text": ["a cat"], "owlv2_version_id": "owlv2-huge"}, 404, "owlv2/owlv2-large-patch14-ensemble"),
])
def test_bad_requests(api: TestClient, body: dict, status: int, message: str) -> None:
    response = api.post("/owlv2/infer", json={"image": IMAGES[0], **body})
    assert response.status_code == status, response.text
    assert message in response.json()["message"]


@pytest.mark.parametrize("index", [0, 1, 2])
def test_owlv2_pads_to_a_square_and_matches_transformers(tmp_path_factory: pytest.TempPathFactory, index: int) -> None:
    # The tiny random OWLv2 saturates several scores at 1.0, so detections are matched rather than compared in
    # score order: each of transformers' detections must have one of Argus's with its label, score and box.
    manager = ModelManager(settings_with(tmp_path_factory.mktemp("owlv2-home"), {"owlv2/tiny": "owlv2-optimum"}))
    model = manager.foundation("owlv2/tiny", OwlModel)
    assert isinstance(model, OwlModel) and model.v2
    with np.load(FIXTURES / "owlv2-expected" / "expected.npz") as data:
        boxes, scores, labels, queries = (data[f"boxes{index}"], data[f"scores{index}"], data[f"labels{index}"],
                                          [str(q) for q in data["queries"]])
    found = model.detect(clip_images()[index], queries, 0.0)
    assert len(found.scores) == len(scores)
    for box, score, label in zip(boxes, scores, labels):
        same = (found.labels == label) & (np.abs(found.scores - score) < 1e-5)
        assert same.any() and np.abs(found.xyxy[same] - box).max(axis=1).min() < 1e-3


def test_too_many_example_boxes_are_refused(api: TestClient) -> None:
    boxes = [{"x": 5, "y": 5, "w": 2, "h": 2, "cls": "x"}] * 257
    response = api.post("/owlv2/infer", json={"image": IMAGES[0], "training_data": [{"image": IMAGES[0],
                                                                                      "boxes": boxes}]})
    assert response.status_code == 422 and "256" in response.text


def test_a_request_whose_client_left_is_dropped_before_the_model_runs(settings: Settings,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    service = FoundationService(InferenceService(ModelManager(settings)))
    model = service.model("owlv2/owlv2-large-patch14-ensemble", OwlModel)
    runs: list[list[str]] = []
    run_feed = model.graph.run_feed
    monkeypatch.setattr(model.graph, "run_feed", lambda feed, names: runs.append(names) or run_feed(feed, names))
    with pytest.raises(ClientGoneError):
        service.detect_text(model.model_id, IMAGES[:2], QUERIES, 0.0, None, client_gone=lambda: True)
    assert runs == [] and model.batcher.pending_rows == 0  # nothing ran, and its admission was given back
    bodies = service.detect_text(model.model_id, IMAGES[:1], QUERIES, 0.0, None, client_gone=lambda: False)
    assert len(runs) == 1 and len(bodies[0]["predictions"]) == len(EXPECTED["scores0"])


@pytest.mark.parametrize("field", ["x", "w"])
def test_an_example_box_that_is_not_a_finite_number_is_refused(api: TestClient, field: str) -> None:
    box = {"x": 10, "y": 10, "w": 5, "h": 5, "cls": "thing", field: "NAN"}
    body = json.dumps({"image": IMAGES[0], "training_data": [{"image": IMAGES[0], "boxes": [box]}]})
    response = api.post("/owlv2/infer", content=body.replace('"NAN"', "Infinity" if field == "w" else "NaN"),
                        headers={"content-type": "application/json"})
    assert response.status_code == 422 and f"boxes.0.{field}: Input should be a finite number" in response.text
