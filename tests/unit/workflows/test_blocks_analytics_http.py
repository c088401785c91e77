"""Tracking and line counting end to end over HTTP: the zoo detector on a synthetic video of real cats.

Two copies of a real photo (scikit-image's cat) slide in opposite directions across a 800x400
grey frame, 30 px per frame, in separate lanes; the counting line is x = 400. The request sends
the 19 frames as one batch (stateful blocks keep state per compiled workflow, i.e. per request),
each with video metadata. Known motion: the upper cat crosses left -> right once, the lower cat
right -> left once; nothing else moves, so the counts are exactly (in 1, out 1).
"""

from __future__ import annotations

import base64

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from argus.server.app import create_app
from photos import read_bgr

FRAMES = 19
STEP = 30
CAT_W, CAT_H = 225, 150


def frames() -> list[np.ndarray]:
    cat = cv2.resize(read_bgr("chelsea.png"), (CAT_W, CAT_H))
    out = []
    for f in range(FRAMES):
        image = np.full((400, 800, 3), 128, np.uint8)
        upper = 10 + STEP * f        # left edge: 10 .. 550
        lower = 565 - STEP * f       # left edge: 565 .. 25
        image[20:20 + CAT_H, upper:upper + CAT_W] = cat
        image[230:230 + CAT_H, lower:lower + CAT_W] = cat
        out.append(image)
    return out


def as_input(image: np.ndarray, number: int) -> dict:
    png = cv2.imencode(".png", image)[1].tobytes()
    return {"type": "base64", "value": base64.b64encode(png).decode(),
            "video_metadata": {"video_identifier": "synthetic", "frame_number": number, "fps": 10,
                               "comes_from_video_file": True}}


DEFINITION = {
    "version": "1.0",
    "inputs": [{"type": "WorkflowImage", "name": "image"}],
    "steps": [
        {"type": "roboflow_core/roboflow_object_detection_model@v2", "name": "detector", "images": "$inputs.image",
         "model_id": "yolov3-tiny-416", "confidence": 0.5},
        {"type": "roboflow_core/byte_tracker@v3", "name": "tracker", "image": "$inputs.image",
         "detections": "$steps.detector.predictions"},
        {"type": "roboflow_core/line_counter@v2", "name": "counter", "image": "$inputs.image",
         "detections": "$steps.tracker.tracked_detections", "line_segment": [[400, 0], [400, 400]]},
        {"type": "roboflow_core/line_counter_visualization@v1", "name": "line", "image": "$inputs.image",
         "zone": [[400, 0], [400, 400]], "count_in": "$steps.counter.count_in",
         "count_out": "$steps.counter.count_out"},
    ],
    "outputs": [
        {"type": "JsonField", "name": "count_in", "selector": "$steps.counter.count_in"},
        {"type": "JsonField", "name": "count_out", "selector": "$steps.counter.count_out"},
        {"type": "JsonField", "name": "tracked", "selector": "$steps.tracker.tracked_detections"},
        {"type": "JsonField", "name": "line", "selector": "$steps.line.image"},
    ],
}


@pytest.fixture(scope="module")
def client(zoo_settings, zoo_manager):
    with TestClient(create_app(zoo_settings, zoo_manager)) as test_client:
        yield test_client


def test_tracking_and_line_counting_over_http_count_exactly(client) -> None:
    body = {"specification": DEFINITION,
            "inputs": {"image": [as_input(image, n) for n, image in enumerate(frames())]}}
    response = client.post("/workflows/run", json=body)
    assert response.status_code == 200, response.text
    outputs = response.json()["outputs"]
    assert len(outputs) == FRAMES
    counts = [(o["count_in"], o["count_out"]) for o in outputs]
    assert counts[-1] == (1, 1)
    # Each cat is counted once, when its box has fully passed x = 400: about frame 13-14 for both
    # (left edge 10+30f > 400 from f=13.x; right edge 790-30f < 400 from f=13.x); detector boxes hug
    # the pasted photo within a few pixels, so the count may land one frame either side.
    first_in = next(i for i, c in enumerate(counts) if c[0] == 1)
    first_out = next(i for i, c in enumerate(counts) if c[1] == 1)
    assert 12 <= first_in <= 15 and 12 <= first_out <= 15
    assert counts[:12] == [(0, 0)] * 12
    # Two tracks, ids 1 and 2 in this video, from the second frame on; classes from the real detector.
    for output in outputs[1:]:
        tracked = output["tracked"]["predictions"]
        assert sorted(p["tracker_id"] for p in tracked) == [1, 2]
        assert {p["class"] for p in tracked} == {"cat"}
    assert outputs[-1]["line"]["type"] == "base64"
