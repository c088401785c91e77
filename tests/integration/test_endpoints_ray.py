"""Endpoints on a real Ray Serve cluster (ray[serve] 2.60, started by this module: loopback, free ports, 2 CPUs,
token auth, torn down by PID), driven by an Argus server with ``ARGUS_ENDPOINT_BACKEND=ray``.

The oracles: tiny-cls/1 always answers "cat" and tiny-cls/2 "dog", so which version served a request is known;
Ray's own REST API says what runs; a replica's pid comes from Ray and is killed with SIGKILL.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from huggingface_hub import HfApi, constants
from test_endpoints_support import HOLD, Load, build_store, image_body, spec, wait_for

from argus.endpoints.ray_cluster import LocalRayCluster, RayConnection

pytest.importorskip("ray.serve")

ROOT = "root-key-for-ray-tests"
NS = "rayns"
OTHER_APP = {"name": "someone-else", "route_prefix": "/someone-else",
             "import_path": "ray.serve._private.test_utils:get_pid_entrypoint",
             "deployments": [{"name": "GetPID", "ray_actor_options": {"num_cpus": 0.1}}]}
"""An application another team runs on the same cluster: Argus must leave it alone."""


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[LocalRayCluster, RayConnection]]:
    ray_cluster = LocalRayCluster(num_cpus=2, object_store_mb=100)
    connection = ray_cluster.start()
    try:
        yield ray_cluster, connection
    finally:
        ray_cluster.stop()


@pytest.fixture(scope="module")
def dashboard(cluster: tuple[LocalRayCluster, RayConnection]) -> Iterator[httpx.Client]:
    _, connection = cluster
    with httpx.Client(base_url=connection.dashboard_url, headers={"authorization": f"Bearer {connection.token}"},
                      timeout=30, trust_env=False) as client:
        yield client


@pytest.fixture(scope="module")
def server(cluster: tuple[LocalRayCluster, RayConnection], launch_server: Callable[..., Any],
           tmp_path_factory: pytest.TempPathFactory, dashboard: httpx.Client) -> Any:
    ray_cluster, connection = cluster
    port = int(connection.serve_url.rsplit(":", 1)[1])
    other = {"proxy_location": "HeadOnly", "http_options": {"host": "127.0.0.1", "port": port},
             "applications": [OTHER_APP]}
    assert dashboard.put("/api/serve/applications/", json=other).status_code == 200
    root = tmp_path_factory.mktemp("endpoints-ray")
    token_file = root / "ray-token"
    token_file.write_text(connection.token or "")
    return launch_server({
        "ARGUS_MODELS_DIR": str(build_store(root / "models")), "ARGUS_API_KEYS": ROOT,
        "ARGUS_DATABASE_URL": f"sqlite:///{root / 'ray.db'}", "ARGUS_INTRA_OP_THREADS": "1",
        "ARGUS_ENDPOINT_BACKEND": "ray", "ARGUS_RAY_ADDRESS": connection.dashboard_url,
        "ARGUS_RAY_SERVE_URL": connection.serve_url, "ARGUS_RAY_TOKEN_FILE": str(token_file),
        "ARGUS_RAY_REPLICA_CPUS": "0.25", "ARGUS_ENDPOINT_RECONCILE_INTERVAL_S": "0.2",
        "ARGUS_ENDPOINT_MINUTE_SECONDS": "1", "ARGUS_ENDPOINT_DOWNSCALE_DELAY_S": "2"}, name="ray")


def applications(dashboard: httpx.Client) -> dict[str, Any]:
    """What Ray runs now, by application name."""
    return dict(dashboard.get("/api/serve/applications/").json()["applications"])


def ray_replicas(dashboard: httpx.Client, name: str) -> list[dict[str, Any]]:
    """Replicas Ray lists for endpoint ``name`` of :data:`NS`."""
    app = applications(dashboard).get(f"argus:{NS}:{name}") or {}
    return list(((app.get("deployments") or {}).get("ArgusReplica") or {}).get("replicas") or [])


def state(client: httpx.Client, name: str) -> dict[str, Any]:
    """The endpoint's ``status``."""
    return dict(client.get(f"/v2/endpoint/{NS}/{name}").json()["status"])


