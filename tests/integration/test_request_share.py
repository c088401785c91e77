"""One request cannot take the server: many images or many pixels are refused up front (413), decoded memory
is bounded across requests (503 + Retry-After), while an ordinary request beside them gets its 200."""

from __future__ import annotations

import base64
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import cv2
import httpx
import numpy as np
import pytest


def png_b64(width: int, height: int) -> str:
    canvas = np.full((height, width, 3), 90, np.uint8)
    canvas[: height // 2] = 200  # two flat halves: a large image that compresses to a few kB
    ok, data = cv2.imencode(".png", canvas)
    assert ok
    return base64.b64encode(data.tobytes()).decode()


def body(model_id: str, images: list[str]) -> dict[str, Any]:
    return {"model_id": model_id, "image": [{"type": "base64", "value": value} for value in images]}


@pytest.fixture(scope="module")
def large() -> str:
    return png_b64(8900, 8900)  # 79.2 M pixels: under the per-image limit


def test_2000_images_and_8_large_images_are_refused_while_an_ordinary_request_is_served(
        live_server: Any, model_ids: Any, large: str, collage_b64: str) -> None:
    many = body(model_ids.detector, [png_b64(2, 2)] * 2000)
    heavy = body(model_ids.detector, [large] * 8)
    ordinary = {"model_id": model_ids.detector, "image": {"type": "base64", "value": collage_b64}}
    with live_server.client(timeout=120) as client, ThreadPoolExecutor(4) as pool:
        attacks = [pool.submit(client.post, "/infer/object_detection", json=payload) for payload in (many, heavy)]
        served = client.post("/infer/object_detection", json=ordinary)
        answers = [attack.result() for attack in attacks]
    assert served.status_code == 200 and served.json()["predictions"]
    assert answers[0].status_code == 413 and "ARGUS_MAX_IMAGES_PER_REQUEST" in answers[0].json()["message"]
    assert answers[1].status_code == 413 and "ARGUS_MAX_REQUEST_PIXELS" in answers[1].json()["message"]


def test_decoded_memory_is_bounded_across_requests(launch_server: Any, model_ids: Any, large: str,
                                                   collage_b64: str) -> None:
    """Four requests of two large images each (475 MB decoded, within their own share) against a 1000 MB decode
    budget and no wait: at most two decode at a time, the others get 503 with Retry-After, and a small request
    fits beside them."""
    server = launch_server({"ARGUS_DECODED_MEMORY_MB": "1000", "ARGUS_DECODE_WAIT_S": "0"}, name="decode-budget")
    pair = body(model_ids.detector, [large, large])
    ordinary = {"model_id": model_ids.detector, "image": {"type": "base64", "value": collage_b64}}
    with server.client(timeout=300) as client, ThreadPoolExecutor(4) as pool:
        heavy = [pool.submit(client.post, "/infer/object_detection", json=pair) for _ in range(4)]
        served = client.post("/infer/object_detection", json=ordinary)
        answers: list[httpx.Response] = [future.result() for future in heavy]
    assert served.status_code == 200
    statuses = sorted(answer.status_code for answer in answers)
    assert set(statuses) <= {200, 503} and 200 in statuses, statuses
    for refused in (answer for answer in answers if answer.status_code == 503):
        assert "ARGUS_DECODED_MEMORY_MB" in refused.json()["message"] and int(refused.headers["retry-after"]) >= 1
    server.stop()
