"""/infer/depth-estimation over HTTP on the tiny Depth Anything: formats, model selection and bad input."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from argus.server.app import create_app
from foundation_fixtures import FIXTURES, settings_with, wire_images

IMAGES = wire_images()


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = settings_with(tmp_path_factory.mktemp("depth-server"),
                             {"depth-anything-v2/small": "depth-anything-onnx-community", "dpt/tiny": "dpt-optimum"})
    with TestClient(create_app(settings)) as client:
        yield client


def expected(layout: str, index: int) -> np.ndarray:
    with np.load(FIXTURES / f"{layout}-expected" / "expected.npz") as data:
        return data[f"depth{index}"]


def png_depth(payload: str) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(base64.b64decode(payload), np.uint8), cv2.IMREAD_UNCHANGED)
    return image.astype(np.float32) / (65535 if image.dtype == np.uint16 else 255)


def test_the_default_model_answers_json_floats_with_a_picture(api: TestClient) -> None:
    response = api.post("/infer/depth-estimation", json={"image": IMAGES[0]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["depth_map_format"] == "json"
    np.testing.assert_allclose(body["normalized_depth"], expected("depth-anything-onnx-community", 0), atol=1e-4)
    picture = cv2.imdecode(np.frombuffer(base64.b64decode(body["image"]), np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape == (48, 64, 3)


@pytest.mark.parametrize(("depth_format", "step"), [("png16", 1 / 65535), ("png8", 1 / 255)])
def test_png_formats_quantise_the_same_map(api: TestClient, depth_format: str, step: float) -> None:
    body = api.post("/infer/depth-estimation/dpt/tiny", json={"image": IMAGES, "depth_map_format": depth_format}
                    ).json()
    assert [b["depth_map_format"] for b in body] == [depth_format] * 3
    for index, answer in enumerate(body):
        np.testing.assert_allclose(png_depth(answer["normalized_depth"]), expected("dpt-optimum", index),
                                   atol=step / 2 + 1e-4)


def test_the_version_field_names_depth_anything_v2(api: TestClient) -> None:
    response = api.post("/infer/depth-estimation", json={"image": IMAGES[2], "depth_version_id": "small"})
    np.testing.assert_allclose(response.json()["normalized_depth"], expected("depth-anything-onnx-community", 2),
                               atol=1e-4)


@pytest.mark.parametrize(("path", "body", "status", "message"), [
    ("/infer/depth-estimation/dpt/tiny", {"model_id": "other/1"}, 400, "mismatch"),
    ("/infer/depth-estimation", {"depth_version_id": "large"}, 404, "depth-anything-v2/small"),
    ("/infer/depth-estimation", {"depth_map_format": "tiff"}, 422, "depth_map_format"),
    ("/infer/depth-estimation", {"model_id": "pp_ocr/tiny-tiny"}, 400, "not a depth"),
])
def test_bad_requests_are_4xx(api: TestClient, path: str, body: dict, status: int, message: str) -> None:
    response = api.post(path, json={"image": IMAGES[0], **body})
    assert response.status_code == status, response.text
    assert message in response.text


def test_a_one_pixel_image_gets_a_flat_map(api: TestClient) -> None:
    ok, png = cv2.imencode(".png", np.zeros((1, 1, 3), np.uint8))
    response = api.post("/infer/depth-estimation", json={"image": {"type": "base64",
                                                                   "value": base64.b64encode(png).decode()}})
    assert response.status_code == 200, response.text
    assert response.json()["normalized_depth"] == [[0.0]]