def root_client(server: Any) -> httpx.Client:
    return server.client(headers={"Authorization": f"Bearer {ROOT}"})


def test_huggingface_hub_drives_a_ray_endpoint_through_its_whole_life(server: Any, dashboard: httpx.Client,
                                                                      cluster: tuple[Any, RayConnection],
                                                                      monkeypatch: pytest.MonkeyPatch):
    with root_client(server) as client:
        key = client.post(f"/v2/endpoint-keys/{NS}", json={"name": "hub", "role": "admin"}).json()["secret"]
    monkeypatch.setattr(constants, "INFERENCE_ENDPOINTS_ENDPOINT", f"{server.url}/v2")
    hub = HfApi()
    endpoint = hub.create_inference_endpoint(
        "life", repository="tiny-cls/1", framework="onnx", accelerator="cpu", instance_size="x1",
        instance_type="local", region="local", vendor="local", min_replica=0, max_replica=1, scale_to_zero_timeout=3,
        type="public", namespace=NS, token=key, secrets={"SERVICE_TOKEN": "s3cret-value"})
    assert endpoint.status == "scaledToZero" and endpoint.raw["provider"]["vendor"] == "ray"
    assert [e.name for e in hub.list_inference_endpoints(namespace=NS, token=key)] == ["life"]

    with server.client() as client:
        # At zero replicas: 503 with Retry-After, or held until Ray has a replica (0 → 1).
        cold = client.post(f"/endpoints/{NS}/life/infer/classification", json=image_body())
        assert cold.status_code == 503 and int(cold.headers["retry-after"]) >= 1
        woken = client.post(f"/endpoints/{NS}/life/infer/classification", json=image_body(), headers=HOLD)
        assert woken.status_code == 200 and woken.json()["top"] == "cat"
    replicas = ray_replicas(dashboard, "life")
    assert [r["state"] for r in replicas] == ["RUNNING"]
    assert woken.headers["x-argus-replica"] == replicas[0]["replica_id"]

    # Safe by default: the secret and the router's key are not in what Ray's API shows; the proxy refuses a
    # request without the key; the dashboard refuses a request without the token.
    shown = dashboard.get("/api/serve/applications/").text
    assert "s3cret-value" not in shown and "SERVICE_TOKEN" not in shown
    _, connection = cluster
    direct = httpx.post(f"{connection.serve_url}/argus/{NS}/life/infer/classification", json=image_body())
    assert direct.status_code == 401
    assert httpx.get(f"{connection.dashboard_url}/api/serve/applications/").status_code == 401

    with root_client(server) as client:
        logs = client.get(f"/v2/endpoint/{NS}/life/logs", params={"tail": 50}).text
        assert f"[{replicas[0]['replica_id']}]" in logs and "loaded tiny-cls/1" in logs
        assert client.get(f"/v2/endpoint/{NS}/life/metrics").json()["current"]["readyReplica"] == 1
        # Following: a request sent after the stream opened shows up as the replica's new access-log line.
        with client.stream("GET", f"/v2/endpoint/{NS}/life/logs", params={"tail": 0, "follow": True}) as followed:
            sender = threading.Timer(1.5, lambda: httpx.post(
                f"{server.url}/endpoints/{NS}/life/infer/classification", json=image_body(), timeout=60))
            sender.start()
            seen = ""
            for chunk in followed.iter_text():
                seen += chunk
                if f"POST /argus/{NS}/life" in seen:
                    break
            sender.join()
        assert f"[{replicas[0]['replica_id']}]" in seen and f"POST /argus/{NS}/life" in seen
    # The server speaks HTTP to Ray only: none of Ray's native code is mapped into its process.
    assert "_raylet" not in Path(f"/proc/{server.process.pid}/maps").read_text()
    # Idle for scaleToZeroTimeout (3 "minutes" of 1 s): Ray's application is removed (1 → 0).
    wait_for(lambda: endpoint.fetch().status == "scaledToZero", "scale to zero after idling", timeout=60)
    wait_for(lambda: f"argus:{NS}:life" not in applications(dashboard), "Ray to remove the application")

    endpoint.pause()
    assert endpoint.fetch().status == "paused"
    endpoint.resume()
    endpoint.wait(timeout=120, refresh_every=1)
    assert endpoint.status == "running" and len(ray_replicas(dashboard, "life")) == 1
    assert hub.update_inference_endpoint("life", namespace=NS, max_replica=2, token=key) \
        .raw["compute"]["scaling"]["maxReplica"] == 2
    endpoint.delete()
    wait_for(lambda: f"argus:{NS}:life" not in applications(dashboard), "Ray to remove the deleted endpoint")
    assert "someone-else" in applications(dashboard)  # another team's application was left alone
    with root_client(server) as client:
        audit = client.get(f"/v2/endpoint-audit/{NS}").json()
        assert {"endpoint.create", "endpoint.delete"} <= {entry["action"] for entry in audit["items"]}


