"""/sam2/* and /sam/* over HTTP on the tiny SAM: masks as transformers gives them, the embedding cache by
image_id, and bad prompts."""

from __future__ import annotations

import json
from collections.abc import Iterator

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from argus.server.app import create_app
from foundation_fixtures import sam_expected, sam_exporter_expected, settings_with, wire_images

IMAGES = wire_images()
EXPECTED, POINTS, LABELS = sam_expected()


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = settings_with(tmp_path_factory.mktemp("sam-server"), {
        "sam2/hiera_tiny": "sam-optimum", "sam/vit_b": "sam-optimum", "sam2/boxes": "sam-exporter"})
    with TestClient(create_app(settings)) as client:
        yield client


def rle_to_mask(rle: dict) -> np.ndarray:
    """pycocotools' decoder: the independent oracle for Argus's RLE writer."""
    from pycocotools import mask as coco_mask

    return coco_mask.decode({"size": rle["size"], "counts": rle["counts"].encode()}).astype(bool)


def prompt(index: int) -> dict:
    return {"points": [{"x": x, "y": y, "positive": bool(label)} for (x, y), label in zip(POINTS[index], LABELS[index])]}


def drawn(polygons: list, shape: tuple[int, int]) -> np.ndarray:
    canvas = np.zeros(shape, np.uint8)
    cv2.fillPoly(canvas, [np.array(p, np.int32) for p in polygons], 1)
    return canvas.astype(bool)


@pytest.mark.parametrize("index", [0, 1, 2])
def test_sam2_rle_masks_are_transformers_masks(api: TestClient, index: int) -> None:
    response = api.post("/sam2/segment_image", json={"image": IMAGES[index], "prompts": {"prompts": [prompt(index)]},
                                                     "format": "rle"})
    assert response.status_code == 200, response.text
    (prediction,) = response.json()["predictions"]
    assert prediction["format"] == "rle"
    assert np.array_equal(rle_to_mask(prediction["masks"]), EXPECTED[f"mask{index}"])
    assert prediction["confidence"] == pytest.approx(float(EXPECTED[f"score{index}"]), abs=1e-6)


def test_sam2_polygons_outline_the_mask(api: TestClient) -> None:
    body = api.post("/sam2/segment_image", json={"image": IMAGES[0], "prompts": [prompt(0), prompt(0)]}).json()
    assert len(body["predictions"]) == 2 and body["predictions"][0]["format"] == "polygon"
    outline = drawn(body["predictions"][0]["masks"], EXPECTED["mask0"].shape)
    overlap = (outline & EXPECTED["mask0"]).sum() / (outline | EXPECTED["mask0"]).sum()
    assert overlap > 0.9


def test_an_embedded_image_is_segmented_by_its_id_alone(api: TestClient) -> None:
    embedded = api.post("/sam2/embed_image", json={"image": IMAGES[1], "image_id": "img-1"}).json()
    assert embedded["image_id"] == "img-1"
    body = api.post("/sam2/segment_image", json={"image_id": "img-1", "prompts": prompt(1), "format": "rle"}).json()
    assert np.array_equal(rle_to_mask(body["predictions"][0]["masks"]), EXPECTED["mask1"])


def test_sam_v1_routes(api: TestClient) -> None:
    embedded = api.post("/sam/embed_image", json={"image": IMAGES[0]}).json()
    assert np.array(embedded["embeddings"]).shape == (1, 16, 8, 8)
    body = api.post("/sam/segment_image", json={"image": IMAGES[0], "point_coords": POINTS[0] + [[0, 0]],
                                                "point_labels": LABELS[0] + [-1]}).json()
    outline = drawn(body["masks"][0], EXPECTED["mask0"].shape)
    assert (outline & EXPECTED["mask0"]).sum() / (outline | EXPECTED["mask0"]).sum() > 0.9


@pytest.mark.parametrize(("path", "body", "status", "message"), [
    ("/sam2/segment_image", {"image": IMAGES[0], "prompts": [{"points": [{"x": 500, "y": 5, "positive": True}]}]},
     400, "outside the 64x48 image"),
    ("/sam2/segment_image", {"image_id": "never-sent", "prompts": [prompt(0)]}, 404, "never-sent"),
    ("/sam2/segment_image", {"image": IMAGES[0], "prompts": [{"box": {"x": 5, "y": 5, "width": 4, "height": 4}}]},
     501, "segment-anything export"),
    ("/sam2/segment_image", {"image": IMAGES[0], "prompts": [prompt(0)], "format": "binary"}, 501, "rle"),
    ("/sam2/embed_image", {"sam2_version_id": "hiera_large", "image": IMAGES[0]}, 404, "sam2/hiera_tiny"),
    ("/sam2/embed_image", {"image": IMAGES[0], "image_id": "x" * 257}, 400, "1 to 256 characters"),
    ("/sam/segment_image", {"image": IMAGES[0], "point_coords": [[5, 5]], "point_labels": [0.5]}, 422,
     "point_labels.0: Input should be -1, 0 or 1"),
])
def test_bad_requests_are_4xx_or_501_with_a_reason(api: TestClient, path: str, body: dict, status: int,
                                                   message: str) -> None:
    response = api.post(path, json=body)
    assert response.status_code == status, response.text
    assert message in response.json()["message"]


def test_no_prompt_segments_with_an_empty_prompt_as_the_reference(api: TestClient) -> None:
    body = api.post("/sam2/segment_image", json={"image": IMAGES[0]}).json()
    assert len(body["predictions"]) == 1 and body["predictions"][0]["format"] == "polygon"


@pytest.mark.parametrize("index", [0, 1, 2])
def test_box_and_point_prompts_on_a_segment_anything_export(api: TestClient, index: int) -> None:
    expected, prompts = sam_exporter_expected()
    prompt = prompts[index]
    sam2_prompt: dict = {"points": [{"x": x, "y": y, "positive": bool(label)}
                                    for (x, y), label in zip(prompt["points"], prompt["labels"])]}
    if prompt["box"]:
        x1, y1, x2, y2 = prompt["box"]
        sam2_prompt["box"] = {"x": (x1 + x2) / 2, "y": (y1 + y2) / 2, "width": x2 - x1, "height": y2 - y1}
    response = api.post("/sam2/segment_image", json={"image": IMAGES[index], "prompts": [sam2_prompt],
                                                     "sam2_version_id": "boxes", "format": "rle"})
    assert response.status_code == 200, response.text
    (prediction,) = response.json()["predictions"]
    assert np.array_equal(rle_to_mask(prediction["masks"]), expected[f"mask{index}"])
    assert prediction["confidence"] == pytest.approx(float(expected[f"score{index}"]), abs=1e-5)


def test_a_prompt_with_too_many_points_is_refused(api: TestClient) -> None:
    points = [{"x": 1, "y": 1, "positive": True}] * 65
    response = api.post("/sam2/segment_image", json={"image": IMAGES[0], "prompts": [{"points": points}]})
    assert response.status_code == 422 and "64" in response.text
    coords = api.post("/sam/segment_image", json={"image": IMAGES[0], "point_coords": [[1, 1]] * 65,
                                                  "point_labels": [1] * 65})
    assert coords.status_code == 422


def test_a_nan_point_label_is_refused(api: TestClient) -> None:
    # Python's JSON reader takes NaN; the label must still be one of -1, 0, 1 (it was a 500 when cast to int).
    body = json.dumps({"image": IMAGES[0], "point_coords": [[5, 5]], "point_labels": ["NAN"]}).replace('"NAN"', "NaN")
    response = api.post("/sam/segment_image", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422 and "point_labels.0" in response.json()["message"]
