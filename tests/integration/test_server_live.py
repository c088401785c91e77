"""A real server end to end: API keys, response headers, metrics, the model registry's shape, preloading."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import cv2
import httpx
import numpy as np
import pytest

from metrics_samples import labelled, samples

REGISTRY_ENTRY_KEYS = {"model_id", "task_type", "batch_size", "input_height", "input_width", "vram_bytes",
                       "request_aliases", "request_paths"}
REGISTRY_NULL_KEYS = {"total_vram_bytes", "gpu_memory_used", "gpu_memory_total", "torch_cuda_allocated",
                      "torch_cuda_reserved", "torch_cuda_allocator_cache", "non_torch_gpu_memory"}


PIXEL = base64.b64encode(cv2.imencode(".png", np.full((1, 1, 3), 200, np.uint8))[1].tobytes()).decode()


def image(value: Any, kind: str = "base64") -> dict[str, Any]:
    return {"type": kind, "value": value}


def assert_client_error(response: httpx.Response, status: int, *words: str) -> str:
    """``status`` with a JSON ``{"message": ...}`` body that mentions each of ``words`` (any case)."""
    assert response.status_code == status, (response.status_code, response.text[:1000])
    message = response.json().get("message")
    assert isinstance(message, str) and len(message) > 10, response.text
    for word in words:
        assert word.lower() in message.lower(), (word, message)
    return message


@pytest.fixture
def secured(secured_server: Any) -> Iterator[httpx.Client]:
    with secured_server.client() as client:
        yield client


# ------------------------------------------------------------------------------------------ auth

def test_no_key_is_401_with_a_message(secured, model_ids):
    response = secured.post("/infer/classification", json={"model_id": model_ids.cls, "image": image(PIXEL)})
    assert_client_error(response, 401, "api key", "missing")
    assert_client_error(secured.get("/model/registry"), 401, "api key")
    assert_client_error(secured.post("/model/add", json={"model_id": model_ids.cls}), 401, "api key")
    assert_client_error(secured.post(f"/{model_ids.cls}", content=PIXEL,
                                     headers={"Content-Type": "application/json"}), 401, "api key")


def test_a_wrong_key_is_401(secured, model_ids):
    body = {"model_id": model_ids.cls, "image": image(PIXEL)}
    assert_client_error(secured.post("/infer/classification", params={"api_key": "nope"}, json=body),
                        401, "not valid")
    assert_client_error(secured.post("/infer/classification", json=body,
                                     headers={"Authorization": "Bearer nope"}), 401, "not valid")
    assert_client_error(secured.post("/infer/classification", json={**body, "api_key": "nope"}), 401, "not valid")


def test_the_key_is_accepted_from_query_header_and_body(secured, model_ids):
    key = model_ids.api_key
    body = {"model_id": model_ids.cls, "image": image(PIXEL)}
    by_query = secured.post("/infer/classification", params={"api_key": key}, json=body)
    by_header = secured.post("/infer/classification", json=body, headers={"Authorization": f"Bearer {key}"})
    by_body = secured.post("/infer/classification", json={**body, "api_key": key})
    legacy = secured.post(f"/{model_ids.cls}", params={"api_key": key}, content=PIXEL,
                          headers={"Content-Type": "application/json"})
    registry = secured.get("/model/registry", params={"api_key": key})
    for response in (by_query, by_header, by_body, legacy, registry):
        assert response.status_code == 200, (response.request.url, response.text)
    assert by_query.json()["top"] == by_header.json()["top"] == by_body.json()["top"] == legacy.json()["top"] == "cat"


def test_the_query_key_takes_precedence_over_the_body(secured, model_ids):
    """The reference's order: ``?api_key=`` beats the header, which beats the body."""
    body = {"model_id": model_ids.cls, "image": image(PIXEL), "api_key": model_ids.api_key}
    response = secured.post("/infer/classification", params={"api_key": "wrong"}, json=body)
    assert_client_error(response, 401, "not valid")


@pytest.mark.parametrize("path", ["/healthz", "/info", "/readiness", "/docs", "/openapi.json"])
def test_health_info_and_docs_need_no_key(secured, path):
    response = secured.get(path)
    assert response.status_code == 200, response.text