def test_a_replica_killed_under_load_is_replaced_and_no_request_is_lost(server: Any, dashboard: httpx.Client):
    with root_client(server) as client:
        assert client.post(f"/v2/endpoint/{NS}", json=spec("kill", min_replica=2, max_replica=2)).status_code == 201
        wait_for(lambda: state(client, "kill")["state"] == "running" and state(client, "kill")["readyReplica"] == 2,
                 "two ready replicas")
    victim = ray_replicas(dashboard, "kill")[0]
    with Load(f"{server.url}/endpoints/{NS}/kill/infer/classification", clients=4) as load:
        wait_for(lambda: load.count() >= 20, "traffic")
        os.kill(victim["pid"], signal.SIGKILL)
        wait_for(lambda: victim["replica_id"] not in {r["replica_id"] for r in ray_replicas(dashboard, "kill")}
                 and [r["state"] for r in ray_replicas(dashboard, "kill")] == ["RUNNING", "RUNNING"],
                 "Ray to replace the killed replica")
        settled = load.count()
        wait_for(lambda: load.count() >= settled + 20, "traffic after the replacement")
    assert load.failures() == [], load.failures()[:3]
    assert {o.top for o in load.outcomes} == {"cat"}
    with root_client(server) as client:
        assert client.delete(f"/v2/endpoint/{NS}/kill").status_code == 204


def test_a_model_that_cannot_load_fails_the_endpoint_with_the_reason(server: Any, dashboard: httpx.Client):
    with root_client(server) as client:
        assert client.post(f"/v2/endpoint/{NS}", json=spec("broken", "broken/1", min_replica=1)).status_code == 201
        failed = wait_for(lambda: (s := state(client, "broken"))["state"] == "failed" and s, "the failed state")
        assert "could not be loaded" in failed["message"] and "broken/1" in failed["message"]
        assert applications(dashboard)[f"argus:{NS}:broken"]["status"] == "DEPLOY_FAILED"
        with server.client() as plain:
            answer = plain.post(f"/endpoints/{NS}/broken/infer/classification", json=image_body())
        assert answer.status_code == 503 and "could not be loaded" in answer.json()["message"]
        # Fixing the spec deploys the new generation.
        assert client.put(f"/v2/endpoint/{NS}/broken", json={"model": {"repository": "tiny-cls/2"}}).status_code == 200
        wait_for(lambda: state(client, "broken")["state"] == "running", "the fixed endpoint to run")
        assert client.delete(f"/v2/endpoint/{NS}/broken").status_code == 204


