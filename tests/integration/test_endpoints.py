"""Endpoints end to end: a real ``argus serve`` whose controller starts real replica processes.

One server for the module (seconds-scale settings: a ``scaleToZeroTimeout`` minute lasts 1 s, scale-down
waits 2 s). Replicas serve tiny-cls/1 (always "cat") or tiny-cls/2 (always "dog"), so every answer says
which version produced it.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from test_endpoints_support import (
    HOLD,
    Load,
    build_store,
    image_body,
    replica_processes,
    spec,
    wait_for,
)

NS = "acme"
SETTINGS = {
    "ARGUS_ENDPOINT_MINUTE_SECONDS": "1",
    "ARGUS_ENDPOINT_UPSCALE_WINDOW_S": "1",
    "ARGUS_ENDPOINT_DOWNSCALE_DELAY_S": "2",
    "ARGUS_ENDPOINT_METRICS_INTERVAL_S": "1",
    "ARGUS_ENDPOINT_RECONCILE_INTERVAL_S": "0.2",
    "ARGUS_INTRA_OP_THREADS": "1",
}


@pytest.fixture(scope="module")
def endpoint_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Settings of the endpoint servers: their own model store and database."""
    root = tmp_path_factory.mktemp("endpoints")
    store = build_store(root / "models")
    return {**SETTINGS, "ARGUS_MODELS_DIR": str(store), "ARGUS_DATABASE_URL": f"sqlite:///{root / 'argus.db'}"}


@pytest.fixture(scope="module")
def server(launch_server: Callable[..., Any], endpoint_env: dict[str, str]) -> Iterator[Any]:
    """The module's server."""
    live = launch_server(endpoint_env, name="endpoints")
    yield live
    live.stop()


@pytest.fixture
def api(server: Any) -> Iterator[httpx.Client]:
    """A client on the server."""
    with server.client(timeout=150) as client:
        yield client


@pytest.fixture(autouse=True)
def _delete_endpoints(api: httpx.Client) -> Iterator[None]:
    """Each test's endpoints are deleted after it (their replicas drain and stop)."""
    yield
    for endpoint in api.get(f"/v2/endpoint/{NS}").json()["items"]:
        assert api.delete(f"/v2/endpoint/{NS}/{endpoint['name']}").status_code == 204