def test_metrics_need_a_key_when_keys_are_set(secured):
    assert_client_error(secured.get("/metrics"), 401, "missing")


# --------------------------------------------------------------------------------------- headers

def test_model_headers_report_cold_and_warm_starts(http, model_ids):
    assert http.post("/model/clear").json()["models"] == []
    body = {"model_id": model_ids.cls, "image": image(PIXEL)}
    cold = http.post("/infer/classification", json=body)
    warm = http.post("/infer/classification", json=body)
    assert cold.status_code == warm.status_code == 200
    assert cold.headers["X-Model-Id"] == warm.headers["X-Model-Id"] == model_ids.cls
    assert cold.headers["X-Model-Cold-Start"] == "true"
    assert warm.headers["X-Model-Cold-Start"] == "false"
    assert float(cold.headers["X-Model-Load-Time"]) > 0
    assert float(warm.headers["X-Model-Load-Time"]) == 0
    for response in (cold, warm):
        assert float(response.headers["X-Processing-Time"]) >= 0
        assert response.headers["X-Request-ID"]
    assert cold.headers["X-Request-ID"] != warm.headers["X-Request-ID"]


def test_an_alias_reports_the_store_id(http, model_ids, collage_b64):
    response = http.post("/infer/object_detection",
                         json={"model_id": model_ids.detector_alias, "image": image(collage_b64)})
    assert response.status_code == 200, response.text
    assert response.headers["X-Model-Id"] == model_ids.detector


