"""The Ray Serve backend against a fake of the dashboard routes it uses, replaying payloads recorded from Ray 2.60.0
(``tests/fixtures/ray``, written by ``scripts/record_ray_payloads.py``): what it reads from them, what config it
sends, when it sends none, and that secrets never appear in it."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from argus.endpoints.backends.base import Desired, ReplicaPhase, ReplicaSpec
from argus.endpoints.backends.ray import (
    RayBackendError,
    RayServeBackend,
    _after,
    failure_reason,
    replica_key_file,
)
from argus.endpoints.ray_cluster import RayConnection
from argus.endpoints.secrets import open_json
from argus.settings import Settings

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ray"
RECORDED = json.loads((FIXTURES / "applications.json").read_text())
CLS = ReplicaSpec("acme", "cls", 1, "tiny-cls/1", "/readiness", {"TOKEN": "s3cret", "MODE": "fast"})
BROKEN = ReplicaSpec("acme", "broken", 2, "broken/1", "/readiness")


class FakeDashboard:
    """``GET``/``PUT /api/serve/applications/`` and ``GET /api/v0/logs/file``, as Ray 2.60 answers them: a PUT
    replaces every declarative application with the config's (keeping the replicas of those it keeps)."""

    def __init__(self, status: dict[str, Any]) -> None:
        self.status = copy.deepcopy(status)
        self.puts: list[dict[str, Any]] = []
        self.log_requests: list[dict[str, str]] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer the-token"
        if request.url.path == "/api/serve/applications/" and request.method == "GET":
            return httpx.Response(200, json=self.status)
        if request.url.path == "/api/serve/applications/" and request.method == "PUT":
            config = json.loads(request.content)
            self.puts.append(config)
            before = self.status["applications"]
            self.status["applications"] = {
                app["name"]: {**copy.deepcopy(before.get(app["name"], {"deployments": {}})), "name": app["name"],
                              "status": "DEPLOYING" if app["name"] not in before else before[app["name"]]["status"],
                              "source": "declarative", "deployed_app_config": app}
                for app in config["applications"]}
            return httpx.Response(200)
        if request.url.path == "/api/v0/logs/file":
            self.log_requests.append(dict(request.url.params))
            return httpx.Response(200, text=(FIXTURES / "replica.log").read_text())
        return httpx.Response(404)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", ray_replica_cpus=0.25, intra_op_threads=1)


def backend_on(dashboard: FakeDashboard, settings: Settings) -> RayServeBackend:
    return RayServeBackend(settings, RayConnection("http://dashboard:8265", "http://proxy:8000", "the-token"),
                           key_file=replica_key_file(settings), transport=httpx.MockTransport(dashboard.handler))


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def test_observe_reads_replicas_generations_and_the_reason_a_model_cannot_load(settings: Settings):
    observed = run(backend_on(FakeDashboard(RECORDED), settings).observe())
    assert set(observed) == {("acme", "cls"), ("acme", "broken")}  # another team's application is not ours
    recorded = RECORDED["applications"]["argus:acme:cls"]["deployments"]["ArgusReplica"]["replicas"][0]
    (replica,) = observed[("acme", "cls")].replicas
    assert (replica.id, replica.phase, replica.pid, replica.node_ip) == \
        (recorded["replica_id"], ReplicaPhase.READY, recorded["pid"], "127.0.0.1")
    assert observed[("acme", "cls")].failure is None and observed[("acme", "cls")].generation == 1
    broken = observed[("acme", "broken")]
    assert broken.generation == 2 and broken.replicas == ()
    assert broken.failure is not None and broken.failure.startswith("ModelArtifactError: Model 'broken/1' could "
                                                                    "not be loaded: model.onnx is corrupt")


