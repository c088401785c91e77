"""Traffic to endpoints: ``/endpoints/{namespace}/{name}/<any route the model speaks>`` → a replica."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request, Response
from starlette.routing import Route

from argus.endpoints.exposure import check_exposed
from argus.endpoints.keys import can_invoke
from argus.endpoints.router import SCALE_UP_HEADER, hold_seconds
from argus.endpoints.spec import EndpointType
from argus.errors import ForbiddenError, UnauthorizedError
from argus.server.auth import presented_key
from argus.server.deps import endpoint_plane as plane
from argus.server.deps import get_state
from argus.server.replica_scope import exposed_model

router = APIRouter(tags=["endpoint traffic"])

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def _without_key(query: str) -> str:
    """The query string minus ``api_key`` (the replica has its own key; the caller's stays here)."""
    if "api_key" not in query:
        return query
    return urlencode([(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "api_key"])


async def forward(request: Request) -> Response:
    """Check the caller against the endpoint's type, then forward to the least busy ready replica."""
    namespace, name, path = (request.path_params[k] for k in ("namespace", "name", "path"))
    service, endpoint_router = plane(request)
    runtime = service.runtime(namespace, name)
    if runtime.kind != EndpointType.PUBLIC:
        key = await presented_key(request)
        principal = await service.principal(key, control_plane=False)
        if not can_invoke(principal, namespace, name, runtime.kind):
            if key is None:
                raise UnauthorizedError(f"Endpoint '{name}' is {runtime.kind.value}: send an API key "
                                        "('Authorization: Bearer <key>').")
            raise ForbiddenError(f"This API key may not call endpoint '{name}'.")
    state = get_state(request)
    check_exposed(request.method, path, exposed_model(state.manager, runtime.spec.model.model_id,
                                                      state.exposed_models), name)
    hold = hold_seconds(request.headers.get(SCALE_UP_HEADER), service.settings.endpoint_max_hold_s)
    body = await request.body()
    answer = await endpoint_router.forward(runtime, request.method, path, _without_key(request.url.query),
                                           request.scope["headers"], body, hold)
    response = Response(content=answer.content, status_code=answer.status)
    response.raw_headers.extend(answer.headers)
    return response


# A plain Starlette route: FastAPI's dependency solving adds a measurable share of the router's overhead, and this
# handler needs none of it (errors still reach the app's handlers).
router.routes.append(Route("/endpoints/{namespace}/{name}/{path:path}", forward, methods=METHODS,
                           include_in_schema=False))
