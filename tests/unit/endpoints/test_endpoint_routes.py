"""The control-plane routes inside the real app (in-process, real SQLite, no replica started): wiring, route
precedence over the OIP and legacy routes, who may call, and the answers to bad requests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from argus.server.app import create_app
from argus.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), client=("127.0.0.1", 50000)) as local:
        yield local


def test_an_empty_namespace_lists_nothing(client: TestClient):
    response = client.get("/v2/endpoint/acme")
    assert response.status_code == 200 and response.json() == {"items": []}


def test_endpoint_routes_win_over_oip_and_legacy_routes(client: TestClient):
    missing = client.post("/endpoints/acme/nothing/infer/object_detection", json={})
    assert missing.status_code == 404
    assert missing.json() == {"message": "No endpoint 'nothing' in namespace 'acme'."}
    assert client.get("/v2/endpoint/acme/nothing").json() == {"message": "No endpoint 'nothing' in namespace 'acme'."}
    assert client.get("/v2/health/live").status_code == 200
    assert "error" in client.get("/v2/models/nothing").json()  # OIP errors keep their own shape


@pytest.mark.parametrize(("body", "status", "fragment"), [
    ({"name": "cams", "model": {"repository": "nope/1"}}, 404, "neither in the model store nor a zoo alias"),
    ({"name": "Cams", "model": {"repository": "nope/1"}}, 400, "name"),
    ({"model": {"repository": "nope/1"}}, 400, "name: Field required"),
    ([1, 2], 400, "JSON object"),
])
def test_bad_creates_are_client_errors(client: TestClient, body: object, status: int, fragment: str):
    response = client.post("/v2/endpoint/acme", json=body)
    assert response.status_code == status
    assert fragment in response.json()["message"]


def test_bad_namespace_and_bad_json(client: TestClient):
    assert client.get("/v2/endpoint/..bad").status_code in (400, 404)
    response = client.post("/v2/endpoint/acme", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400 and "not valid JSON" in response.json()["message"]
    response = client.post("/v2/endpoint-keys/acme", json={"role": "root"})
    assert response.status_code == 400 and "role" in response.json()["message"]


def test_keys_show_their_secret_once(client: TestClient):
    created = client.post("/v2/endpoint-keys/acme", json={"name": "ci", "endpoints": ["cams"]})
    assert created.status_code == 201
    body = created.json()
    assert body["secret"].startswith("argus_") and body["endpoints"] == ["cams"] and body["role"] == "invoke"
    listed = client.get("/v2/endpoint-keys/acme").json()["items"]
    assert [k["id"] for k in listed] == [body["id"]] and "secret" not in listed[0]
    assert client.delete("/v2/endpoint-keys/acme/key_nope").status_code == 404
    audit = client.get("/v2/endpoint-audit/acme").json()["items"]
    assert [(e["action"], e["actor"], e["target"]) for e in audit] == [("key.create", "local", body["id"])]
    # Instants at the ends of the calendar (the fuzzer's): UTC of year 1 at +03:00 does not exist.
    for since in ("0001-01-01T01:03:00+03:00", "9999-12-31T23:00:00-03:00"):
        answer = client.get("/v2/endpoint-audit/acme", params={"since": since})
        assert answer.status_code == 200, answer.text
    assert len(client.get("/v2/endpoint-audit/acme", params={"since": "0001-01-01T01:03:00+03:00"}).json()["items"]) == 1


def test_an_open_server_takes_control_plane_calls_only_from_loopback(settings: Settings):
    with TestClient(create_app(settings), client=("203.0.113.5", 50000)) as remote:
        response = remote.get("/v2/endpoint/acme")
        assert response.status_code == 401 and "ARGUS_API_KEYS" in response.json()["message"]


def test_server_keys_are_needed_when_configured(tmp_path: Path):
    settings = Settings(home=tmp_path / "home", api_keys=["root"])
    with TestClient(create_app(settings)) as client:
        assert client.get("/v2/endpoint/acme").status_code == 401
        assert client.get("/v2/endpoint/acme", headers={"Authorization": "Bearer nope"}).status_code == 401
        assert client.get("/v2/endpoint/acme", headers={"Authorization": "Bearer root"}).status_code == 200


def test_without_the_controller_the_routes_say_why(tmp_path: Path):
    settings = Settings(home=tmp_path / "home", endpoints_enabled=False)
    with TestClient(create_app(settings)) as client:
        response = client.get("/v2/endpoint/acme")
        assert response.status_code == 501 and "ARGUS_ENDPOINTS_ENABLED" in response.json()["message"]
        assert client.post("/endpoints/acme/x/infer/classification", json={}).status_code == 501
    assert not (tmp_path / "home" / "argus.db").exists()


def test_a_ray_backend_without_a_cluster_says_what_to_set_and_the_rest_of_the_server_works(tmp_path: Path):
    settings = Settings(home=tmp_path / "home", endpoint_backend="ray")
    with TestClient(create_app(settings)) as client:
        response = client.get("/v2/endpoint/acme")
        assert response.status_code == 500
        message = response.json()["message"]
        assert "endpoint backend (ray) could not start" in message and "ARGUS_RAY_ADDRESS" in message
        assert "ARGUS_RAY_START" in message
        assert client.get("/info").status_code == 200
