"""``/inference_pipelines`` on a real ``argus serve`` process, with httpx and with Roboflow's own
``inference_sdk`` (in its venv): results consumed over HTTP match the frames, pause/resume/terminate
on a live RTSP stream, errors, API keys, and the API being off by default."""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest
from sdk_venv import run_in_sdk

from photos import collage

sys.path.insert(0, str(Path(__file__).parents[1] / "unit" / "streams"))

from stream_videos import RtspServer, moving_square, write_video

pytestmark = pytest.mark.slow

STREAMS_ON = {"ARGUS_ENABLE_STREAM_API": "true", "ARGUS_ALLOW_PRIVATE_URLS": "true"}  # the RTSP server is loopback
PAN = 8
DETECTION_WORKFLOW = {
    "version": "1.0",
    "inputs": [{"type": "WorkflowImage", "name": "image"}],
    "steps": [{"type": "roboflow_core/roboflow_object_detection_model@v2", "name": "detector",
               "images": "$inputs.image", "model_id": "yolov3-tiny-416"}],
    "outputs": [{"type": "JsonField", "name": "predictions", "selector": "$steps.detector.predictions"}],
}


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def stream_server(launch_server: Any, media: Path) -> Any:
    return launch_server({**STREAMS_ON, "ARGUS_MEDIA_DIR": str(media)}, name="streams")


@pytest.fixture(scope="module")
def pan_clip(media: Path) -> Path:
    base = cv2.resize(collage(), (640, 360), interpolation=cv2.INTER_AREA)
    frames = []
    for i in range(10):
        canvas = np.full((400, 800, 3), 127, np.uint8)
        canvas[20:380, 8 + i * PAN:8 + i * PAN + 640] = base
        frames.append(canvas)
    return write_video(media / "pan.mp4", frames)


@pytest.fixture(scope="module")
def rtsp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RtspServer]:
    folder = tmp_path_factory.mktemp("http-rtsp")
    write_video(folder / "square.mp4", moving_square(50, speed=2), fps=25)
    with RtspServer(folder) as server:
        yield server


def model_payload(reference: str, **video: Any) -> dict[str, Any]:
    return {"video_configuration": {"type": "VideoConfiguration", "video_reference": reference, **video},
            "processing_configuration": {"type": "ModelConfiguration", "model_id": "yolov3-tiny-416"},
            "sink_configuration": {"type": "MemorySinkConfiguration", "results_buffer_size": 100}}


def boxes(predictions: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(p["class"], p["x"], p["y"], p["width"], p["height"]) for p in predictions]


def test_off_by_default(http: Any) -> None:
    response = http.get("/inference_pipelines/list")
    assert response.status_code == 403
    assert "ARGUS_ENABLE_STREAM_API" in response.json()["message"]


def test_results_consumed_over_http_match_the_frames(stream_server: Any, pan_clip: Path, zoo_manager: Any) -> None:
    with stream_server.client() as client:
        started = client.post("/inference_pipelines/initialise", json=model_payload(
            str(pan_clip), source_buffer_filling_strategy="WAIT", source_buffer_consumption_strategy="LAZY"))
        assert started.status_code == 200, started.text
        body = started.json()
        assert body["status"] == "success"
        pipeline_id = body["context"]["pipeline_id"]
        assert pipeline_id in client.get("/inference_pipelines/list").json()["pipelines"]
        outputs, metadata = [], []
        deadline = time.monotonic() + 120
        while len(outputs) < 10 and time.monotonic() < deadline:
            consumed = client.get(f"/inference_pipelines/{pipeline_id}/consume").json()
            outputs += consumed["outputs"]
            metadata += consumed["frames_metadata"]
            time.sleep(0.05 if consumed["outputs"] else 0.2)
        status = client.get(f"/inference_pipelines/{pipeline_id}/status").json()
        assert client.post(f"/inference_pipelines/{pipeline_id}/terminate").json()["status"] == "success"
        assert pipeline_id not in client.get("/inference_pipelines/list").json()["pipelines"]
        assert client.get(f"/inference_pipelines/{pipeline_id}/status").status_code == 404
    assert [m["frame_id"] for m in metadata] == list(range(1, 11))
    assert {m["source_id"] for m in metadata} == {0}
    assert all(dt.datetime.fromisoformat(m["frame_timestamp"]) for m in metadata)
    model = zoo_manager.get("yolov3-tiny-416")
    with av.open(str(pan_clip)) as container:
        decoded = [frame.to_ndarray(format="bgr24") for frame in container.decode(video=0)]
    for output, image in zip(outputs, decoded):
        assert boxes(output["predictions"]) == boxes(model.infer(image).to_roboflow()["predictions"])
    report = status["report"]
    assert report["sources_metadata"][0]["source_reference"] == str(pan_clip)
    assert {"video_source_status_updates", "latency_reports", "inference_throughput"} <= set(report)


def test_client_mistakes(stream_server: Any) -> None:
    with stream_server.client() as client:
        missing = client.post("/inference_pipelines/initialise", json=model_payload("no-such-clip.mp4"))
        assert missing.status_code == 400 and "not found" in missing.json()["message"]
        assert client.post("/inference_pipelines/initialise", json={"video_configuration": {}}).status_code == 422
        named = client.post("/inference_pipelines/initialise", json={
            "video_configuration": {"type": "VideoConfiguration", "video_reference": "x.mp4"},
            "processing_configuration": {"type": "WorkflowConfiguration", "workspace_name": "w", "workflow_id": "f"}})
        assert named.status_code == 501 and "workflow_specification" in named.json()["message"]
        assert client.get("/inference_pipelines/nope/status").status_code == 404
        assert client.post("/inference_pipelines/nope/terminate").status_code == 404
        assert client.get("/inference_pipelines/list").json()["pipelines"] == []


