"""The endpoint control plane: ``/v2/endpoint/{namespace}[/{name}[/action]]`` (the Inference Endpoints API).

Keys come as ``Authorization: Bearer <key>`` (what ``huggingface_hub`` sends) or ``?api_key=``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import datetime
from ipaddress import ip_address
from typing import TYPE_CHECKING, Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import PlainTextResponse, StreamingResponse

from argus.endpoints.spec import EndpointSpec
from argus.errors import InvalidInputError
from argus.server.auth import presented_key
from argus.server.deps import endpoint_plane as plane
from argus.server.openapi import json_body_of
from argus.server.responses import ORJSONResponse

if TYPE_CHECKING:
    from argus.endpoints.keys import Principal
    from argus.endpoints.service import EndpointService

router = APIRouter(prefix="/v2/endpoint", tags=["endpoints"])

FOLLOW_WINDOW_S = 30.0
"""A followed log stream ends after this long (clients reconnect), so an open stream never holds up the
server's graceful shutdown for long."""


async def caller(request: Request) -> tuple[EndpointService, Principal]:
    """The service and who is calling (401 for a wrong key)."""
    service, _ = plane(request)
    return service, await service.principal(await presented_key(request), control_plane=True, local=_local(request))


def _local(request: Request) -> bool:
    """True for a loopback client (or an in-process one, which has no address)."""
    if request.client is None:
        return True
    try:
        return ip_address(request.client.host).is_loopback
    except ValueError:
        return request.client.host in ("localhost", "testclient")


async def json_body(request: Request) -> Any:
    """The request's JSON, or a 400 that says so."""
    raw = await request.body()
    if not raw:
        raise InvalidInputError("The body is empty; send the endpoint as JSON.")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise InvalidInputError(f"The body is not valid JSON: {error}") from None


def _base(request: Request) -> str:
    return str(request.base_url)


@router.get("/{namespace}")
async def list_endpoints(request: Request, namespace: str) -> ORJSONResponse:
    """``{"items": [Endpoint, ...]}``."""
    service, principal = await caller(request)
    service.require_read(principal, namespace)
    return ORJSONResponse({"items": [service.render(r, _base(request)) for r in service.list_endpoints(namespace)]})


@router.post("/{namespace}", status_code=201,
             openapi_extra=json_body_of(EndpointSpec, "The endpoint to create (the Inference Endpoints resource)."))
async def create_endpoint(request: Request, namespace: str) -> ORJSONResponse:
    """Create an endpoint."""
    service, principal = await caller(request)
    runtime = await service.create(principal, namespace, await json_body(request))
    return ORJSONResponse(service.render(runtime, _base(request)), status_code=201)


@router.get("/{namespace}/{name}")
async def get_endpoint(request: Request, namespace: str, name: str) -> ORJSONResponse:
    """One endpoint."""
    service, principal = await caller(request)
    service.require_read(principal, namespace)
    return ORJSONResponse(service.render(service.runtime(namespace, name), _base(request)))


@router.put("/{namespace}/{name}",
            openapi_extra=json_body_of(EndpointSpec, "The fields of the endpoint to change (a partial spec).",
                                       partial=True))
async def update_endpoint(request: Request, namespace: str, name: str) -> ORJSONResponse:
    """Partial update; a model change rolls replicas without dropping requests."""
    service, principal = await caller(request)
    runtime = await service.update(principal, namespace, name, await json_body(request))
    return ORJSONResponse(service.render(runtime, _base(request)))


@router.delete("/{namespace}/{name}", status_code=204)
async def delete_endpoint(request: Request, namespace: str, name: str) -> Response:
    """Delete an endpoint (its replicas drain and stop)."""
    service, principal = await caller(request)
    await service.delete(principal, namespace, name)
    return Response(status_code=204)


@router.post("/{namespace}/{name}/pause")
async def pause_endpoint(request: Request, namespace: str, name: str) -> ORJSONResponse:
    """Zero replicas until resumed."""
    service, principal = await caller(request)
    runtime = await service.set_paused(principal, namespace, name, True)
    return ORJSONResponse(service.render(runtime, _base(request)))


@router.post("/{namespace}/{name}/resume")
async def resume_endpoint(request: Request, namespace: str, name: str) -> ORJSONResponse:
    """Back to the scaling range."""
    service, principal = await caller(request)
    runtime = await service.set_paused(principal, namespace, name, False)
    return ORJSONResponse(service.render(runtime, _base(request)))


@router.post("/{namespace}/{name}/scale-to-zero")
async def scale_to_zero(request: Request, namespace: str, name: str) -> ORJSONResponse:
    """Drop replicas now; the next request wakes the endpoint."""
    service, principal = await caller(request)
    runtime = await service.scale_to_zero(principal, namespace, name)
    return ORJSONResponse(service.render(runtime, _base(request)))


@router.get("/{namespace}/{name}/metrics")
async def endpoint_metrics(request: Request, namespace: str, name: str, since: datetime | None = None,
                           limit: Annotated[int, Query(ge=1, le=10_000)] = 360) -> ORJSONResponse:
    """Requests, errors, latency quantiles and replicas over time."""
    service, principal = await caller(request)
    service.require_read(principal, namespace)
    return ORJSONResponse(await service.metrics(service.runtime(namespace, name), since, limit))


@router.get("/{namespace}/{name}/logs", response_model=None)
async def endpoint_logs(request: Request, namespace: str, name: str,
                        tail: Annotated[int, Query(ge=0, le=10_000)] = 200,
                        follow: bool = False) -> PlainTextResponse | StreamingResponse:
    """Recent replica logs as text, each line prefixed with its replica; ``follow=true`` streams new lines
    for up to 30 s (follow again with ``tail=0`` to go on)."""
    service, principal = await caller(request)
    service.require_manage(principal, namespace)
    service.runtime(namespace, name)
    text = "".join(f"[{replica}] {line}\n"
                   for replica, lines in await service.controller.backend.logs(namespace, name, tail) for line in lines)
    if not follow:
        return PlainTextResponse(text)
    return StreamingResponse(_follow(request, service, namespace, name, text), media_type="text/plain")


async def _follow(request: Request, service: EndpointService, namespace: str, name: str,
                  first: str) -> AsyncIterator[str]:
    """Yield ``first``, then the backend's new lines, until the client leaves, the endpoint goes or the window ends."""
    yield first
    until = time.monotonic() + FOLLOW_WINDOW_S
    async for chunk in service.controller.backend.follow(namespace, name):
        if await request.is_disconnected() or (namespace, name) not in service.controller.runtimes \
                or time.monotonic() >= until:
            return
        if chunk:
            yield chunk