def create(api: httpx.Client, body: dict[str, Any], namespace: str = NS, **headers: str) -> dict[str, Any]:
    response = api.post(f"/v2/endpoint/{namespace}", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def status(api: httpx.Client, name: str, namespace: str = NS) -> dict[str, Any]:
    response = api.get(f"/v2/endpoint/{namespace}/{name}")
    assert response.status_code == 200, response.text
    return response.json()["status"]


def infer(api: httpx.Client, name: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return api.post(f"/endpoints/{NS}/{name}/infer/classification", json=image_body(), headers=headers or {})


def in_state(api: httpx.Client, name: str, state: str, ready: int | None = None) -> Callable[[], Any]:
    def probe() -> Any:
        current = status(api, name)
        return current if current["state"] == state and ready in (None, current["readyReplica"]) else None
    return probe


def test_first_request_wakes_it_and_idle_returns_it_to_zero(api, server):
    created = create(api, spec("wake", idle_minutes=3))
    assert created["status"]["state"] == "scaledToZero"
    assert created["status"]["url"] == f"{server.url}/endpoints/{NS}/wake"

    refused = infer(api, "wake")
    assert refused.status_code == 503
    assert int(refused.headers["retry-after"]) >= 1
    assert "X-Scale-Up-Timeout" in refused.json()["message"]

    held = infer(api, "wake", HOLD)
    assert held.status_code == 200, held.text
    assert held.json()["top"] == "cat"
    assert status(api, "wake")["state"] == "running"
    assert len(replica_processes(server.process.pid, NS, "wake")) == 1

    wait_for(in_state(api, "wake", "scaledToZero"), "the idle endpoint to go back to zero")
    wait_for(lambda: not replica_processes(server.process.pid, NS, "wake"), "the replica process to exit")


def test_concurrent_load_scales_to_max_then_back_down(api, server):
    create(api, spec("burst", max_replica=2, idle_minutes=4, threshold=1))
    with Load(f"{server.url}/endpoints/{NS}/burst/infer/classification", clients=6, headers=HOLD) as load:
        wait_for(in_state(api, "burst", "running", ready=2), "two ready replicas under load")
        served = load.count()
        wait_for(lambda: load.count() > served + 50, "requests after the scale-up")
    assert load.failures() == []
    replicas = {o.replica for o in load.outcomes}
    assert len(replicas) == 2, replicas  # both replicas took traffic
    assert {o.top for o in load.outcomes} == {"cat"}
    wait_for(in_state(api, "burst", "running", ready=1), "the scale-down to one replica")
    wait_for(in_state(api, "burst", "scaledToZero"), "the scale-down to zero")


def test_pause_and_resume(api, server):
    create(api, spec("nap", min_replica=1))
    wait_for(in_state(api, "nap", "running", ready=1), "the endpoint to run")
    paused = api.post(f"/v2/endpoint/{NS}/nap/pause")
    assert paused.status_code == 200 and paused.json()["status"]["state"] == "paused"
    wait_for(lambda: not replica_processes(server.process.pid, NS, "nap"), "the replica to stop")
    refused = infer(api, "nap", HOLD)  # held requests do not wake a paused endpoint
    assert refused.status_code == 503 and "paused" in refused.json()["message"]
    assert status(api, "nap")["targetReplica"] == 0

    resumed = api.post(f"/v2/endpoint/{NS}/nap/resume")
    assert resumed.status_code == 200
    assert infer(api, "nap", HOLD).json()["top"] == "cat"
    again = api.post(f"/v2/endpoint/{NS}/nap/resume")
    assert again.status_code == 400 and "already running" in again.json()["message"]


def test_rolling_update_under_load_drops_nothing(api, server):
    create(api, spec("roll", min_replica=1))
    wait_for(in_state(api, "roll", "running", ready=1), "the endpoint to run")
    with Load(f"{server.url}/endpoints/{NS}/roll/infer/classification", clients=3) as load:  # no hold header
        wait_for(lambda: load.count() > 20, "requests before the update")
        updated = api.put(f"/v2/endpoint/{NS}/roll", json={"model": {"repository": "tiny-cls/2"}})
        assert updated.status_code == 200, updated.text
        assert updated.json()["model"]["repository"] == "tiny-cls/2"
        wait_for(lambda: any(o.top == "dog" for o in load.outcomes[-5:]) and
                 status(api, "roll")["state"] == "running", "the new version to take over")
        served = load.count()
        wait_for(lambda: load.count() > served + 20, "requests after the update")
    assert load.failures() == []
    tops = [o.top for o in load.outcomes]
    assert tops[0] == "cat" and tops[-1] == "dog"
    assert tops[tops.index("dog"):].count("cat") <= 10  # only the overlap, while the old replica drains
    wait_for(lambda: len(replica_processes(server.process.pid, NS, "roll")) == 1, "the old replica to stop")


def test_killing_a_replica_mid_load_loses_no_request(api, server):
    create(api, spec("crash", min_replica=1))
    wait_for(in_state(api, "crash", "running", ready=1), "the endpoint to run")
    (victim,) = replica_processes(server.process.pid, NS, "crash")
    with Load(f"{server.url}/endpoints/{NS}/crash/infer/classification", clients=4) as load:
        wait_for(lambda: load.count() > 20, "requests before the crash")
        victim.send_signal(signal.SIGKILL)
        served = load.count()
        wait_for(lambda: [p.pid for p in replica_processes(server.process.pid, NS, "crash")] not in ([], [victim.pid])
                 and load.count() > served + 30, "a replacement replica answering")
    assert load.failures() == []
    assert status(api, "crash")["state"] == "running"
    replicas = [o.replica for o in load.outcomes]
    assert len(set(replicas)) == 2  # the replacement served the requests the dead one could not


def test_private_endpoint_refuses_missing_and_foreign_keys(api, server):
    create(api, spec("vault", kind="private", min_replica=1))
    create(api, spec("other", kind="private"))
    own = api.post(f"/v2/endpoint-keys/{NS}", json={"name": "vault key", "endpoints": ["vault"]}).json()
    foreign = api.post(f"/v2/endpoint-keys/{NS}", json={"name": "other key", "endpoints": ["other"]}).json()
    wide = api.post(f"/v2/endpoint-keys/{NS}", json={"name": "namespace key"}).json()

    assert infer(api, "vault").status_code == 401
    assert infer(api, "vault", {"Authorization": "Bearer not-a-key"}).status_code == 401
    assert infer(api, "vault", {"Authorization": f"Bearer {foreign['secret']}"}).status_code == 403
    assert infer(api, "vault", {"Authorization": f"Bearer {wide['secret']}"}).status_code == 403
    ok = infer(api, "vault", {"Authorization": f"Bearer {own['secret']}", **HOLD})
    assert ok.status_code == 200 and ok.json()["top"] == "cat"
    by_query = api.post(f"/endpoints/{NS}/vault/infer/classification?api_key={own['secret']}", json=image_body(),
                        headers=HOLD)
    assert by_query.status_code == 200

    listed = api.get(f"/v2/endpoint-keys/{NS}").json()["items"]
    assert {k["id"] for k in listed} >= {own["id"], foreign["id"], wide["id"]}
    assert all("secret" not in k for k in listed)
    assert api.delete(f"/v2/endpoint-keys/{NS}/{own['id']}").status_code == 200
    assert infer(api, "vault", {"Authorization": f"Bearer {own['secret']}"}).status_code == 401

    actions = [(e["action"], e["target"]) for e in api.get(f"/v2/endpoint-audit/{NS}").json()["items"]]
    assert ("key.revoke", own["id"]) in actions and ("endpoint.create", "vault") in actions


def test_logs_metrics_and_bad_requests(api, server):
    create(api, spec("obs", min_replica=1))
    assert infer(api, "obs", HOLD).status_code == 200
    logs = api.get(f"/v2/endpoint/{NS}/obs/logs", params={"tail": 50})
    assert logs.status_code == 200 and "Uvicorn running on http://127.0.0.1:" in logs.text
    assert all(line.startswith("[obs-1-") for line in logs.text.splitlines())
    with api.stream("GET", f"/v2/endpoint/{NS}/obs/logs", params={"tail": 2, "follow": True}) as followed:
        assert followed.status_code == 200
        first = next(followed.iter_text())
    assert len(first.splitlines()) == 2 and first.startswith("[obs-1-")

    def sampled() -> Any:
        body = api.get(f"/v2/endpoint/{NS}/obs/metrics").json()
        return body if body["totals"]["requests"] >= 1 and body["samples"] else None
    metrics = wait_for(sampled, "a metrics sample")
    assert metrics["samples"][-1]["targetReplica"] == 1

    assert api.post(f"/v2/endpoint/{NS}", json=spec("obs")).status_code == 409
    missing = api.post(f"/v2/endpoint/{NS}", json=spec("ghost", model="nope/1"))
    assert missing.status_code == 404 and "nope/1" in missing.json()["message"]
    bad = api.post(f"/v2/endpoint/{NS}", json={"name": "Bad Name", "model": {"repository": "tiny-cls/1"}})
    assert bad.status_code == 400 and "name" in bad.json()["message"]
    assert api.post(f"/v2/endpoint/{NS}", content=b"{nope").status_code == 400
    assert api.get(f"/v2/endpoint/{NS}/ghost").status_code == 404
    assert infer(api, "ghost").status_code == 404
    assert infer(api, "obs", {"X-Scale-Up-Timeout": "soon"}).status_code == 400
    assert api.post(f"/v2/endpoint/{NS}/obs/scale-to-zero").status_code == 400  # minReplica 1
    assert api.get("/v2/health/live").status_code == 200  # the OIP routes still answer

    assert api.delete(f"/v2/endpoint/{NS}/obs").status_code == 204
    assert api.get(f"/v2/endpoint/{NS}/obs").status_code == 404
    wait_for(lambda: not replica_processes(server.process.pid, NS, "obs"), "the deleted endpoint's replica to stop")


def test_a_model_that_cannot_load_reports_failed_with_the_reason(api, server):
    create(api, spec("sick", model="broken/1", min_replica=1))
    failed = wait_for(in_state(api, "sick", "failed"), "the endpoint to report failed")
    assert failed["message"].startswith("Replicas cannot start: the model failed to load (broken/1: ")
    assert failed["readyReplica"] == 0
    assert infer(api, "sick").status_code == 503


def test_cli_drives_the_control_plane(api, server):
    from typer.testing import CliRunner

    from argus.cli.main import app

    runner = CliRunner()

    def argus(*args: str) -> str:
        result = runner.invoke(app, [*args, "--api-url", server.url, "--namespace", NS])
        assert result.exit_code == 0, result.output
        return result.output

    assert "cli-ep: scaledToZero" in argus("endpoints", "create", "cli-ep", "--model", "tiny-cls/1", "--min", "0",
                                           "--max", "2", "--scale-to-zero", "300s", "--type", "private")
    described = api.get(f"/v2/endpoint/{NS}/cli-ep").json()
    assert described["compute"]["scaling"]["scaleToZeroTimeout"] == 5 and described["type"] == "private"
    assert "cli-ep" in argus("endpoints", "list")
    assert '"repository": "tiny-cls/1"' in argus("endpoints", "describe", "cli-ep")
    created = argus("keys", "create", "--name", "cli", "--endpoint", "cli-ep")
    secret = created.strip().splitlines()[-1]
    assert secret.startswith("argus_")
    argus("endpoints", "update", "cli-ep", "--model", "tiny-cls/2", "--max", "1")
    assert status(api, "cli-ep")["targetReplica"] == 0
    assert api.get(f"/v2/endpoint/{NS}/cli-ep").json()["model"]["repository"] == "tiny-cls/2"
    answer = infer(api, "cli-ep", {"Authorization": f"Bearer {secret}", **HOLD})
    assert answer.status_code == 200 and answer.json()["top"] == "dog"
    assert "paused" in argus("endpoints", "pause", "cli-ep")
    argus("endpoints", "resume", "cli-ep")
    wait_for(in_state(api, "cli-ep", "running", ready=1), "the resumed endpoint")
    argus("endpoints", "scale-to-zero", "cli-ep")
    wait_for(in_state(api, "cli-ep", "scaledToZero"), "scale to zero")
    assert "Uvicorn running" in argus("endpoints", "logs", "cli-ep", "--tail", "20")
    assert "requests" in argus("endpoints", "metrics", "cli-ep")
    key_id = next(k["id"] for k in api.get(f"/v2/endpoint-keys/{NS}").json()["items"] if k["name"] == "cli")
    assert key_id in argus("keys", "list")
    argus("keys", "revoke", key_id)
    argus("endpoints", "delete", "cli-ep")
    failed = runner.invoke(app, ["endpoints", "describe", "cli-ep", "--api-url", server.url, "-n", NS])
    assert failed.exit_code == 1 and "404" in failed.output
