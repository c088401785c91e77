"""Roboflow protocol details through the app: legacy query rules, list requests, visualisation, auth."""

from __future__ import annotations

import base64

import cv2
import pytest
from fastapi.testclient import TestClient

from argus.server.app import create_app
from photos import collage

pytestmark = pytest.mark.slow
MODEL = "yolov3-tiny-416"


@pytest.fixture(scope="module")
def jpeg() -> bytes:
    ok, data = cv2.imencode(".jpg", collage())
    assert ok
    return data.tobytes()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _classes(body: dict) -> list[str]:
    return sorted(p["class"] for p in body["predictions"])


def test_v1_detection_omits_nulls_and_sets_headers(client: TestClient, jpeg: bytes) -> None:
    response = client.post("/infer/object_detection", json={"model_id": MODEL, "image": {"type": "base64",
                                                                                           "value": _b64(jpeg)}})
    assert response.status_code == 200
    body = response.json()
    assert {"cat", "motorbike"} <= set(_classes(body))
    assert body["image"] == {"width": 1280, "height": 720}
    assert all(None not in p.values() and "tracker_id" not in p for p in body["predictions"])
    assert response.headers["x-model-id"] == "coco-yolov3-tiny/1"
    assert response.headers["x-model-cold-start"] in ("true", "false")
    assert float(response.headers["x-processing-time"]) > 0
    assert len(response.headers["x-request-id"]) >= 16


def test_list_request_gives_list_response(client: TestClient, jpeg: bytes) -> None:
    image = {"type": "base64", "value": _b64(jpeg)}
    response = client.post("/infer/object_detection", json={"model_id": MODEL, "image": [image, image]})
    bodies = response.json()
    assert isinstance(bodies, list) and len(bodies) == 2
    assert _classes(bodies[0]) == _classes(bodies[1])


def test_legacy_percent_rule_and_multipart(client: TestClient, jpeg: bytes) -> None:
    as_fraction = client.post("/coco-yolov3-tiny/1?confidence=0.6&overlap=0.3", content=_b64(jpeg),
                              headers={"content-type": "application/x-www-form-urlencoded"}).json()
    as_percent = client.post("/coco-yolov3-tiny/1?confidence=60&overlap=30", files={"file": ("a.jpg", jpeg)}).json()
    low = client.post("/coco-yolov3-tiny/1?confidence=5", files={"file": ("a.jpg", jpeg)}).json()
    assert _classes(as_fraction) == _classes(as_percent)
    assert all(p["confidence"] > 0.6 for p in as_percent["predictions"])
    assert len(low["predictions"]) > len(as_percent["predictions"])


def test_legacy_image_formats(client: TestClient, jpeg: bytes) -> None:
    picture = client.post("/coco-yolov3-tiny/1?format=image", files={"file": ("a.jpg", jpeg)})
    assert picture.headers["content-type"] == "image/jpeg"
    decoded = cv2.imdecode(__import__("numpy").frombuffer(picture.content, "uint8"), cv2.IMREAD_COLOR)
    assert decoded.shape == (720, 1280, 3)
    both = client.post("/coco-yolov3-tiny/1?format=image_and_json", files={"file": ("a.jpg", jpeg)}).json()
    assert both["predictions"] and base64.b64decode(both["visualization"])[:3] == b"\xff\xd8\xff"


def test_visualize_predictions_returns_jpeg(client: TestClient, jpeg: bytes) -> None:
    body = client.post("/infer/object_detection", json={
        "model_id": MODEL, "image": {"type": "base64", "value": _b64(jpeg)}, "visualize_predictions": True,
        "visualization_labels": True}).json()
    assert base64.b64decode(body["visualization"])[:3] == b"\xff\xd8\xff"


