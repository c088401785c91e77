"""API keys of a namespace (create / list / revoke; the secret is shown once) and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from argus.endpoints.keys import Role
from argus.endpoints.spec import Name, iso
from argus.errors import InvalidInputError
from argus.server.openapi import json_body_of
from argus.server.responses import ORJSONResponse
from argus.server.routes.endpoints import caller, json_body

if TYPE_CHECKING:
    from argus.endpoints.tables import ApiKeyRow

router = APIRouter(prefix="/v2", tags=["endpoint keys"])


class KeyRequest(BaseModel):
    """Body of ``POST /v2/endpoint-keys/{namespace}``."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(max_length=128)] = ""
    role: Role = Role.INVOKE
    endpoints: list[Name] | None = Field(default=None, max_length=256)
    """Endpoints the key may call; omitted: every endpoint of the namespace."""


def key_json(row: ApiKeyRow) -> dict[str, Any]:
    """A key as the API shows it (never its secret or digest)."""
    return {"id": row.id, "namespace": row.namespace, "name": row.name, "role": row.role,
            "endpoints": row.endpoints, "prefix": row.prefix, "createdBy": row.created_by,
            "createdAt": iso(row.created_at), "revokedAt": iso(row.revoked_at) if row.revoked_at else None}


@router.post("/endpoint-keys/{namespace}", status_code=201,
             openapi_extra=json_body_of(KeyRequest, "The key to create: its name, role and endpoints."))
async def create_key(request: Request, namespace: str) -> ORJSONResponse:
    """A new key; the response's ``secret`` is the only time it is shown."""
    service, principal = await caller(request)
    try:
        body = KeyRequest.model_validate(await json_body(request))
    except ValidationError as error:
        details = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in error.errors()[:5])
        raise InvalidInputError(f"Invalid key request: {details}") from None
    created = await service.create_key(principal, namespace, name=body.name, role=body.role,
                                       endpoints=body.endpoints)
    return ORJSONResponse({**key_json(created.row), "secret": created.secret}, status_code=201)


@router.get("/endpoint-keys/{namespace}")
async def list_keys(request: Request, namespace: str, include_revoked: bool = False) -> ORJSONResponse:
    """The namespace's keys."""
    service, principal = await caller(request)
    rows = await service.list_keys(principal, namespace, include_revoked)
    return ORJSONResponse({"items": [key_json(row) for row in rows]})


@router.delete("/endpoint-keys/{namespace}/{key_id}")
async def revoke_key(request: Request, namespace: str, key_id: str) -> ORJSONResponse:
    """Revoke a key."""
    service, principal = await caller(request)
    return ORJSONResponse(key_json(await service.revoke_key(principal, namespace, key_id)))


@router.get("/endpoint-audit/{namespace}")
async def audit_log(request: Request, namespace: str, action: str | None = None, target: str | None = None,
                    since: datetime | None = None,
                    limit: Annotated[int, Query(ge=1, le=10_000)] = 100) -> ORJSONResponse:
    """Who did what, when (newest first)."""
    service, principal = await caller(request)
    rows = await service.audit_log(principal, namespace, action=action, target=target, since=since, limit=limit)
    return ORJSONResponse({"items": [{"at": iso(r.at), "actor": r.actor, "action": r.action,
                                      "namespace": r.namespace, "target": r.target, "detail": r.detail}
                                     for r in rows]})
