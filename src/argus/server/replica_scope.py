"""An endpoint replica serves its model and nothing else (defence in depth behind the router's allowlist).

A server started with ``ARGUS_ENDPOINT_MODEL`` (the endpoint backends set it on every replica) answers only
the routes :func:`argus.endpoints.exposure.check_exposed` allows for that model; everything else, model
management, workflows, streams and ``/metrics`` included, is a 403 before any route runs. The model
manager refuses other model ids as well (a JSON body naming another model).
"""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from argus.endpoints.exposure import ExposedModel, check_exposed
from argus.errors import ForbiddenError
from argus.runtime.manager import ModelManager
from argus.server.responses import send_json


def exposed_model(manager: ModelManager, model_id: str, known: dict[str, ExposedModel]) -> ExposedModel:
    """The :class:`ExposedModel` for ``model_id`` (a store id or zoo alias), with its task once the store has it;
    kept in ``known`` from then on (a stored model does not change task)."""
    if model_id in known:
        return known[model_id]
    store_id = manager.resolve(model_id)
    task = manager.repository.manifest(store_id).task.value if manager.repository.exists(store_id) else None
    exposed = ExposedModel.of(store_id, alias=None if "/" in model_id else model_id, task=task)
    if task is not None:
        known[model_id] = exposed
    return exposed


class ReplicaScopeMiddleware:
    """Refuses (403) every request outside the endpoint model's serving surface."""

    def __init__(self, app: ASGIApp, manager: ModelManager, model_id: str) -> None:
        self.app = app
        self.manager = manager
        self.model_id = model_id
        self._known: dict[str, ExposedModel] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            try:
                check_exposed(scope["method"], scope["path"], exposed_model(self.manager, self.model_id, self._known),
                              "this replica's endpoint")
            except ForbiddenError as error:
                await send_json(send, 403, orjson.dumps({"message": error.message}))
                return
        await self.app(scope, receive, send)