def test_failure_reason_picks_the_raised_line_of_a_traceback():
    message = RECORDED["applications"]["argus:acme:broken"]["deployments"]["ArgusReplica"]["message"]
    assert "Traceback" in message and "\n" in message
    assert "\n" not in failure_reason(message) and not failure_reason(message).startswith("argus.errors")
    assert failure_reason("") == "Ray could not deploy the replicas"


def test_apply_sends_one_config_with_other_applications_untouched_then_nothing_while_it_runs(settings: Settings):
    dashboard = FakeDashboard(RECORDED)
    backend = backend_on(dashboard, settings)
    run(backend.apply({("acme", "cls"): Desired(CLS, 2), ("acme", "broken"): Desired(BROKEN, 1)}))
    (config,) = dashboard.puts
    assert config["http_options"] == {"host": "127.0.0.1", "port": RECORDED["http_options"]["port"]}
    apps = {app["name"]: app for app in config["applications"]}
    assert apps["someone-else"] == RECORDED["applications"]["someone-else"]["deployed_app_config"]
    cls = apps["argus:acme:cls"]
    assert cls["route_prefix"] == "/argus/acme/cls" and cls["import_path"] == "argus.cli.ray_replica:build"
    (deployment,) = cls["deployments"]
    assert (deployment["num_replicas"], deployment["ray_actor_options"]) == (2, {"num_cpus": 0.25})
    assert cls["args"]["settings"]["ARGUS_ENDPOINT_MODEL"] == "tiny-cls/1"
    assert cls["args"]["settings"]["ARGUS_ALLOW_CUSTOM_PYTHON"] == "false"

    run(backend.apply({("acme", "cls"): Desired(CLS, 2), ("acme", "broken"): Desired(BROKEN, 1)}))
    assert len(dashboard.puts) == 1  # what runs is what is wanted: no config

    run(backend.apply({("acme", "cls"): Desired(CLS, 3), ("acme", "broken"): Desired(BROKEN, 1)}))
    assert [d["num_replicas"] for d in dashboard.puts[-1]["applications"][1]["deployments"]] == [3]
    assert dashboard.puts[-1]["applications"][1]["args"] == cls["args"]  # a scale keeps the arguments


def test_an_endpoint_at_zero_replicas_or_deleted_has_no_application(settings: Settings):
    dashboard = FakeDashboard(RECORDED)
    run(backend_on(dashboard, settings).apply({("acme", "cls"): Desired(CLS, 0)}))
    assert [app["name"] for app in dashboard.puts[-1]["applications"]] == ["someone-else"]


def test_the_key_and_secrets_travel_sealed_and_a_restarted_server_keeps_them(settings: Settings):
    dashboard = FakeDashboard(RECORDED)
    backend = backend_on(dashboard, settings)
    run(backend.apply({("acme", "cls"): Desired(CLS, 1)}))
    sent = json.dumps(dashboard.puts[-1])
    key = backend.private_key(CLS)
    assert "s3cret" not in sent and "TOKEN" not in sent and key not in sent
    args = dashboard.puts[-1]["applications"][1]["args"]
    opened = open_json(replica_key_file(settings).read_bytes().strip(), args["sealed"])
    assert opened == {"api_key": key, "env": {"TOKEN": "s3cret", "MODE": "fast"}}
    assert backend.address(CLS) == ("http://proxy:8000/argus/acme/cls", {"authorization": f"Bearer {key}"})

    restarted = backend_on(dashboard, settings)
    assert restarted.private_key(CLS) == key
    run(restarted.apply({("acme", "cls"): Desired(CLS, 1)}))
    assert len(dashboard.puts) == 1  # same sealed arguments: Ray would otherwise roll the replicas

    rolled = ReplicaSpec("acme", "cls", 2, "tiny-cls/2", "/readiness", CLS.env)
    run(restarted.apply({("acme", "cls"): Desired(rolled, 1)}))
    args = dashboard.puts[-1]["applications"][1]["args"]
    assert (args["generation"], args["model_id"]) == (2, "tiny-cls/2")
    # One key for every generation: Ray's proxy may send a request to an old replica during the roll.
    assert open_json(replica_key_file(settings).read_bytes().strip(), args["sealed"])["api_key"] == key
    other = backend_on(dashboard, settings).private_key(ReplicaSpec("acme", "other", 1, "tiny-cls/1", "/readiness"))
    assert other != key


