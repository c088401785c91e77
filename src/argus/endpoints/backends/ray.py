"""Ray Serve backend: each endpoint is a Serve application, driven over HTTP (this process never imports ray).

- **Apply**: one declarative config, ``PUT /api/serve/applications/`` on the dashboard, holding this server's
  endpoints (``num_replicas`` from the controller's policy; an endpoint at zero replicas, or paused, is left out) and
  every other declarative application on the cluster as it is deployed, so they are left alone. A config is sent
  only when what runs differs from what is wanted (generation, replica count, arguments). A changed generation
  changes the application's arguments, which Ray rolls replica by replica.
- **Observe**: ``GET /api/serve/applications/``; replicas with their state, pid and node; DEPLOY_FAILED with the
  constructor's error (the model that cannot load).
- **Traffic**: through the Serve proxy at ``<serve url>/argus/<namespace>/<name>``, with a private key per
  endpoint (an HMAC of the replica key file, so a restarted server knows it again). Ray's proxy answers
  anyone who reaches it: bind it to loopback or a private network only this server reaches.
- **Logs**: ``GET /api/v0/logs/file`` for each replica's Serve log, where the replica's ``argus`` logger writes.

Ray's REST API shows an application's arguments to anyone with the token, so the key and the endpoint's ``env`` and
``secrets`` go sealed (:mod:`argus.cli.ray_replica`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil  # type: ignore[import-untyped]

from argus.endpoints.backends.base import (
    Desired,
    ManagedBackend,
    Observed,
    ObservedReplica,
    ReplicaPhase,
    ReplicaSpec,
)
from argus.endpoints.backends.environment import serving_environment, user_environment
from argus.endpoints.ray_cluster import LocalRayCluster, RayConnection
from argus.endpoints.secrets import SecretKeyError, ensure_key_file, open_json, seal_json
from argus.errors import ServerError
from argus.settings import Settings

logger = logging.getLogger(__name__)


class RayBackendError(ServerError):
    """The cluster cannot be reached, refused a config, or is set up in a way Argus will not change."""

    status_code = 502
    code = "ray_backend_error"

IMPORT_PATH = "argus.cli.ray_replica:build"
DEPLOYMENT = "ArgusReplica"
APPLICATIONS = "/api/serve/applications/"
PHASES = {"STARTING": ReplicaPhase.STARTING, "UPDATING": ReplicaPhase.STARTING, "RECOVERING": ReplicaPhase.STARTING,
          "RUNNING": ReplicaPhase.READY, "PENDING_MIGRATION": ReplicaPhase.READY, "STOPPING": ReplicaPhase.DRAINING}
"""Ray's replica states (``ReplicaState`` in ray.serve) as the router sees them."""
FOLLOW_POLL_S = 1.0
FOLLOW_LINES = 200


def app_name(namespace: str, name: str) -> str:
    """The Serve application of an endpoint (``:`` is in neither a namespace nor a name)."""
    return f"argus:{namespace}:{name}"


def route_prefix(namespace: str, name: str) -> str:
    """Where the Serve proxy routes the endpoint's traffic."""
    return f"/argus/{namespace}/{name}"


