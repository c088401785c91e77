"""Endpoints survive a server restart; replicas never outlive their server; server and namespace keys guard the
control plane."""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from test_endpoints_support import (
    HOLD,
    build_store,
    image_body,
    replica_processes,
    spec,
    wait_for,
)

NS = "acme"
ROOT = "root-key-for-tests"


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def states(client: httpx.Client, key: str) -> dict[str, str]:
    items = client.get(f"/v2/endpoint/{NS}", headers=bearer(key)).json()["items"]
    return {e["name"]: e["status"]["state"] for e in items}


def test_restart_restores_endpoints_and_replicas_die_with_the_server(
        launch_server: Callable[..., Any], tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("endpoints-restart")
    env = {"ARGUS_MODELS_DIR": str(build_store(root / "models")), "ARGUS_DATABASE_URL": f"sqlite:///{root / 'a.db'}",
           "ARGUS_API_KEYS": ROOT, "ARGUS_ENDPOINT_RECONCILE_INTERVAL_S": "0.2", "ARGUS_INTRA_OP_THREADS": "1"}
    first = launch_server(env, name="restart-1")
    with first.client() as client:
        assert client.get(f"/v2/endpoint/{NS}").status_code == 401
        assert client.get(f"/v2/endpoint/{NS}", headers=bearer("wrong")).status_code == 401
        admin = client.post(f"/v2/endpoint-keys/{NS}", json={"name": "ops", "role": "admin"}, headers=bearer(ROOT)).json()
        caller = client.post(f"/v2/endpoint-keys/{NS}", json={"name": "app"}, headers=bearer(ROOT)).json()
        # An invoke key may look but not change; an admin key of another namespace may not even look.
        assert client.post(f"/v2/endpoint/{NS}", json=spec("x"), headers=bearer(caller["secret"])).status_code == 403
        assert client.get(f"/v2/endpoint/{NS}", headers=bearer(caller["secret"])).status_code == 200
        assert client.get("/v2/endpoint/umbrella", headers=bearer(admin["secret"])).status_code == 403
        assert client.post("/v2/endpoint-keys/umbrella", json={}, headers=bearer(admin["secret"])).status_code == 403

        key = admin["secret"]
        for body in (spec("keep", kind="authenticated", min_replica=1), spec("sleepy", min_replica=1),
                     spec("zero", model="tiny-cls/2")):
            assert client.post(f"/v2/endpoint/{NS}", json=body, headers=bearer(key)).status_code == 201
        assert client.post(f"/v2/endpoint/{NS}/sleepy/pause", headers=bearer(key)).status_code == 200
        wait_for(lambda: states(client, key) == {"keep": "running", "sleepy": "paused", "zero": "scaledToZero"},
                 "the endpoints to settle")
        answer = client.post(f"/endpoints/{NS}/keep/infer/classification", json=image_body(),
                             headers=bearer(caller["secret"]))
        assert answer.status_code == 200 and answer.json()["top"] == "cat"
        replicas = replica_processes(first.process.pid, NS, "keep")
        assert len(replicas) == 1
    first.stop()
    wait_for(lambda: not any(p.is_running() and p.status() != "zombie" for p in replicas),
             "the replica to stop with its server", timeout=30)

    second = launch_server(env, name="restart-2")
    with second.client() as client:
        wait_for(lambda: states(client, key) == {"keep": "running", "sleepy": "paused", "zero": "scaledToZero"},
                 "the endpoints to come back to their desired state")
        answer = client.post(f"/endpoints/{NS}/keep/infer/classification", json=image_body(),
                             headers={**bearer(caller["secret"]), **HOLD})
        assert answer.status_code == 200 and answer.json()["top"] == "cat"
        audit = client.get(f"/v2/endpoint-audit/{NS}", headers=bearer(key)).json()["items"]
        assert ("endpoint.pause", "sleepy", f"key:{admin['id']}") in {(e["action"], e["target"], e["actor"])
                                                                      for e in audit}
        replicas = replica_processes(second.process.pid, NS, "keep")
        assert len(replicas) == 1
    second.process.send_signal(signal.SIGKILL)  # no shutdown hook runs: the replica must notice by itself
    second.process.wait(timeout=10)
    wait_for(lambda: not any(p.is_running() and p.status() != "zombie" for p in replicas),
             "the replica to exit after its server was killed", timeout=30)