def test_class_filter_and_max_detections(client: TestClient, jpeg: bytes) -> None:
    image = {"type": "base64", "value": _b64(jpeg)}
    only_cats = client.post("/infer/object_detection", json={"model_id": MODEL, "image": image,
                                                              "class_filter": ["cat"], "confidence": 0.1}).json()
    assert _classes(only_cats) and set(_classes(only_cats)) == {"cat"}
    one = client.post("/infer/object_detection", json={"model_id": MODEL, "image": image, "confidence": 0.1,
                                                        "max_detections": 1}).json()
    assert len(one["predictions"]) == 1


def test_registry_shape(client: TestClient) -> None:
    client.post("/model/add", json={"model_id": MODEL})
    body = client.get("/model/registry").json()
    entry = next(m for m in body["models"] if m["model_id"] == "coco-yolov3-tiny/1")
    assert entry == {"model_id": "coco-yolov3-tiny/1", "task_type": "object-detection", "batch_size": None,
                     "input_height": 416, "input_width": 416, "vram_bytes": None,
                     "request_aliases": ["yolov3-tiny-416"],
                     "request_paths": ["/coco-yolov3-tiny/1", "/infer/object_detection"]}
    assert "total_vram_bytes" in body and body["total_vram_bytes"] is None


def test_metrics_count_requests_and_loads(client: TestClient) -> None:
    client.get("/healthz")
    text = client.get("/metrics").text
    assert 'argus_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert "argus_inference_duration_seconds_bucket" in text


def test_api_key_precedence(zoo_settings, zoo_manager, jpeg: bytes) -> None:
    settings = zoo_settings.model_copy(update={"api_keys": ["right"]})
    with TestClient(create_app(settings, manager=zoo_manager)) as secured:
        body = {"model_id": MODEL, "image": {"type": "base64", "value": _b64(jpeg)}}
        assert secured.get("/healthz").status_code == 200 and secured.get("/info").status_code == 200
        missing = secured.post("/infer/object_detection", json=body)
        assert missing.status_code == 401 and "missing" in missing.json()["message"]
        assert secured.post("/infer/object_detection?api_key=right", json=body).status_code == 200
        assert secured.post("/infer/object_detection", json=body,
                            headers={"Authorization": "Bearer right"}).status_code == 200
        assert secured.post("/infer/object_detection", json={**body, "api_key": "right"}).status_code == 200
        # the query parameter comes first: a wrong one is not rescued by a right header
        wrong_first = secured.post("/infer/object_detection?api_key=wrong", json=body,
                                   headers={"Authorization": "Bearer right"})
        assert wrong_first.status_code == 401 and "not valid" in wrong_first.json()["message"]
        assert secured.get("/model/registry").status_code == 401


def test_readiness_waits_for_preload(zoo_settings, zoo_manager) -> None:
    settings = zoo_settings.model_copy(update={"preload_models": [MODEL, "missing/1"]})
    with TestClient(create_app(settings, manager=zoo_manager)) as app_client:
        for _ in range(200):
            response = app_client.get("/readiness")
            if response.json()["status"] != "not ready":
                break
            __import__("time").sleep(0.05)
        body = response.json()
        assert response.status_code == 503 and body["status"] == "preload failed"
        assert "missing/1" in body["preload_errors"]  # reported, and the server still serves


def test_sdk_client_typed_results(threaded_url: str, jpeg: bytes, tmp_path) -> None:
    from argus.sdk import Client

    path = tmp_path / "collage.jpg"
    path.write_bytes(jpeg)
    with Client(threaded_url) as sdk:
        result = sdk.infer(path, model_id=MODEL, confidence=0.4)
        assert {"cat", "motorbike"} <= set(result.detections.class_name)
        detections = result.to_supervision()
        assert len(detections) == len(result.detections)
        assert sdk.task_of(MODEL) == "object-detection"
        assert any(m["model_id"] == "coco-yolov3-tiny/1" for m in sdk.list_models()["models"])
        rows = list(sdk.infer_paths([path, path], MODEL, concurrency=2))
        assert [r[0] for r in rows] == [path, path]


