"""An endpoint replica inside Ray Serve: Argus's HTTP app for one model (imported by the cluster, never by the server).

The Argus server deploys ``argus.cli.ray_replica:build`` with :class:`ReplicaArgs` as the application's
arguments. The constructor loads the model, so a replica Ray reports RUNNING has it loaded, and a model that cannot
load fails the constructor: Ray retries it, then reports the application DEPLOY_FAILED with the error, which the
server shows as the endpoint's failed state. ``check_health`` asks the endpoint's health route in-process.

Ray's REST API shows an application's arguments to anyone with the cluster token, so the private key the router
sends and the endpoint's ``env`` and ``secrets`` travel sealed (Fernet) with a key file that the server and every node
share (``ARGUS_RAY_REPLICA_KEY_FILE``); the arguments hold only the serving settings and the ciphertext.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import httpx
import orjson
from pydantic import BaseModel, ConfigDict
from ray import serve
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from argus.endpoints.router import ModelBody
from argus.endpoints.secrets import open_json
from argus.server.responses import send_json


def bind_to_node_address() -> None:
    """Make Serve bind each replica's inter-deployment gRPC server to this node's address, not every interface.

    Serve 2.60 starts it on ``[::]:0`` (hard-coded in ``ray.serve._private.replica``), so a replica would listen on
    every network of the machine. The node's address is loopback on a local cluster, and on a real one the private
    network the operator gave ``ray start --node-ip-address``, which the other nodes use. Patched here because this
    module is imported in the replica's process before Serve starts that server; Ray is pinned (the ``ray`` extra).
    """
    import ray
    from ray.serve._private import replica as serve_replica

    unpatched = serve_replica.add_port_to_grpc_server
    if getattr(unpatched, "argus_bound", False):
        return

    def bound(server: Any, address: str) -> Any:
        if address.startswith("[::]:"):
            node = ray.util.get_node_ip_address()
            address = f"[{node}]:{address[5:]}" if ":" in node else f"{node}:{address[5:]}"
        return unpatched(server, address)

    bound.argus_bound = True  # type: ignore[attr-defined]
    serve_replica.add_port_to_grpc_server = bound


bind_to_node_address()


class ReplicaArgs(BaseModel):
    """What the server puts in the application's ``args`` (nothing secret)."""

    model_config = ConfigDict(extra="forbid")

    namespace: str
    name: str
    model_id: str
    generation: int
    health_route: str
    settings: dict[str, str]
    """``ARGUS_*`` serving settings (:func:`~argus.endpoints.backends.environment.serving_environment`)."""
    sealed: str
    """``{"api_key": ..., "env": {...}}`` sealed with the key in ``key_file``."""
    key_file: str


class OwnModel:
    """ASGI wrapper: paths as the app expects them, and JSON inference bodies naming this replica's model.

    Serve passes the application's route prefix as ``root_path`` and keeps it in ``path``; the app's own middleware
    matches the path without it. During a rolling update Ray's proxy may send a request to an old replica whose
    model differs from the one the router named, so the replica names its own (as the router does for local replicas).
    """

    def __init__(self, app: ASGIApp, model_id: str, max_body_bytes: int) -> None:
        self.app = app
        self.model_id = model_id
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        root = scope.get("root_path", "")
        path = scope["path"]
        if root and path.startswith(root):
            path = path[len(root):] or "/"
        scope = {**scope, "path": path, "raw_path": path.encode(), "root_path": ""}
        if scope["method"] != "POST" or not path.startswith("/infer/"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_body_bytes:  # the app's own limit, before the body is held whole here
                await send_json(send, 413, orjson.dumps({"message": f"The request body is larger than "
                                                                    f"{self.max_body_bytes} bytes."}))
                return
            more = message.get("more_body", False)
        content_type = dict(scope["headers"]).get(b"content-type", b"")
        body = ModelBody(path.lstrip("/"), content_type, b"".join(chunks)).for_model(self.model_id)
        headers = [(k, v) for k, v in scope["headers"] if k != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app({**scope, "headers": headers}, replay, send)


@serve.deployment
@serve.ingress()
class ArgusReplica:
    """One replica: the model loaded in the constructor, the app built after it."""

    def __init__(self, args: dict[str, Any]) -> None:
        spec = ReplicaArgs.model_validate(args)
        opened = open_json(Path(spec.key_file).read_bytes().strip(), spec.sealed)
        os.environ.update(opened["env"])
        os.environ.update(spec.settings)
        os.environ.update({"ARGUS_API_KEYS": opened["api_key"], "ARGUS_PRELOAD_MODELS": spec.model_id})
        from argus.server.app import create_app
        from argus.settings import Settings

        argus_logger = logging.getLogger("argus")  # into the replica's Serve log, which the server reads
        argus_logger.handlers, argus_logger.propagate = list(logging.getLogger("ray.serve").handlers), False
        argus_logger.setLevel(logging.INFO)
        self._app = create_app(Settings())
        self._app.state.argus.manager.load(spec.model_id)  # raises: Ray reports DEPLOY_FAILED with the reason
        self._health = (spec.health_route, {"authorization": f"Bearer {opened['api_key']}"})
        self._asgi = OwnModel(self._app, spec.model_id, self._app.state.argus.settings.max_body_bytes)

    def __serve_build_asgi_app__(self) -> ASGIApp:
        """The app Serve runs (its lifespan too)."""
        return self._asgi

    async def check_health(self) -> None:
        """Raises unless the endpoint's health route answers 200 (Ray then replaces the replica)."""
        route, headers = self._health
        transport = httpx.ASGITransport(app=self._app)
        async with httpx.AsyncClient(transport=transport, base_url="http://replica") as client:
            response = await client.get(route, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"{route} answered {response.status_code}: {response.text[:300]}")


def build(args: dict[str, Any]) -> serve.Application:
    """The application Serve builds from the config's ``import_path`` and ``args``."""
    return ArgusReplica.bind(args)  # type: ignore[attr-defined]  # serve.deployment makes it a Deployment