def failure_reason(message: str) -> str:
    """The line of Ray's DEPLOY_FAILED message that says why (the constructor's exception), module path dropped."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    raised = [line for line in lines if ": " in line and line.split(": ", 1)[0].rsplit(".", 1)[-1].endswith("Error")]
    reason = raised[-1] if raised else (lines[-1] if lines else "Ray could not deploy the replicas")
    head, _, rest = reason.partition(": ")
    return f"{head.rsplit('.', 1)[-1]}: {rest}"[:600] if rest else reason[:600]


def replica_key_file(settings: Settings) -> Path:
    """The Fernet key file that seals replica arguments (created 0600 on first use)."""
    path = (settings.ray_replica_key_file or settings.home_dir / "ray" / "replica.key").expanduser()
    ensure_key_file(path)
    return path


class RayServeBackend(ManagedBackend):
    """Endpoints as applications of one Ray Serve cluster."""

    vendor = "ray"

    def __init__(self, settings: Settings, connection: RayConnection, *, key_file: Path,
                 cluster: LocalRayCluster | None = None, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        self.connection = connection
        self.key_file = key_file
        self._key = key_file.read_bytes().strip()
        self.cluster = cluster
        """A cluster this server started (stopped with it); None when connected to an operator's."""
        headers = {"authorization": f"Bearer {connection.token}"} if connection.token else {}
        self._http = httpx.AsyncClient(base_url=connection.dashboard_url.rstrip("/"), headers=headers,
                                       timeout=httpx.Timeout(30.0), trust_env=False, transport=transport)
        self._status: dict[str, Any] = {}
        self._sealed: dict[tuple[str, str], tuple[str, str]] = {}
        """Per endpoint: the sealed payload's plain JSON and its ciphertext (Fernet is randomised: reused so an
        unchanged endpoint keeps unchanged arguments, which Ray would otherwise roll)."""
        self._cpu: dict[int, psutil.Process] = {}
        self._local_ips = _local_addresses()

    # ------------------------------------------------------------------ traffic

    def private_key(self, spec: ReplicaSpec) -> str:
        """The key the router sends to the endpoint's replicas: derived, so a restarted server knows it again; one
        for every generation, since during a rolling update Ray's proxy picks an old or a new replica."""
        message = f"{spec.namespace}/{spec.name}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    @property
    def serve_url(self) -> str:
        """The Serve proxy: as configured, else as the cluster reports it."""
        if self.connection.serve_url:
            return self.connection.serve_url.rstrip("/")
        options = self._status.get("http_options") or {}
        host = options.get("host") or "127.0.0.1"
        if host in ("0.0.0.0", "::"):
            host = urlsplit(self.connection.dashboard_url).hostname or "127.0.0.1"
        return f"http://{host}:{options.get('port', 8000)}"

    def address(self, spec: ReplicaSpec) -> tuple[str, dict[str, str]]:
        """The endpoint's route on the proxy and its generation's key."""
        return (self.serve_url + route_prefix(spec.namespace, spec.name),
                {"authorization": f"Bearer {self.private_key(spec)}"})

    # ------------------------------------------------------------------ observe

    async def _fetch(self) -> dict[str, Any]:
        response = await self._http.get(APPLICATIONS)
        if response.status_code != 200:
            raise RayBackendError(f"Ray's dashboard answered {response.status_code} to {APPLICATIONS}: "
                                     f"{response.text[:300]}")
        self._status = response.json()
        return self._status

    def _ours(self) -> dict[tuple[str, str], dict[str, Any]]:
        """This server's applications in the last status, by endpoint."""
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for application in (self._status.get("applications") or {}).values():
            config = application.get("deployed_app_config") or {}
            args = config.get("args") or {}
            if config.get("import_path") == IMPORT_PATH and "namespace" in args and "name" in args \
                    and application.get("name") == app_name(args["namespace"], args["name"]):
                found[(args["namespace"], args["name"])] = application
        return found

    async def observe(self) -> dict[tuple[str, str], Observed]:
        """Every endpoint application with its replicas, generation and failure."""
        await self._fetch()
        observed: dict[tuple[str, str], Observed] = {}
        for key, application in self._ours().items():
            deployment = _deployment(application)
            replicas = tuple(ObservedReplica(id=str(r["replica_id"]), phase=PHASES[r["state"]], pid=r.get("pid"),
                                             node_ip=r.get("node_ip"))
                             for r in deployment.get("replicas") or () if r.get("state") in PHASES)
            failure = None
            if application.get("status") == "DEPLOY_FAILED":
                failure = failure_reason(deployment.get("message") or application.get("message") or "")
            generation = application["deployed_app_config"]["args"].get("generation")
            observed[key] = Observed(replicas, failure=failure, generation=generation)
        return observed

    def cpu_percent(self, replica: ObservedReplica) -> float:
        """psutil's reading for replicas on this machine; 0 for others (their CPU is not visible here)."""
        if replica.pid is None or replica.node_ip not in self._local_ips:
            return 0.0
        try:
            process = self._cpu.get(replica.pid)
            if process is None:
                process = self._cpu[replica.pid] = psutil.Process(replica.pid)
            return float(process.cpu_percent(None))
        except psutil.Error:
            self._cpu.pop(replica.pid, None)
            return 0.0

    # ------------------------------------------------------------------ apply

    def _sealed_payload(self, spec: ReplicaSpec, deployed: str | None) -> str:
        plain = json.dumps({"api_key": self.private_key(spec), "env": user_environment(spec.env)}, sort_keys=True)
        key = (spec.namespace, spec.name)
        cached = self._sealed.get(key)
        if cached is not None and cached[0] == plain:
            return cached[1]
        if deployed is not None:  # after a restart: keep what runs if it says the same
            try:
                if json.dumps(open_json(self._key, deployed), sort_keys=True) == plain:
                    self._sealed[key] = (plain, deployed)
                    return deployed
            except (SecretKeyError, ValueError, TypeError):
                pass
        self._sealed[key] = (plain, seal_json(self._key, json.loads(plain)))
        return self._sealed[key][1]

    def _application(self, desired: Desired, deployed: dict[str, Any] | None) -> dict[str, Any]:
        spec = desired.spec
        deployed_args = ((deployed or {}).get("deployed_app_config") or {}).get("args") or {}
        args = {"namespace": spec.namespace, "name": spec.name, "model_id": spec.model_id,
                "generation": spec.generation, "health_route": spec.health_route,
                "settings": serving_environment(self.settings, model_id=spec.model_id),
                "sealed": self._sealed_payload(spec, deployed_args.get("sealed")), "key_file": str(self.key_file)}
        return {"name": app_name(spec.namespace, spec.name), "route_prefix": route_prefix(spec.namespace, spec.name),
                "import_path": IMPORT_PATH, "args": args,
                "deployments": [{"name": DEPLOYMENT, "num_replicas": desired.replicas,
                                 "ray_actor_options": {"num_cpus": self.settings.ray_replica_cpus},
                                 "max_ongoing_requests": 32, "health_check_period_s": 2.0,
                                 "health_check_timeout_s": 10.0, "max_constructor_retry_count": 2,
                                 "graceful_shutdown_timeout_s": self.settings.endpoint_drain_timeout_s}]}

    @staticmethod
    def _runs(application: dict[str, Any] | None, wanted: dict[str, Any] | None) -> bool:
        """Whether what is deployed is what is wanted (both None: nothing, as wanted)."""
        if application is None or wanted is None:
            return (application is None or application.get("status") == "DELETING") and wanted is None
        if application.get("status") == "DELETING":
            return False
        deployed = application.get("deployed_app_config") or {}
        return deployed.get("args") == wanted["args"] and \
            [d.get("num_replicas") for d in deployed.get("deployments") or ()] == [wanted["deployments"][0]["num_replicas"]]

    async def apply(self, desired: dict[tuple[str, str], Desired]) -> None:
        """Send one config if anything this server wants differs from what the cluster runs."""
        if not self._status:
            await self._fetch()
        ours = self._ours()
        wanted = {key: self._application(d, ours.get(key)) for key, d in desired.items() if d.replicas > 0}
        if all(self._runs(ours.get(key), wanted.get(key)) for key in set(ours) | set(wanted)):
            return
        if any((ours.get(key) or {}).get("status") == "DELETING" for key in wanted):
            return  # Ray is still removing it (scaled to zero a moment ago): deploy it again once it is gone
        applications = list((self._status.get("applications") or {}).values())
        imperative = [a["name"] for a in applications if a.get("source") == "imperative"]
        if imperative:
            raise RayBackendError(f"The Ray cluster runs applications deployed with serve.run ({imperative}); a "
                                     "declarative config would replace them, so Argus does not apply one.")
        mine = {app_name(*key) for key in ours}
        others = [a["deployed_app_config"] for a in applications
                  if a.get("name") not in mine and a.get("deployed_app_config")]
        config = {"proxy_location": self._status.get("proxy_location") or "HeadOnly",
                  "http_options": self._http_options(), "applications": others + list(wanted.values())}
        response = await self._http.put(APPLICATIONS, json=config)
        if response.status_code >= 300:
            raise RayBackendError(f"Ray refused the endpoint config ({response.status_code}): {response.text[:500]}")
        await self._fetch()

    def _http_options(self) -> dict[str, Any]:
        """Serve's proxy address: as running, else from ``ARGUS_RAY_SERVE_URL`` (its host is where it binds)."""
        running = self._status.get("http_options") or {}
        if self._status.get("proxies"):
            return {"host": running.get("host"), "port": running.get("port")}
        parts = urlsplit(self.connection.serve_url or "http://127.0.0.1:8000")
        return {"host": parts.hostname or "127.0.0.1", "port": parts.port or 8000}

    # ------------------------------------------------------------------ logs

    def _replicas_of(self, namespace: str, name: str) -> list[dict[str, Any]]:
        return list(_deployment(self._ours().get((namespace, name)) or {}).get("replicas") or ())

    async def _replica_log(self, replica: dict[str, Any], lines: int) -> list[str]:
        params = {"node_id": replica["node_id"], "filename": str(replica["log_file_path"]).lstrip("/"),
                  "lines": lines}
        try:
            response = await self._http.get("/api/v0/logs/file", params=params)
        except httpx.HTTPError as error:
            return [f"(Ray's log API failed: {error})"]
        if response.status_code != 200:
            return [f"(Ray's log API answered {response.status_code})"]
        return response.text.splitlines()[-lines:] if lines else []

    async def logs(self, namespace: str, name: str, tail: int) -> list[tuple[str, list[str]]]:
        """The last ``tail`` lines of each replica's Serve log (the replicas as the controller's last pass saw them)."""
        if not self._status:
            await self._fetch()
        replicas = self._replicas_of(namespace, name)
        texts = await asyncio.gather(*(self._replica_log(r, tail) for r in replicas))
        return [(str(r["replica_id"]), lines) for r, lines in zip(replicas, texts, strict=True)]

    async def follow(self, namespace: str, name: str) -> AsyncIterator[str]:
        """New lines of each replica's log, found by polling its tail (Ray's log API has no offsets)."""
        seen = {replica: lines for replica, lines in await self.logs(namespace, name, FOLLOW_LINES)}
        while True:
            await asyncio.sleep(FOLLOW_POLL_S)
            chunks: list[str] = []
            for replica, lines in await self.logs(namespace, name, FOLLOW_LINES):
                chunks.extend(f"[{replica}] {line}\n" for line in _after(seen.get(replica, []), lines))
                seen[replica] = lines
            yield "".join(chunks)

    def forget(self, namespace: str, name: str) -> None:
        """Ray keeps replica logs with its session; nothing to drop here."""
        self._sealed.pop((namespace, name), None)

    async def close(self) -> None:
        """Close the client; stop the cluster if this server started it (a connected one keeps running, and
        keeps serving the endpoints: a restarted server adopts them)."""
        await self._http.aclose()
        if self.cluster is not None:
            await asyncio.to_thread(self.cluster.stop)


