"""Bad requests against a real server: each gets the right 4xx with a helpful message, never a 500.

Most cases go to the session's ``live_server``; the last test checks that after all of them it
still answers and still finds the cat, and that its log records no unhandled error. Cases that
need other settings (a 200 kB body limit, private URLs allowed) or that once ended in a 500 (legacy
query parsing, stroke width) go to a separate ``scratch_server`` so a regression there cannot
spoil that check.
"""

from __future__ import annotations

import base64
import http.server
import json
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest

BODY_LIMIT = 200_000


# --------------------------------------------------------------------------------- payloads

def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_header_bomb(width: int = 30_000, height: int = 30_000) -> bytes:
    """A valid PNG signature and IHDR claiming ``width x height`` RGB, then a tiny IDAT: ~70 bytes."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(b"\x00" * 16))
            + png_chunk(b"IEND", b""))


def one_pixel_png() -> bytes:
    ok, data = cv2.imencode(".png", np.full((1, 1, 3), 200, np.uint8))
    assert ok
    return data.tobytes()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def image(value: Any, kind: str = "base64") -> dict[str, Any]:
    return {"type": kind, "value": value}


PIXEL = b64(one_pixel_png())


def assert_client_error(response: httpx.Response, status: int, *words: str) -> str:
    """``status`` with a JSON ``{"message": ...}`` body that mentions each of ``words`` (any case)."""
    assert response.status_code == status, (response.status_code, response.text[:1000])
    body = response.json()
    message = body.get("message")
    assert isinstance(message, str) and len(message) > 10, body
    for word in words:
        assert word.lower() in message.lower(), (word, message)
    return message


# --------------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def scratch_server(launch_server: Callable[..., Any]) -> Iterator[Any]:
    """A second server over the same store: 200 kB body limit, private image URLs allowed."""
    server = launch_server({"ARGUS_MAX_BODY_BYTES": str(BODY_LIMIT), "ARGUS_ALLOW_PRIVATE_URLS": "true"},
                           name="scratch")
    yield server
    server.stop()


@pytest.fixture
def scratch(scratch_server: Any) -> Iterator[httpx.Client]:
    with scratch_server.client() as client:
        yield client


@pytest.fixture(scope="module")
def image_host(collage_jpg: Path) -> Iterator[str]:
    """A local HTTP server with ``/collage.jpg``; anything else is a 404."""
    payload = collage_jpg.read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/collage.jpg":
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            else:
                self.send_error(404)

        def log_message(self, *args: Any) -> None:
            pass

    host = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=host.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{host.server_address[1]}"
    host.shutdown()
    host.server_close()


# ------------------------------------------------------------------------------- image input

def test_malformed_base64_is_400(http, model_ids):
    response = http.post("/infer/object_detection",
                         json={"model_id": model_ids.detector, "image": image("!!!not*base64***")})
    assert_client_error(response, 400, "could not load input image", "base64")


def test_a_text_file_as_image_is_400(http, model_ids):
    text = b"name,value\ncat,1\nthis is a CSV file, not a picture\n"
    response = http.post("/infer/object_detection", json={"model_id": model_ids.detector, "image": image(b64(text))})
    assert_client_error(response, 400, "could not load input image", "not an image")


def test_a_truncated_jpeg_is_400(http, model_ids, collage_jpg):
    cut = collage_jpg.read_bytes()[:3000]
    response = http.post("/infer/object_detection", json={"model_id": model_ids.detector, "image": image(b64(cut))})
    assert_client_error(response, 400, "could not load input image")


@pytest.mark.parametrize("route,model", [("object_detection", "detector"), ("instance_segmentation", "seg"),
                                         ("keypoints_detection", "pose"), ("classification", "cls")])
def test_a_one_pixel_png_is_not_an_error(http, model_ids, route, model):
    response = http.post(f"/infer/{route}", json={"model_id": getattr(model_ids, model), "image": image(PIXEL)})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["image"] == {"width": 1, "height": 1}
    assert isinstance(body["predictions"], list)


def test_a_png_header_bomb_is_413_before_decoding(http, model_ids):
    bomb = png_header_bomb()
    assert len(bomb) < 200
    response = http.post("/infer/object_detection", json={"model_id": model_ids.detector, "image": image(b64(bomb))})
    assert_client_error(response, 413, "30000x30000", "ARGUS_MAX_IMAGE_PIXELS")


def test_a_batch_with_one_bad_image_is_400(http, model_ids, collage_b64):
    response = http.post("/infer/object_detection", json={
        "model_id": model_ids.detector, "image": [image(collage_b64), image("%%%")]})
    assert_client_error(response, 400, "could not load input image")


def test_an_empty_image_list_is_400(http, model_ids):
    response = http.post("/infer/object_detection", json={"model_id": model_ids.detector, "image": []})
    assert_client_error(response, 400, "empty")


def test_numpy_input_is_403_when_disabled(http, model_ids):
    pickled = b64(np.zeros((2, 2, 3), np.uint8).dumps())
    response = http.post("/infer/object_detection",
                         json={"model_id": model_ids.detector, "image": image(pickled, "numpy")})
    assert_client_error(response, 403, "numpy", "disabled")


def test_file_input_is_400(http, model_ids):
    response = http.post("/infer/object_detection",
                         json={"model_id": model_ids.detector, "image": image("/etc/passwd", "file")})
    message = assert_client_error(response, 400, "file", "base64")
    assert "root:" not in message


# ---------------------------------------------------------------------------------- model ids

def test_an_unknown_model_is_404(http, model_ids):
    response = http.post("/infer/object_detection", json={"model_id": "no-such-model/7", "image": image(PIXEL)})
    assert_client_error(response, 404, "no-such-model/7")


@pytest.mark.parametrize("model_id", ["../1", "../../etc/passwd", "coco/..", "..%2F..%2Fetc/1", "a/../b",
                                      "/etc/passwd", "coco\\..\\x/1"])
def test_path_traversal_in_a_model_id_is_400(http, model_id):
    response = http.post("/infer/object_detection", json={"model_id": model_id, "image": image(PIXEL)})
    assert_client_error(response, 400, "model id")


@pytest.mark.parametrize("route", ["/model/add", "/model/remove"])
def test_path_traversal_in_model_management_is_400(http, route):
    assert_client_error(http.post(route, json={"model_id": "../1"}), 400, "model id")


def test_path_traversal_on_the_legacy_route_is_400(http):
    response = http.post("/%2e%2e/1", content=PIXEL, headers={"Content-Type": "application/json"})
    assert_client_error(response, 400, "model id")


def test_the_wrong_task_route_is_400(http, model_ids):
    response = http.post("/infer/object_detection", json={"model_id": model_ids.cls, "image": image(PIXEL)})
    assert_client_error(response, 400, "classification", "/infer/classification")


def test_a_detector_on_the_keypoints_route_is_400(http, model_ids):
    response = http.post("/infer/keypoints_detection", json={"model_id": model_ids.detector, "image": image(PIXEL)})
    assert_client_error(response, 400, "object-detection", "/infer/object_detection")


# ---------------------------------------------------------------------------------- parameters

@pytest.mark.parametrize("field,value,route,model", [
    ("confidence", -0.1, "object_detection", "detector"),
    ("confidence", 1.5, "object_detection", "detector"),
    ("iou_threshold", 2, "object_detection", "detector"),
    ("confidence", 1.5, "classification", "cls"),
    ("confidence", "high", "object_detection", "detector"),
    ("max_detections", 0, "object_detection", "detector"),
    ("keypoint_confidence", 5, "keypoints_detection", "pose"),
])
def test_out_of_range_parameters_are_400(http, model_ids, field, value, route, model):
    response = http.post(f"/infer/{route}",
                         json={"model_id": getattr(model_ids, model), "image": image(PIXEL), field: value})
    assert_client_error(response, 400, field)


def test_nan_confidence_is_400(http, model_ids):
    body = json.dumps({"model_id": model_ids.detector, "image": image(PIXEL)})[:-1] + ', "confidence": NaN}'
    response = http.post("/infer/object_detection", content=body, headers={"Content-Type": "application/json"})
    assert_client_error(response, 400, "confidence")


def test_a_missing_model_id_is_422(http):
    response = http.post("/infer/object_detection", json={"image": image(PIXEL)})
    assert_client_error(response, 422, "model_id")


def test_a_body_that_is_not_json_is_422(http):
    response = http.post("/infer/object_detection", content=b"{not json",
                         headers={"Content-Type": "application/json"})
    assert_client_error(response, 422, "json")


# ----------------------------------------------------------------------------------- URLs (SSRF)

@pytest.mark.parametrize("url", [
    "http://127.0.0.1:{port}/x.jpg",
    "http://169.254.169.254/latest/meta-data",
    "http://localhost:{port}/x.jpg",
    "http://[::1]:{port}/x.jpg",
    "http://10.0.0.1/x.jpg",
    "http://2130706433/x.jpg",  # 127.0.0.1 as one decimal number
])
def test_private_loopback_and_link_local_urls_are_refused(http, live_server, model_ids, url):
    url = url.format(port=live_server.port)
    response = http.post("/infer/object_detection", json={"model_id": model_ids.detector, "image": image(url, "url")})
    message = assert_client_error(response, 400)
    assert any(word in message.lower() for word in ("private", "loopback", "link-local")), message


def test_a_private_url_on_the_legacy_route_is_refused(http, live_server, model_ids):
    response = http.post(f"/{model_ids.detector}",
                         params={"image": "http://169.254.169.254/latest/meta-data/iam"})
    assert_client_error(response, 400, "link-local")


def test_a_non_http_url_is_400(http, model_ids):
    response = http.post("/infer/object_detection",
                         json={"model_id": model_ids.detector, "image": image("file:///etc/passwd", "url")})
    assert_client_error(response, 400, "http")


def test_urls_work_where_private_addresses_are_allowed(scratch, image_host, model_ids):
    response = scratch.post("/infer/object_detection", json={
        "model_id": model_ids.detector, "image": image(f"{image_host}/collage.jpg", "url")})
    assert response.status_code == 200, response.text
    assert "cat" in [p["class"] for p in response.json()["predictions"]]
    missing = scratch.post("/infer/object_detection", json={
        "model_id": model_ids.detector, "image": image(f"{image_host}/missing.jpg", "url")})
    assert_client_error(missing, 400, "404")


# ------------------------------------------------------------------------------------ body size

def test_a_body_over_the_limit_is_413(scratch, model_ids):
    response = scratch.post("/infer/object_detection",
                            json={"model_id": model_ids.detector, "image": image("A" * (BODY_LIMIT + 1000))})
    assert_client_error(response, 413, "ARGUS_MAX_BODY_BYTES")


def test_a_body_over_the_limit_on_the_legacy_route_is_413(scratch, model_ids):
    response = scratch.post(f"/{model_ids.detector}", content=b"A" * (BODY_LIMIT + 1000),
                            headers={"Content-Type": "application/json"})
    assert_client_error(response, 413, "ARGUS_MAX_BODY_BYTES")


def _chunked(data: bytes, size: int = 65536) -> Callable[[], Iterator[bytes]]:
    def generate() -> Iterator[bytes]:
        for start in range(0, len(data), size):
            yield data[start:start + size]
    return generate


def test_a_chunked_body_over_the_limit_on_the_legacy_route_is_413(scratch, model_ids):
    response = scratch.post(f"/{model_ids.detector}", content=_chunked(b"A" * (BODY_LIMIT * 2))(),
                            headers={"Content-Type": "application/json"})
    assert_client_error(response, 413, "ARGUS_MAX_BODY_BYTES")


def test_a_chunked_json_body_over_the_limit_is_413(scratch, model_ids):
    body = json.dumps({"model_id": model_ids.detector, "image": image("A" * (BODY_LIMIT * 2))}).encode()
    response = scratch.post("/infer/object_detection", content=_chunked(body)(),
                            headers={"Content-Type": "application/json"})
    assert_client_error(response, 413, "ARGUS_MAX_BODY_BYTES")


def test_a_small_request_passes_the_body_limit(scratch, model_ids):
    response = scratch.post("/infer/classification", json={"model_id": model_ids.cls, "image": image(PIXEL)})
    assert response.status_code == 200, response.text
    assert response.json()["top"] == "cat"


# ---------------------------------------------------------------------------------- legacy route

def test_the_legacy_route_without_content_type_is_400(http, model_ids):
    request = http.build_request("POST", f"/{model_ids.detector}", content=PIXEL.encode())
    request.headers.pop("Content-Type", None)  # httpx adds none for raw bytes; make sure
    response = http.send(request)
    assert_client_error(response, 400, "content-type")


def test_the_legacy_route_with_an_empty_body_is_400(http, model_ids):
    response = http.post(f"/{model_ids.detector}", content=b"", headers={"Content-Type": "application/json"})
    assert_client_error(response, 400, "empty")


def test_the_legacy_route_multipart_without_a_file_part_is_400(http, model_ids):
    response = http.post(f"/{model_ids.detector}", files={"picture": ("x.png", one_pixel_png(), "image/png")})
    assert_client_error(response, 400, "file")


@pytest.mark.parametrize("query,word", [("format=xml", "format"), ("confidence=abc", "confidence"),
                                        ("overlap=250", "iou_threshold"),
                                        ("mask_decode_mode=weird", "mask_decode_mode")])
def test_bad_legacy_query_parameters_are_400(http, model_ids, query, word):
    response = http.post(f"/{model_ids.seg}?{query}", content=PIXEL, headers={"Content-Type": "application/json"})
    assert_client_error(response, 400, word)


@pytest.mark.parametrize("query", ["max_detections=abc", "keypoint_confidence=abc", "stroke=abc"])
def test_non_numeric_legacy_query_parameters_are_400(scratch, model_ids, query):
    response = scratch.post(f"/{model_ids.pose}?{query}", content=PIXEL, headers={"Content-Type": "text/plain"})
    assert_client_error(response, 400, query.split("=")[0])


def test_an_absurd_stroke_width_is_400(scratch, model_ids):
    response = scratch.post("/infer/object_detection", json={
        "model_id": model_ids.seg, "image": image(PIXEL), "visualize_predictions": True,
        "visualization_stroke_width": 10**9})
    assert_client_error(response, 422, "stroke")  # a schema bound: 422 like every schema error


# ------------------------------------------------------------------------------ a corrupt model

def test_a_corrupt_model_file_is_422_and_says_so(http, model_ids):
    response = http.post("/infer/classification", json={"model_id": model_ids.broken, "image": image(PIXEL)})
    assert_client_error(response, 422, "corrupt", model_ids.broken)
    legacy = http.post(f"/{model_ids.broken}", content=PIXEL, headers={"Content-Type": "application/json"})
    assert_client_error(legacy, 422, "corrupt")
    added = http.post("/model/add", json={"model_id": model_ids.broken})
    assert_client_error(added, 422, "corrupt")
    registry = http.get("/model/registry").json()
    assert model_ids.broken not in [m["model_id"] for m in registry["models"]]
    fine = http.post("/infer/classification", json={"model_id": model_ids.cls, "image": image(PIXEL)})
    assert fine.status_code == 200 and fine.json()["top"] == "cat"


# ---------------------------------------------------------------------------------- afterwards

def test_after_all_that_the_server_is_healthy_and_still_right(live_server, http, model_ids, collage_b64):
    """Runs last in this module: the server survived every bad request and logged no unhandled error."""
    assert live_server.alive
    assert http.get("/healthz").json() == {"status": "healthy"}
    response = http.post("/infer/object_detection", json={"model_id": model_ids.detector,
                                                          "image": image(collage_b64)})
    assert response.status_code == 200, response.text
    assert {"cat", "motorbike"} <= {p["class"] for p in response.json()["predictions"]}
    log = live_server.log()
    assert "unhandled error" not in log and "Exception in ASGI application" not in log, log[-5000:]


@pytest.mark.parametrize("content_type", ["image/jpeg", "application/octet-stream", "application/x-www-form-urlencoded"])
def test_the_legacy_route_takes_raw_image_bytes(http, model_ids, collage_jpg, content_type):
    raw = collage_jpg.read_bytes()
    as_bytes = http.post(f"/{model_ids.detector}", content=raw, headers={"Content-Type": content_type})
    as_base64 = http.post(f"/{model_ids.detector}", content=base64.b64encode(raw),
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert as_bytes.status_code == as_base64.status_code == 200, as_bytes.text
    strip = [{k: v for k, v in p.items() if k != "detection_id"} for p in as_bytes.json()["predictions"]]
    assert strip and strip == [{k: v for k, v in p.items() if k != "detection_id"}
                               for p in as_base64.json()["predictions"]]


def test_the_legacy_route_reports_a_cold_start(scratch, model_ids, collage_jpg):
    scratch.post("/model/clear")
    cold = scratch.post(f"/{model_ids.cls}", content=collage_jpg.read_bytes(), headers={"Content-Type": "image/jpeg"})
    warm = scratch.post(f"/{model_ids.cls}", content=collage_jpg.read_bytes(), headers={"Content-Type": "image/jpeg"})
    assert cold.headers["X-Model-Cold-Start"] == "true" and float(cold.headers["X-Model-Load-Time"]) > 0
    assert warm.headers["X-Model-Cold-Start"] == "false"
