"""A namespace admin key cannot change server capabilities, read server keys, or reach more than its model.

A real server with ``ARGUS_API_KEYS`` and custom Python on, real replica processes. The attacker holds an admin
key of namespace ``acme`` (what a team gets) and an invoke key granted one endpoint.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from test_endpoints_support import HOLD, build_store, image_body, replica_processes, spec, wait_for

NS = "acme"
SERVER_KEY = "server-key-0123456789"


@pytest.fixture(scope="module")
def server(launch_server: Callable[..., Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    root = tmp_path_factory.mktemp("isolation")
    live = launch_server({
        "ARGUS_MODELS_DIR": str(build_store(root / "models")), "ARGUS_DATABASE_URL": f"sqlite:///{root / 'argus.db'}",
        "ARGUS_API_KEYS": SERVER_KEY, "ARGUS_ALLOW_CUSTOM_PYTHON": "true", "ARGUS_ENABLE_STREAM_API": "true",
        "ARGUS_ALLOW_PRIVATE_URLS": "true", "ARGUS_INTRA_OP_THREADS": "1", "ARGUS_ENDPOINT_RECONCILE_INTERVAL_S": "0.2",
    }, name="isolation")
    live.database = root / "argus.db"
    yield live
    live.stop()


@pytest.fixture(scope="module")
def admin(server: Any) -> Iterator[httpx.Client]:
    """A client holding an admin key of the namespace (not a server key)."""
    with server.client(headers={"Authorization": f"Bearer {SERVER_KEY}"}) as root:
        created = root.post(f"/v2/endpoint-keys/{NS}", json={"name": "team-admin", "role": "admin"})
        assert created.status_code == 201, created.text
    with server.client(headers={"Authorization": f"Bearer {created.json()['secret']}"}) as client:
        yield client


@pytest.fixture(scope="module")
def endpoint(server: Any, admin: httpx.Client) -> Iterator[dict[str, Any]]:
    """An authenticated endpoint of tiny-cls/1 with one env variable and one secret, and an invoke key for it."""
    body = spec("cls", kind="private", min_replica=1)
    body["model"].update(env={"TEAM_SETTING": "on"}, secrets={"TEAM_TOKEN": "s3cret-value"})
    created = admin.post(f"/v2/endpoint/{NS}", json=body)
    assert created.status_code == 201, created.text
    key = admin.post(f"/v2/endpoint-keys/{NS}", json={"name": "app", "role": "invoke", "endpoints": ["cls"]})
    assert key.status_code == 201, key.text
    wait_for(lambda: admin.get(f"/v2/endpoint/{NS}/cls").json()["status"]["state"] == "running", "the replica")
    yield {"key": key.json()["secret"]}
    admin.delete(f"/v2/endpoint/{NS}/cls")


@pytest.mark.parametrize("variable", ["ARGUS_ALLOW_CUSTOM_PYTHON", "argus_enable_stream_api", "ARGUS_ALLOW_PRIVATE_URLS",
                                      "ARGUS_WORKFLOW_SINK_DIR", "ALLOW_CUSTOM_PYTHON_EXECUTION_IN_WORKFLOWS",
                                      "ENABLE_STREAM_API", "ARGUS_API_KEYS", "LD_PRELOAD", "PYTHONPATH", "HTTPS_PROXY"])
@pytest.mark.parametrize("where", ["env", "secrets"])
def test_a_spec_cannot_set_a_server_capability(admin: httpx.Client, variable: str, where: str) -> None:
    body = spec(f"cap-{where}")
    body["model"][where] = {variable: "true"}
    refused = admin.post(f"/v2/endpoint/{NS}", json=body)
    assert refused.status_code == 400, refused.text
    assert variable in refused.json()["message"]
    audit = admin.get(f"/v2/endpoint-audit/{NS}", params={"action": "endpoint.create.refused"}).json()
    entries = audit["items"] if isinstance(audit, dict) else audit
    assert any(variable in str(entry) and entry["actor"].startswith("key:") for entry in entries), entries


def test_an_update_cannot_set_one_either(admin: httpx.Client, endpoint: dict[str, Any]) -> None:
    refused = admin.put(f"/v2/endpoint/{NS}/cls", json={"model": {"env": {"ARGUS_ALLOW_NUMPY_INPUT": "true"}}})
    assert refused.status_code == 400 and "ARGUS_ALLOW_NUMPY_INPUT" in refused.json()["message"]


def test_another_namespace_is_refused_and_audited(admin: httpx.Client, server: Any) -> None:
    assert admin.post("/v2/endpoint/other", json=spec("x")).status_code == 403
    with server.client(headers={"Authorization": f"Bearer {SERVER_KEY}"}) as root:
        entries = root.get("/v2/endpoint-audit/other", params={"action": "endpoint.create.refused"}).json()
    entries = entries["items"] if isinstance(entries, dict) else entries
    assert entries and entries[0]["actor"].startswith("key:") and "may not manage" in entries[0]["detail"]["reason"]


def test_the_replica_runs_without_capabilities_or_server_keys(server: Any, endpoint: dict[str, Any]) -> None:
    (replica,) = replica_processes(server.process.pid, NS, "cls")
    environ = _environ(replica)
    assert environ["TEAM_SETTING"] == "on" and environ["TEAM_TOKEN"] == "s3cret-value"
    for switch in ("ARGUS_ALLOW_CUSTOM_PYTHON", "ARGUS_ENABLE_STREAM_API", "ARGUS_ALLOW_PRIVATE_URLS",
                   "ARGUS_ALLOW_NUMPY_INPUT"):
        assert environ[switch] == "false"
    assert SERVER_KEY not in "\n".join(f"{k}={v}" for k, v in environ.items())
    assert "ARGUS_DATABASE_URL" not in environ


def _environ(process: psutil.Process) -> dict[str, str]:
    return dict(item.split("=", 1) for item in Path(f"/proc/{process.pid}/environ").read_text().split("\0") if item)


ROUTES_OUTSIDE_THE_MODEL = [
    ("POST", "workflows/run", {"specification": {}}),
    ("POST", "model/add", {"model_id": "tiny-cls/2"}),
    ("POST", "model/clear", None),
    ("GET", "metrics", None),
    ("GET", "model/registry", None),
    ("POST", "tiny-cls/2", None),
    ("POST", "v2/models/tiny-cls/versions/2/infer", {"inputs": []}),
    ("GET", "v2/models/stats", None),
    ("POST", "v2/repository/index", None),
    ("GET", "inference_pipelines/list", None),
    ("POST", "infer/object_detection", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES_OUTSIDE_THE_MODEL)
def test_an_endpoint_exposes_its_model_and_nothing_else(server: Any, endpoint: dict[str, Any], method: str, path: str,
                                                        body: Any) -> None:
    with server.client(headers={"Authorization": f"Bearer {endpoint['key']}"}) as client:
        answer = client.request(method, f"/endpoints/{NS}/cls/{path}", json=body)
        assert answer.status_code == 403, answer.text
        assert "exposes only its model tiny-cls/1" in answer.json()["message"]
        ok = client.post(f"/endpoints/{NS}/cls/infer/classification", json=image_body(), headers=HOLD)
        assert ok.status_code == 200 and ok.json()["top"] == "cat"
        assert client.post(f"/endpoints/{NS}/cls/tiny-cls/1", content=_jpeg(),
                           headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 200


def _jpeg() -> bytes:
    import base64

    return base64.b64encode(base64.b64decode(image_body()["image"]["value"]))


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/model/clear", None), ("POST", "/workflows/run", {"specification": {}}), ("GET", "/metrics", None),
    ("GET", "/inference_pipelines/list", None),
])
def test_the_replica_refuses_other_routes_itself(server: Any, endpoint: dict[str, Any], method: str, path: str,
                                                 body: Any) -> None:
    """Defence in depth: the replica's own key (read from its environment) does not open more than the router."""
    (replica,) = replica_processes(server.process.pid, NS, "cls")
    port = next(c.laddr.port for c in replica.net_connections("tcp") if c.status == psutil.CONN_LISTEN)
    key = _environ(replica)["ARGUS_API_KEYS"]
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"},
                      trust_env=False, timeout=30) as replica_api:
        assert replica_api.request(method, path, json=body).status_code == 403
        other = replica_api.post("/infer/classification", json={**image_body(), "model_id": "tiny-cls/2"})
        assert other.status_code == 403 and "serves model tiny-cls/1 only" in other.json()["message"]
        mine = replica_api.post("/infer/classification", json={**image_body(), "model_id": "tiny-cls/1"})
        assert mine.status_code == 200


def test_secrets_are_encrypted_at_rest_and_never_returned(server: Any, admin: httpx.Client,
                                                          endpoint: dict[str, Any]) -> None:
    described = admin.get(f"/v2/endpoint/{NS}/cls").json()
    assert described["model"]["secrets"] == {"TEAM_TOKEN": "***"}
    with sqlite3.connect(server.database) as db:
        stored = " ".join(str(row) for row in db.execute("SELECT spec FROM endpoints"))
    assert "s3cret-value" not in stored and "fernet:" in stored
    assert (server.home / "secrets.key").stat().st_mode & 0o777 == 0o600


def test_metrics_need_a_key_when_keys_are_set(server: Any) -> None:
    with server.client() as anonymous:
        assert anonymous.get("/metrics").status_code == 401
        assert anonymous.get("/metrics", headers={"Authorization": f"Bearer {SERVER_KEY}"}).status_code == 200