@pytest.mark.parametrize("reference", [
    "/etc/passwd", "{home}/argus.db", "file:///etc/passwd", "concat:/etc/passwd|/etc/hostname",
    "http://127.0.0.1:9/clip.mp4", "rtsp://localhost/stream", "http://169.254.169.254/latest/meta-data.mp4",
    "subfile:,start,0,end,0,:/etc/passwd", "../../etc/passwd"])
def test_sources_pass_the_same_guard_as_image_urls(guarded_server: Any, reference: str) -> None:
    """Stream API on, but no media folder and no private URLs (the defaults): nothing on the server is opened."""
    server = guarded_server
    with server.client() as client:
        refused = client.post("/inference_pipelines/initialise",
                              json=model_payload(reference.format(home=server.home)))
        assert refused.status_code == 403, refused.text
        assert any(word in refused.json()["message"] for word in ("ARGUS_MEDIA_DIR", "ARGUS_ALLOW_PRIVATE_URLS",
                                                                  "not allowed"))
        assert client.get("/inference_pipelines/list").json()["pipelines"] == []


@pytest.fixture(scope="module")
def guarded_server(launch_server: Any) -> Any:
    return launch_server({"ARGUS_ENABLE_STREAM_API": "true"}, name="streams-guarded")


SDK_SCRIPT = r'''
import json, os, time, warnings
warnings.simplefilter("ignore")
from inference_sdk import InferenceHTTPClient
client = InferenceHTTPClient(api_url=os.environ["URL"], api_key=os.environ.get("KEY", "unused"))
out = {}
started = client.start_inference_pipeline_with_workflow(
    video_reference=os.environ["STREAM"], workflow_specification=json.loads(os.environ["WORKFLOW"]))
pipeline_id = started["context"]["pipeline_id"]
out["started"] = started
out["listed"] = client.list_inference_pipelines()
consumed = {"outputs": []}
deadline = time.time() + 120
while not consumed["outputs"] and time.time() < deadline:
    consumed = client.consume_inference_pipeline_result(pipeline_id=pipeline_id)
    time.sleep(0.2)
out["consumed"] = consumed
out["running"] = client.get_inference_pipeline_status(pipeline_id=pipeline_id)
out["paused"] = client.pause_inference_pipeline(pipeline_id=pipeline_id)
out["status_paused"] = client.get_inference_pipeline_status(pipeline_id=pipeline_id)
out["resumed"] = client.resume_inference_pipeline(pipeline_id=pipeline_id)
out["status_resumed"] = client.get_inference_pipeline_status(pipeline_id=pipeline_id)
out["terminated"] = client.terminate_inference_pipeline(pipeline_id=pipeline_id)
out["listed_after"] = client.list_inference_pipelines()
print(json.dumps(out, default=str))
'''


def sources_state(status: dict[str, Any]) -> str:
    return str(status["report"]["sources_metadata"][0]["state"])


def test_inference_sdk_drives_a_workflow_pipeline_on_rtsp(stream_server: Any, rtsp: RtspServer) -> None:
    import json

    result = run_in_sdk(SDK_SCRIPT, {"URL": stream_server.url, "STREAM": rtsp.url("square.mp4"),
                                     "WORKFLOW": json.dumps(DETECTION_WORKFLOW)})
    pipeline_id = result["started"]["context"]["pipeline_id"]
    assert result["started"]["status"] == "success"
    assert result["listed"]["pipelines"] == [pipeline_id]
    consumed = result["consumed"]
    (output,) = consumed["outputs"]
    assert set(output) == {"predictions"}
    assert output["predictions"]["predictions"] == []  # a white square on black is no COCO object
    (metadata,) = consumed["frames_metadata"]
    assert metadata["source_id"] == 0 and metadata["frame_id"] >= 1
    assert sources_state(result["running"]) == "RUNNING"
    assert result["paused"]["status"] == "success"
    assert sources_state(result["status_paused"]) == "MUTED"  # the reference's pause mutes
    assert sources_state(result["status_resumed"]) == "RUNNING"
    assert result["terminated"]["status"] == "success"
    assert result["listed_after"]["pipelines"] == []


def test_api_keys_apply_to_the_sdk_calls(launch_server: Any, rtsp: RtspServer, model_ids: Any) -> None:
    import json

    server = launch_server({**STREAMS_ON, "ARGUS_API_KEYS": model_ids.api_key}, name="streams-secured")
    with server.client() as client:
        assert client.get("/inference_pipelines/list").status_code == 401
        assert client.request("GET", "/inference_pipelines/list", json={"api_key": "wrong"}).status_code == 401
    result = run_in_sdk(SDK_SCRIPT, {"URL": server.url, "KEY": model_ids.api_key, "STREAM": rtsp.url("square.mp4"),
                                     "WORKFLOW": json.dumps(DETECTION_WORKFLOW)})
    assert result["terminated"]["status"] == "success"
    server.stop()
