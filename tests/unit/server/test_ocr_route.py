"""/ocr/pp-ocr over HTTP on the real PP-OCRv6 tiny weights: the reference's shapes, selection and bad input."""

from __future__ import annotations

import base64

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from text_images import render_lines

pytestmark = pytest.mark.slow


def b64(image: np.ndarray, ext: str = ".png") -> dict[str, str]:
    ok, encoded = cv2.imencode(ext, image)
    assert ok
    return {"type": "base64", "value": base64.b64encode(encoded.tobytes()).decode()}


TWO_LINES = render_lines(["Hello World 2026", "Argus reads text"])


def test_default_model_reads_the_lines_in_the_references_shape(client: TestClient) -> None:
    response = client.post("/ocr/pp-ocr", json={"image": b64(TWO_LINES)})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["result"] == "Hello World 2026\nArgus reads text"
    assert body["image"] == {"width": TWO_LINES.shape[1], "height": TWO_LINES.shape[0]}
    assert [p["class"] for p in body["predictions"]] == ["Hello World 2026", "Argus reads text"]
    first = body["predictions"][0]
    assert first["class_id"] == 0 and 0 < first["confidence"] <= 1 and 0.5 <= first["text_confidence"] <= 1
    assert len(first["points"]) == 4 and first["width"] > 200 and isinstance(body["time"], float)


def test_a_list_of_images_gets_a_list(client: TestClient) -> None:
    one = render_lines(["first page"])
    response = client.post("/ocr/pp-ocr", json={"image": [b64(one), b64(TWO_LINES, ".jpg")],
                                                "pp_ocr_version_id": "tiny-tiny"})
    assert response.status_code == 200, response.text
    assert [b["result"] for b in response.json()] == ["first page", "Hello World 2026\nArgus reads text"]


def test_recognition_only_answers_text_without_boxes(client: TestClient) -> None:
    line = render_lines(["Single line here"], width=330)[:60]
    body = client.post("/ocr/pp-ocr", json={"image": b64(line), "pp_ocr_version_id": "none-tiny"}).json()
    assert body["result"] == "Single line here" and body["predictions"] == []


def test_detection_only_answers_boxes_without_text(client: TestClient) -> None:
    body = client.post("/ocr/pp-ocr", json={"image": b64(TWO_LINES), "text_detection": "tiny",
                                            "text_recognition": None}).json()
    assert body["result"] == "" and [p["class"] for p in body["predictions"]] == ["", ""]


def test_a_one_pixel_image_is_a_200_with_no_text(client: TestClient) -> None:
    response = client.post("/ocr/pp-ocr", json={"image": b64(np.zeros((1, 1, 3), np.uint8))})
    assert response.status_code == 200 and response.json()["result"] == ""


def test_a_stage_size_not_in_the_store_is_a_404_naming_what_is(client: TestClient) -> None:
    response = client.post("/ocr/pp-ocr", json={"image": b64(TWO_LINES), "pp_ocr_version_id": "medium"})
    assert response.status_code == 404
    assert "pp_ocr/medium-medium" in response.json()["message"]
    assert "pp_ocr/tiny-tiny" in response.json()["message"]


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"image": {"type": "base64", "value": "bm90IGFuIGltYWdl"}}, 400, "image"),
    ({"image": []}, 400, "empty list"),
    ({"image": {"type": "base64", "value": ""}, "pp_ocr_version_id": "none-none"}, 400, "both stages"),
])
def test_bad_input_is_a_4xx_that_says_what_to_fix(client: TestClient, body: dict, status: int, message: str
                                                  ) -> None:
    response = client.post("/ocr/pp-ocr", json=body)
    assert response.status_code == status, response.text
    assert message in response.json()["message"]


def test_an_ocr_model_sent_to_a_detection_route_is_a_400_naming_the_ocr_route(client: TestClient) -> None:
    response = client.post("/infer/object_detection", json={"model_id": "pp_ocr/tiny-tiny", "image": b64(TWO_LINES)})
    assert response.status_code == 400 and "/ocr/pp-ocr" in response.json()["message"]


def test_the_registry_lists_the_ocr_model_with_its_task(client: TestClient) -> None:
    client.post("/ocr/pp-ocr", json={"image": b64(TWO_LINES)})
    models = {m["model_id"]: m for m in client.get("/model/registry").json()["models"]}
    assert models["pp_ocr/tiny-tiny"]["task_type"] == "ocr"
