"""/clip/embed_image, /clip/embed_text and /clip/compare over HTTP on the tiny CLIP, against transformers'
features of the same inputs."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient

from argus.server.app import create_app
from foundation_fixtures import clip_expected, settings_with, wire_images
from metrics_samples import labelled, samples


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """A server whose default CLIP model (clip/ViT-B-16, the reference's default id) is the tiny one."""
    settings = settings_with(tmp_path_factory.mktemp("clip-server"),
                             {"clip/ViT-B-16": "clip-optimum", "clip/towers": "clip-transformers-js"})
    with TestClient(create_app(settings)) as client:
        yield client


EXPECTED = clip_expected()
TEXTS = [str(t) for t in EXPECTED["texts"]]
IMAGES = wire_images()


@pytest.mark.parametrize("selector", [{}, {"clip_version_id": "towers"}, {"model_id": "clip/towers"}])
def test_image_embeddings(api: TestClient, selector: dict[str, str]) -> None:
    response = api.post("/clip/embed_image", json={"image": IMAGES, **selector})
    assert response.status_code == 200, response.text
    np.testing.assert_allclose(response.json()["embeddings"], EXPECTED["image_embeds"], atol=1e-4)


def test_one_image_gets_one_embedding(api: TestClient) -> None:
    body = api.post("/clip/embed_image", json={"image": IMAGES[1]}).json()
    np.testing.assert_allclose(body["embeddings"], EXPECTED["image_embeds"][1:2], atol=1e-4)


def test_text_embeddings_say_which_prompts_were_cut(api: TestClient) -> None:
    body = api.post("/clip/embed_text", json={"text": TEXTS}).json()
    np.testing.assert_allclose(body["embeddings"], EXPECTED["text_embeds"], atol=1e-4)
    assert body["truncated"] == [False] * 6 + [True]
    single = api.post("/clip/embed_text", json={"text": TEXTS[0]}).json()
    np.testing.assert_allclose(single["embeddings"], EXPECTED["text_embeds"][:1], atol=1e-4)


def test_compare_an_image_with_texts(api: TestClient) -> None:
    body = api.post("/clip/compare", json={"subject": IMAGES[0], "prompt": TEXTS[:3]}).json()
    np.testing.assert_allclose(body["similarity"], EXPECTED["similarity"][0, :3], atol=1e-4)
    assert body["truncated"] is False


def test_named_prompts_get_named_similarities(api: TestClient) -> None:
    body = api.post("/clip/compare", json={"subject": IMAGES[2], "prompt": {"cat": TEXTS[0], "car": TEXTS[2]}}).json()
    assert set(body["similarity"]) == {"cat", "car"}
    assert body["similarity"]["car"] == pytest.approx(float(EXPECTED["similarity"][2, 2]), abs=1e-4)


def test_compare_a_text_with_images(api: TestClient) -> None:
    body = api.post("/clip/compare", json={"subject": TEXTS[3], "subject_type": "text", "prompt": IMAGES,
                                           "prompt_type": "image"}).json()
    np.testing.assert_allclose(body["similarity"], EXPECTED["similarity"][:, 3], atol=1e-4)


@pytest.mark.parametrize(("path", "body", "status", "message"), [
    ("/clip/compare", {"subject": "a cat", "subject_type": "text", "prompt": []}, 400, "No prompts"),
    ("/clip/compare", {"subject": "a cat", "subject_type": "sound", "prompt": "x"}, 400, "'image' or 'text'"),
    ("/clip/compare", {"subject": "a cat", "subject_type": "text", "prompt": "x" * 20_000}, 400, "characters"),
    ("/clip/embed_image", {"image": [], "clip_version_id": "towers"}, 400, "empty list"),
    ("/clip/embed_image", {"image": {"type": "base64", "value": "bm90IGFuIGltYWdl"}}, 400, "image"),
    ("/clip/embed_text", {"text": "a cat", "clip_version_id": "ViT-L-14"}, 404, "clip/ViT-B-16"),
])
def test_bad_requests_are_4xx_that_say_what_to_fix(api: TestClient, path: str, body: dict, status: int,
                                                   message: str) -> None:
    response = api.post(path, json=body)
    assert response.status_code == status, response.text
    assert message in response.json()["message"]


def test_a_one_pixel_image_is_embedded(api: TestClient) -> None:
    one = {"type": "base64", "value": base64.b64encode(
        bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c4944415408d763"
                      "f8cfc0000003010100c9fe92ef0000000049454e44ae426082")).decode()}
    response = api.post("/clip/embed_image", json={"image": one})
    assert response.status_code == 200, response.text
    assert len(response.json()["embeddings"][0]) == 24


def test_requests_are_counted_in_the_metrics_as_the_detectors_are(api: TestClient) -> None:
    model = "clip/ViT-B-16"

    def counts() -> tuple[float, ...]:
        requests = samples(api, "argus_inference_requests_total")
        return (labelled(samples(api, "argus_inference_images_total"), model=model),
                labelled(requests, model=model, outcome="success"), labelled(requests, model=model, outcome="fail"))

    before = counts()
    assert api.post("/clip/embed_image", json={"image": IMAGES[:2]}).status_code == 200
    not_an_image = {"type": "base64", "value": base64.b64encode(b"not an image").decode()}
    assert api.post("/clip/embed_image", json={"image": not_an_image}).status_code == 400
    assert np.subtract(counts(), before).tolist() == [2, 1, 1]