def _deployment(application: dict[str, Any]) -> dict[str, Any]:
    """The Argus deployment of an application in Ray's status ({} when Ray lists none yet)."""
    return dict((application.get("deployments") or {}).get(DEPLOYMENT) or {})


def _after(before: list[str], now: list[str]) -> list[str]:
    """Lines of ``now`` (a later tail of the same log) not in ``before``."""
    if not before:
        return now
    for start in range(len(now), -1, -1):  # the longest end of `before` that `now` starts with
        overlap = now[:start]
        if overlap and before[-len(overlap):] == overlap:
            return now[start:]
    return now


def _local_addresses() -> set[str]:
    addresses = {"127.0.0.1", "::1"}
    try:
        addresses.update(str(info[4][0]) for info in socket.getaddrinfo(socket.gethostname(), None))
    except OSError:
        pass
    return addresses


async def connect(settings: Settings) -> RayServeBackend:
    """The backend for ``ARGUS_ENDPOINT_BACKEND=ray``: a cluster started here (``ARGUS_RAY_START``) or the one at
    ``ARGUS_RAY_ADDRESS``."""
    key_file = replica_key_file(settings)
    if settings.ray_start:
        cluster = LocalRayCluster(num_cpus=settings.ray_num_cpus or os.cpu_count() or 1)
        connection = cluster.launch()  # from the event loop's thread: the cluster ends with it
        connection = await asyncio.to_thread(cluster.wait_ready, connection)
        return RayServeBackend(settings, connection, key_file=key_file, cluster=cluster)
    if not settings.ray_address:
        raise RayBackendError("ARGUS_ENDPOINT_BACKEND=ray needs ARGUS_RAY_ADDRESS (the cluster's dashboard URL) "
                                 "or ARGUS_RAY_START=true (a local cluster for development).")
    token = settings.ray_token_file.expanduser().read_text().strip() if settings.ray_token_file else None
    if token is None:
        logger.warning("connecting to Ray at %s without a token (ARGUS_RAY_TOKEN_FILE): its dashboard should "
                       "require one (RAY_AUTH_MODE=token), since it deploys code", settings.ray_address)
    return RayServeBackend(settings, RayConnection(settings.ray_address, settings.ray_serve_url or "", token),
                           key_file=key_file)