def test_a_rolling_update_under_load_loses_nothing(server: Any, dashboard: httpx.Client):
    """Two replicas, so Ray's proxy has old and new ones running at once: both must take the router's key and
    answer with their own model."""
    with root_client(server) as client:
        assert client.post(f"/v2/endpoint/{NS}", json=spec("roll", min_replica=2, max_replica=2)).status_code == 201
        wait_for(lambda: state(client, "roll")["readyReplica"] == 2, "two ready replicas")
        before = {r["replica_id"] for r in ray_replicas(dashboard, "roll")}
        states: set[str] = set()

        def observed(done: Callable[[], bool]) -> Callable[[], bool]:
            return lambda: bool(states.add(state(client, "roll")["state"]) or done())

        with Load(f"{server.url}/endpoints/{NS}/roll/infer/classification", clients=4) as load:
            wait_for(lambda: load.count() >= 20, "traffic")
            assert client.put(f"/v2/endpoint/{NS}/roll",
                              json={"model": {"repository": "tiny-cls/2"}}).status_code == 200
            wait_for(observed(lambda: bool(load.outcomes) and load.outcomes[-1].top == "dog"),
                     "answers from the new version", 120)
            wait_for(observed(lambda: not before & {r["replica_id"] for r in ray_replicas(dashboard, "roll")}),
                     "Ray to replace both old replicas", 120)
            wait_for(observed(lambda: state(client, "roll")["state"] == "running"), "the update to finish")
            settled = load.count()
            wait_for(lambda: load.count() >= settled + 20, "traffic after the update")
        assert load.failures() == [], load.failures()[:3]
        tops = [o.top for o in load.outcomes]
        assert tops[0] == "cat" and tops[-1] == "dog" and set(tops) == {"cat", "dog"}
        assert "updating" in states
        assert client.delete(f"/v2/endpoint/{NS}/roll").status_code == 204


def test_a_server_that_started_its_own_cluster_stops_it_on_sigterm(launch_server: Callable[..., Any],
                                                                    tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("endpoints-ray-start")
    server = launch_server({"ARGUS_MODELS_DIR": str(build_store(root / "models")), "ARGUS_API_KEYS": ROOT,
                            "ARGUS_DATABASE_URL": f"sqlite:///{root / 'own.db'}", "ARGUS_ENDPOINT_BACKEND": "ray",
                            "ARGUS_RAY_START": "true", "ARGUS_RAY_NUM_CPUS": "1", "ARGUS_RAY_REPLICA_CPUS": "0.25",
                            "ARGUS_INTRA_OP_THREADS": "1", "ARGUS_ENDPOINT_RECONCILE_INTERVAL_S": "0.2"}, name="ray-own")
    with root_client(server) as client:
        assert client.post(f"/v2/endpoint/{NS}", json=spec("own", min_replica=1)).status_code == 201
        wait_for(lambda: state(client, "own")["state"] == "running", "running on the server's own cluster")
    ray_tree = [p for p in psutil.Process(server.process.pid).children(recursive=True)]
    assert any("raylet" in " ".join(p.cmdline()) for p in ray_tree)
    # Every Ray listener (GCS, raylet, dashboard, Serve's proxy, workers) is on loopback only, as the kernel says.
    listening = {(c.laddr.ip, c.laddr.port) for p in ray_tree if _alive(p)
                 for c in _connections(p) if c.status == psutil.CONN_LISTEN}
    assert listening and all(_loopback(ip) for ip, _ in listening), listening
    assert not {44217, 44227, 52365} & {port for _, port in listening}  # Ray's fixed defaults collide between clusters
    cluster_root = next(Path(part) for p in ray_tree for part in p.cmdline() if "argus-ray-" in part)
    server.stop()  # SIGTERM
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(_alive(p) for p in ray_tree):
        time.sleep(0.2)
    assert [p.pid for p in ray_tree if _alive(p)] == []
    assert not Path(str(cluster_root).split("/session")[0]).exists()


def _loopback(ip: str) -> bool:
    address = ipaddress.ip_address(ip)
    mapped = getattr(address, "ipv4_mapped", None)
    return bool((mapped or address).is_loopback)


def _connections(process: psutil.Process) -> list[Any]:
    try:
        return list(process.net_connections(kind="inet"))
    except psutil.Error:
        return []


def _alive(process: psutil.Process) -> bool:
    try:
        return bool(process.is_running()) and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