def test_a_cluster_with_imperatively_deployed_applications_gets_no_config(settings: Settings):
    status = copy.deepcopy(RECORDED)
    status["applications"]["someone-else"]["source"] = "imperative"
    dashboard = FakeDashboard(status)
    with pytest.raises(RayBackendError, match="serve.run"):
        run(backend_on(dashboard, settings).apply({("acme", "cls"): Desired(CLS, 1)}))
    assert dashboard.puts == []


def test_a_refused_config_is_an_error_naming_ray_s_answer(settings: Settings):
    dashboard = FakeDashboard(RECORDED)

    def refuse(request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            return httpx.Response(400, text="num_replicas must be >= 1")
        return dashboard.handler(request)

    backend = RayServeBackend(settings, RayConnection("http://dashboard:8265", "", "the-token"),
                              key_file=replica_key_file(settings), transport=httpx.MockTransport(refuse))
    with pytest.raises(RayBackendError, match="num_replicas must be"):
        run(backend.apply({("acme", "cls"): Desired(CLS, 1)}))
    # No serve URL configured: the proxy address Ray reports is used.
    assert backend.address(CLS)[0] == f"http://127.0.0.1:{RECORDED['http_options']['port']}/argus/acme/cls"


def test_logs_come_from_each_replica_s_serve_log(settings: Settings):
    dashboard = FakeDashboard(RECORDED)
    logs = run(backend_on(dashboard, settings).logs("acme", "cls", 20))
    replica = RECORDED["applications"]["argus:acme:cls"]["deployments"]["ArgusReplica"]["replicas"][0]
    assert [replica_id for replica_id, _ in logs] == [replica["replica_id"]]
    assert any("loaded tiny-cls/1" in line for line in logs[0][1])
    assert dashboard.log_requests == [{"node_id": replica["node_id"], "lines": "20",
                                       "filename": replica["log_file_path"].lstrip("/")}]
    assert run(backend_on(dashboard, settings).logs("acme", "nothing", 20)) == []


def test_following_a_log_yields_only_lines_past_what_was_seen():
    assert _after([], ["a", "b"]) == ["a", "b"]
    assert _after(["a", "b", "c"], ["b", "c", "d", "e"]) == ["d", "e"]
    assert _after(["a", "b"], ["a", "b"]) == []
    assert _after(["x"], ["a", "b"]) == ["a", "b"]  # rotated past what was seen: everything is new


def test_an_application_ray_is_still_deleting_is_deployed_again_only_once_it_is_gone(settings: Settings):
    status = copy.deepcopy(RECORDED)
    status["applications"]["argus:acme:cls"]["status"] = "DELETING"
    dashboard = FakeDashboard(status)
    backend = backend_on(dashboard, settings)
    run(backend.apply({}))  # wanted gone, and going: nothing to send for it
    assert [app["name"] for app in dashboard.puts[-1]["applications"]] == ["someone-else"]  # broken/1 removed
    dashboard.status["applications"]["argus:acme:cls"] = status["applications"]["argus:acme:cls"]
    run(backend.observe())  # as each controller pass does before it applies
    run(backend.apply({("acme", "cls"): Desired(CLS, 1)}))  # woken while Ray deletes it
    assert len(dashboard.puts) == 1
    del dashboard.status["applications"]["argus:acme:cls"]
    run(backend.observe())
    run(backend.apply({("acme", "cls"): Desired(CLS, 1)}))
    assert [app["name"] for app in dashboard.puts[-1]["applications"]] == ["someone-else", "argus:acme:cls"]
