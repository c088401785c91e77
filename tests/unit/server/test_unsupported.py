"""Reference routes Argus lacks answer 501 with a message, not the legacy route's 404."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from argus.server.app import create_app
from argus.server.routes.unsupported import UNSUPPORTED_GET, UNSUPPORTED_POST


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):
    from argus.settings import Settings

    with TestClient(create_app(Settings(home=tmp_path_factory.mktemp("home")))) as test_client:
        yield test_client


@pytest.mark.parametrize("path", ["/perception_encoder/embed_image", "/sam3/concept_segment", "/infer/lmm/florence-2/1",
                                  "/infer/semantic_segmentation", "/doctr/ocr", "/acme/workflows/w/describe_workload"])
def test_unimplemented_post_routes_answer_501(client: TestClient, path: str) -> None:
    response = client.post(path, json={"image": {"type": "base64", "value": "x"}})
    assert response.status_code == 501
    assert path in response.json()["message"] and "not implemented" in response.json()["message"]


def test_unimplemented_get_routes_answer_501(client: TestClient) -> None:
    response = client.get("/device/stats")
    assert response.status_code == 501 and "/metrics" in response.json()["message"]


def test_every_listed_route_is_reachable(client: TestClient) -> None:
    for path in UNSUPPORTED_POST:
        concrete = path.replace("{model_id:path}", "m/1").replace("{workspace_name}", "ws").replace("{workflow_id}", "w")
        assert client.post(concrete, json={}).status_code == 501, path
    for path in UNSUPPORTED_GET:
        assert client.get(path).status_code == 501, path


def test_implemented_two_segment_routes_still_reach_the_legacy_route(client: TestClient) -> None:
    response = client.post("/no-such-model/1", json={})
    assert response.status_code in (400, 404) and response.status_code != 501

