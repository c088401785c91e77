"""The /inference_pipelines routes in-process: switches, keys read from GET bodies, request mistakes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from argus.server.app import create_app
from argus.settings import Settings


def client(tmp_path: Path, **settings: object) -> TestClient:
    return TestClient(create_app(Settings(home=tmp_path / "home", **settings)))


@pytest.fixture
def api(tmp_path: Path) -> Iterator[TestClient]:
    (tmp_path / "media").mkdir()
    with client(tmp_path, enable_stream_api=True, media_dir=tmp_path / "media") as test_client:
        yield test_client


def test_off_unless_enabled(tmp_path: Path) -> None:
    with client(tmp_path) as off:
        response = off.get("/inference_pipelines/list")
    assert response.status_code == 403
    assert "ARGUS_ENABLE_STREAM_API=true" in response.json()["message"]


def test_one_worker_only(tmp_path: Path) -> None:
    with client(tmp_path, enable_stream_api=True, workers=2) as several:
        response = several.get("/inference_pipelines/list")
    assert response.status_code == 501
    assert "--workers 1" in response.json()["message"]


def test_list_is_the_reference_shape(api: TestClient) -> None:
    body = api.get("/inference_pipelines/list").json()
    assert body["status"] == "success" and body["pipelines"] == []
    assert set(body["context"]) == {"request_id", "pipeline_id"}


def test_keys_are_read_from_the_json_body_of_get_requests(tmp_path: Path) -> None:
    with client(tmp_path, enable_stream_api=True, api_keys=["k1"]) as secured:
        assert secured.get("/inference_pipelines/list").status_code == 401
        assert secured.request("GET", "/inference_pipelines/list", json={"api_key": "nope"}).status_code == 401
        assert secured.request("GET", "/inference_pipelines/list", json={"api_key": "k1"}).status_code == 200
        assert secured.get("/inference_pipelines/list", headers={"Authorization": "Bearer k1"}).status_code == 200


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"video_configuration": {"type": "VideoConfiguration", "video_reference": "no-such.mp4"},
      "processing_configuration": {"type": "ModelConfiguration", "model_id": "m/1"}}, 400, "video file not found"),
    ({"video_configuration": {"type": "VideoConfiguration", "video_reference": "rtsp://cam/1"},
      "processing_configuration": {"type": "WorkflowConfiguration", "workspace_name": "w", "workflow_id": "f"}},
     501, "workflow_specification"),
    ({"video_configuration": {"type": "VideoConfiguration", "video_reference": "rtsp://cam/1"},
      "processing_configuration": {"type": "Other"}}, 422, "processing_configuration"),
    ({"video_configuration": {"type": "VideoConfiguration", "video_reference": "rtsp://cam/1", "max_fps": 0},
      "processing_configuration": {"type": "ModelConfiguration", "model_id": "m/1"}}, 422, "max_fps"),
])
def test_initialise_mistakes_answer_without_starting_a_process(api: TestClient, body: dict, status: int,
                                                                message: str) -> None:
    response = api.post("/inference_pipelines/initialise", json=body)
    assert response.status_code == status
    assert message in response.json()["message"]
    assert api.get("/inference_pipelines/list").json()["pipelines"] == []


def test_consume_body_mistakes_and_unknown_ids(api: TestClient) -> None:
    assert api.request("GET", "/inference_pipelines/x/consume", content=b"{oops").status_code == 400
    assert api.request("GET", "/inference_pipelines/x/consume", json={"excluded_fields": 3}).status_code == 400
    for method, path in [("GET", "status"), ("GET", "consume"), ("POST", "pause"), ("POST", "resume"),
                         ("POST", "terminate")]:
        response = api.request(method, f"/inference_pipelines/unknown/{path}")
        assert response.status_code == 404, path
        assert "unknown" in response.json()["message"]