def test_async_client(threaded_url: str, jpeg: bytes) -> None:
    import asyncio

    from argus.sdk import AsyncClient

    async def go() -> list[str]:
        async with AsyncClient(threaded_url) as sdk:
            results = await asyncio.gather(*(sdk.infer(jpeg, model_id=MODEL) for _ in range(3)))
            return [sorted(r.detections.class_name) for r in results]

    classes = asyncio.run(go())
    assert classes[0] == classes[1] == classes[2] and "cat" in classes[0]


def test_a_full_model_queue_answers_503_with_retry_after(zoo_settings, zoo_manager, jpeg: bytes) -> None:
    settings = zoo_settings.model_copy(update={"max_pending_images": 2})
    from argus.runtime.manager import ModelManager

    manager = ModelManager(settings)
    model = manager.get(MODEL)
    request = {"model_id": MODEL, "image": {"type": "base64", "value": _b64(jpeg)}}
    with TestClient(create_app(settings, manager=manager)) as client:
        with model.admit(2):  # two images in flight: the queue is full
            refused = client.post("/infer/object_detection", json=request)
            waiting = client.get("/metrics").text
        accepted = client.post("/infer/object_detection", json=request)
        after = client.get("/metrics").text
    assert 'argus_inference_pending_images{model="coco-yolov3-tiny/1"} 2.0' in waiting
    assert 'argus_inference_refused_total{model="coco-yolov3-tiny/1"} 1.0' in after
    assert 'argus_inference_batched_images_total{model="coco-yolov3-tiny/1"} 1.0' in after
    assert refused.status_code == 503
    assert int(refused.headers["Retry-After"]) >= 1
    assert "waiting" in refused.json()["message"]
    assert accepted.status_code == 200 and accepted.json()["predictions"]
    manager.clear()


def test_reduced_jpeg_decoding_finds_what_a_full_decode_finds(client: TestClient, zoo_manager) -> None:
    """A 2560x1440 JPEG is decoded at half scale for the 416 model; the oracle is a full decode."""
    import numpy as np

    from argus.core.images import decode_image_bytes

    ok, encoded = cv2.imencode(".jpg", collage(width=2560, height=1440), [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    large = encoded.tobytes()
    model = zoo_manager.get(MODEL)
    assert model.decode_hint is not None and model.decode_hint.reduction(2560, 1440) == 2
    served = client.post("/infer/object_detection", json={"model_id": MODEL, "image": {"type": "base64",
                                                                                       "value": _b64(large)}}).json()
    oracle = model.infer(decode_image_bytes(large)).to_roboflow()
    assert (served["image"]["width"], served["image"]["height"]) == (2560, 1440)
    assert _classes(served) == _classes(oracle) and len(served["predictions"]) >= 3

    def boxes(body: dict) -> np.ndarray:
        ordered = sorted(body["predictions"], key=lambda p: (p["class"], p["x"]))
        return np.array([[p["x"], p["y"], p["width"], p["height"]] for p in ordered])

    assert np.abs(boxes(served) - boxes(oracle)).max() < 0.01 * 2560  # resampled, not misplaced
    assert not np.array_equal(boxes(served), boxes(oracle))  # it did take the reduced path


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_everything_from_the_server(tmp_path, page) -> None:
    import re

    from argus.settings import Settings

    with TestClient(create_app(Settings(home=tmp_path / "home", api_keys=["k"]))) as api:
        html = api.get(page)
        assert html.status_code == 200 and "text/html" in html.headers["content-type"]
        sources = re.findall(r'(?:src|href)="([^"]+)"', html.text) + re.findall(r"url: '([^']+)'", html.text)
        assert sources and all(source.startswith("/") for source in sources), sources  # no CDN, no other host
        for source in sources:
            assert api.get(source).status_code == 200, source  # every asset is served, without a key