def test_the_legacy_route_sends_model_headers(http, model_ids):
    response = http.post(f"/{model_ids.pose}", content=PIXEL, headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    assert response.headers["X-Model-Id"] == model_ids.pose
    assert response.headers["X-Model-Cold-Start"] in ("true", "false")


def test_a_given_request_id_is_echoed(http):
    response = http.get("/healthz", headers={"X-Request-ID": "trace-me-123"})
    assert response.headers["X-Request-ID"] == "trace-me-123"


def test_error_responses_carry_the_request_id_too(http):
    response = http.post("/infer/object_detection", json={"model_id": "no-such/1", "image": image(PIXEL)})
    assert response.status_code == 404
    assert response.headers["X-Request-ID"] and float(response.headers["X-Processing-Time"]) >= 0


# --------------------------------------------------------------------------------------- metrics

def test_metrics_count_requests_and_model_loads(http, model_ids):
    http.post("/model/clear")
    requests_before = samples(http, "argus_http_requests_total")
    loads_before = samples(http, "argus_model_loads_total")
    images_before = samples(http, "argus_inference_images_total")
    body = {"model_id": model_ids.seg, "image": image(PIXEL)}
    statuses = [http.post("/infer/instance_segmentation", json=body).status_code for _ in range(3)]
    missing = http.post("/infer/instance_segmentation", json={**body, "model_id": "no-such/1"}).status_code
    batch = http.post("/infer/instance_segmentation", json={**body, "image": [image(PIXEL)] * 2}).status_code
    assert statuses == [200, 200, 200] and missing == 404 and batch == 200
    requests_after = samples(http, "argus_http_requests_total")
    route = "/infer/instance_segmentation"

    def delta(status: str) -> float:
        return (labelled(requests_after, route=route, method="POST", status=status)
                - labelled(requests_before, route=route, method="POST", status=status))

    assert delta("200") == 4 and delta("404") == 1
    loads = samples(http, "argus_model_loads_total")
    assert labelled(loads, model=model_ids.seg) - labelled(loads_before, model=model_ids.seg) == 1
    images = samples(http, "argus_inference_images_total")
    assert labelled(images, model=model_ids.seg) - labelled(images_before, model=model_ids.seg) == 5
    assert samples(http, "argus_models_loaded") == {(): 1.0}


def test_an_error_response_is_counted_and_tagged(launch_server, model_ids):
    server = launch_server(name="metrics")
    try:
        with server.client() as client:
            response = client.post(f"/{model_ids.pose}?max_detections=abc", content=PIXEL,
                                   headers={"Content-Type": "text/plain"})
        with server.client() as client:
            counted = samples(client, "argus_http_requests_total")
        assert response.headers.get("X-Request-ID")
        assert labelled(counted, route="/{dataset_id}/{version_id}", status=str(response.status_code)) == 1
    finally:
        server.stop()


# -------------------------------------------------------------------------------------- registry

def test_the_registry_has_the_reference_shape(http, model_ids):
    http.post("/model/clear")
    for model_id in (model_ids.detector_alias, model_ids.seg, model_ids.pose, model_ids.cls):
        assert http.post("/model/add", json={"model_id": model_id}).status_code == 200
    body = http.get("/model/registry").json()
    assert set(body) == {"models"} | REGISTRY_NULL_KEYS
    assert all(body[key] is None for key in REGISTRY_NULL_KEYS)
    entries = {entry["model_id"]: entry for entry in body["models"]}
    # the zoo alias gets its own entry: inference_sdk matches registry entries on model_id alone
    assert set(entries) == {model_ids.detector, model_ids.seg, model_ids.pose, model_ids.cls, "yolov3-tiny-416"}
    for entry in entries.values():
        assert set(entry) == REGISTRY_ENTRY_KEYS, entry
        assert entry["vram_bytes"] is None
        assert entry["batch_size"] is None or isinstance(entry["batch_size"], int)
    assert entries[model_ids.detector] == {
        "model_id": model_ids.detector, "task_type": "object-detection", "batch_size": None,
        "input_height": 416, "input_width": 416, "vram_bytes": None,
        "request_aliases": [model_ids.detector_alias],
        "request_paths": [f"/{model_ids.detector}", "/infer/object_detection"],
    }
    expected = {model_ids.seg: ("instance-segmentation", "/infer/instance_segmentation"),
                model_ids.pose: ("keypoint-detection", "/infer/keypoints_detection"),
                model_ids.cls: ("classification", "/infer/classification")}
    for model_id, (task, route) in expected.items():
        entry = entries[model_id]
        assert (entry["task_type"], entry["input_height"], entry["input_width"]) == (task, 64, 64)
        assert entry["request_aliases"] == [] and entry["request_paths"] == [f"/{model_id}", route]
    removed = http.post("/model/remove", json={"model_id": model_ids.cls}).json()
    assert model_ids.cls not in [m["model_id"] for m in removed["models"]]
    assert_client_error(http.post("/model/remove", json={"model_id": model_ids.cls}), 404, model_ids.cls)
    assert http.post("/model/clear").json() == {"models": [], **{key: None for key in REGISTRY_NULL_KEYS}}


def test_info_healthz_and_readiness_shapes(http):
    info = http.get("/info").json()
    # The reference's keys, plus the onnxruntime build and its providers.
    assert set(info) == {"name", "version", "uuid", "onnxruntime", "execution_providers",
                         "unusable_execution_providers"} and info["name"]
    assert info["execution_providers"][-1] == "CPUExecutionProvider"
    assert info["onnxruntime"] == f"onnxruntime {__import__('onnxruntime').__version__}"
    assert http.get("/healthz").json() == {"status": "healthy"}
    assert http.get("/readiness").json() == {"status": "ready"}


def test_preloaded_models_are_loaded_before_ready(launch_server, model_ids):
    server = launch_server({"ARGUS_PRELOAD_MODELS": f"{model_ids.cls},{model_ids.broken}"}, name="preload")
    try:
        with server.client() as client:
            deadline = time.monotonic() + 60
            while (ready := client.get("/readiness")).json() == {"status": "not ready"} and \
                    time.monotonic() < deadline:
                time.sleep(0.1)
            assert ready.status_code == 503, server.log()[-3000:]  # a preload failed: not ready, and says why
            body = ready.json()
            assert body["status"] == "preload failed"
            assert "corrupt" in body["preload_errors"][model_ids.broken]
            registry = client.get("/model/registry").json()
            assert [m["model_id"] for m in registry["models"]] == [model_ids.cls]
            warm = client.post("/infer/classification", json={"model_id": model_ids.cls, "image": image(PIXEL)})
            assert warm.headers["X-Model-Cold-Start"] == "false"
    finally:
        server.stop()
    assert server.process.returncode is not None
