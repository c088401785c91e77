"""Control-plane operations: validate, check access, write the store and the audit log, tell the controller.

Store calls run in a worker thread; controller calls run on the event loop (its runtimes hold asyncio
primitives), so every public method here is a coroutine called from the server's loop.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from argus.endpoints.controller import EndpointController
from argus.endpoints.keys import (
    ANONYMOUS,
    Principal,
    Role,
    can_manage,
    can_read,
    open_admin,
    same_digest,
)
from argus.endpoints.runtime import EndpointRuntime
from argus.endpoints.spec import (
    NAMESPACE_PATTERN,
    EndpointSpec,
    EndpointState,
    EndpointStatus,
    iso,
    render,
    validate_spec,
)
from argus.endpoints.store import CreatedKey, EndpointStore
from argus.endpoints.tables import ApiKeyRow, AuditRow
from argus.errors import (
    ClientError,
    ForbiddenError,
    InvalidInputError,
    ModelNotFoundError,
    UnauthorizedError,
)
from argus.settings import Settings
from argus.store.repository import ModelRepository
from argus.store.zoo import Zoo

logger = logging.getLogger(__name__)

KEY_CACHE_S = 5.0
"""How long a key lookup is trusted (revocations through this server clear it at once)."""

_Result = TypeVar("_Result")


def audit_refusals(action: str) -> Callable[[Callable[..., Awaitable[_Result]]], Callable[..., Awaitable[_Result]]]:
    """Record a refused control-plane call (403, or 400 for what it asked) in the audit log: who, what, why.

    The decorated method takes ``(self, principal, namespace, target_or_body, ...)``.
    """
    def wrap(method: Callable[..., Awaitable[_Result]]) -> Callable[..., Awaitable[_Result]]:
        @functools.wraps(method)
        async def run(self: EndpointService, principal: Principal, namespace: str, *args: Any,
                      **kwargs: Any) -> _Result:
            try:
                return await method(self, principal, namespace, *args, **kwargs)
            except (ForbiddenError, InvalidInputError) as error:
                if NAMESPACE_PATTERN.match(namespace):
                    first = args[0] if args else kwargs.get("name", "")
                    target = str(first.get("name", "")) if isinstance(first, dict) else str(first)
                    await self._audit(principal, f"{action}.refused", namespace, target[:200],
                                      {"status": error.status_code, "reason": error.message[:500]})
                raise
        return run
    return wrap


class EndpointService:
    """What the HTTP routes call."""

    def __init__(self, settings: Settings, store: EndpointStore, controller: EndpointController) -> None:
        self.settings = settings
        self.store = store
        self.controller = controller
        self.server_keys = settings.all_api_keys
        self._repository = ModelRepository(settings.model_store_dir)
        self._zoo = Zoo(settings, self._repository)
        self._key_cache: dict[str, tuple[float, Principal | None]] = {}

    # ------------------------------------------------------------------ who is calling

    async def principal(self, key: str | None, *, control_plane: bool, local: bool = True) -> Principal:
        """The caller behind ``key``; 401 for a key that is wrong or revoked, or missing where one is needed.

        On a server without ``ARGUS_API_KEYS`` the control plane is open to ``local`` (loopback) callers, as
        every other route is, while endpoints still check their ``type``.
        """
        if key and any(same_digest(key, known) for known in self.server_keys):
            return Principal(actor="server-key", server_admin=True)
        if key:
            found = await self._lookup(key)
            if found is None:
                raise UnauthorizedError("The API key is not valid (unknown or revoked).")
            return found
        if control_plane and not self.server_keys and local:
            return open_admin()
        if control_plane and not self.server_keys:
            raise UnauthorizedError("Managing endpoints from another machine needs keys: start the server with "
                                    "ARGUS_API_KEYS and send 'Authorization: Bearer <key>'.")
        if control_plane:
            raise UnauthorizedError("An API key is required: send 'Authorization: Bearer <key>'.")
        return ANONYMOUS

    async def _lookup(self, secret: str) -> Principal | None:
        cached = self._key_cache.get(secret)
        if cached is not None and time.monotonic() - cached[0] < KEY_CACHE_S:
            return cached[1]
        row = await asyncio.to_thread(self.store.find_key, secret)
        principal = None if row is None else Principal(
            actor=f"key:{row.id}", namespace=row.namespace, role=Role(row.role),
            endpoints=tuple(row.endpoints) if row.endpoints is not None else None)
        if len(self._key_cache) > 10_000:
            self._key_cache.clear()
        self._key_cache[secret] = (time.monotonic(), principal)
        return principal

    @staticmethod
    def check_namespace(namespace: str) -> None:
        """400 for a malformed namespace."""
        if not NAMESPACE_PATTERN.match(namespace):
            raise InvalidInputError(f"Namespace {namespace[:80]!r} is not valid: use letters, digits, '_', '.', '-'.")

    def require_manage(self, principal: Principal, namespace: str) -> None:
        """403 unless ``principal`` administers ``namespace``."""
        self.check_namespace(namespace)
        if not can_manage(principal, namespace):
            raise ForbiddenError(f"This key may not manage namespace '{namespace}' (needs an admin key of it).")

    def require_read(self, principal: Principal, namespace: str) -> None:
        """403 unless ``principal`` holds a key of ``namespace``."""
        self.check_namespace(namespace)
        if not can_read(principal, namespace):
            raise ForbiddenError(f"This key may not read namespace '{namespace}'.")

    # ------------------------------------------------------------------ endpoints

    def runtime(self, namespace: str, name: str) -> EndpointRuntime:
        """The live endpoint, or 404."""
        return self.controller.get(namespace, name)

    def list_endpoints(self, namespace: str) -> list[EndpointRuntime]:
        """Endpoints of a namespace, by name."""
        return sorted((r for r in self.controller.runtimes.values() if r.namespace == namespace),
                      key=lambda r: r.name)

    def _check_model(self, spec: EndpointSpec) -> EndpointSpec:
        model_id = spec.model.model_id
        in_store = "/" in model_id and self._repository.exists(model_id)
        if not in_store and self._zoo.entry_for(model_id) is None:
            raise ModelNotFoundError(f"Model '{model_id}' is neither in the model store nor a zoo alias; import it "
                                     "first (`argus models import`) or see `argus zoo list`.")
        if spec.model.task is None and in_store:
            task = self._repository.manifest(model_id).task.value
            spec = spec.model_copy(update={"model": spec.model.model_copy(update={"task": task})})
        return spec

    @audit_refusals("endpoint.create")
    async def create(self, principal: Principal, namespace: str, body: Any) -> EndpointRuntime:
        """Create an endpoint (it starts at ``minReplica`` replicas)."""
        self.require_manage(principal, namespace)
        spec = await asyncio.to_thread(self._check_model, validate_spec(body))
        row = await asyncio.to_thread(self.store.create_endpoint, namespace, spec.name, spec.model_dump(mode="json"),
                                      target=spec.compute.scaling.minReplica, created_by=principal.actor)
        await self._audit(principal, "endpoint.create", namespace, spec.name, {"model": spec.model.model_id})
        return self.controller.apply(row)

    @audit_refusals("endpoint.update")
    async def update(self, principal: Principal, namespace: str, name: str, body: Any) -> EndpointRuntime:
        """Apply a partial update; a new model or environment rolls the replicas."""
        self.require_manage(principal, namespace)
        if not isinstance(body, dict):
            raise InvalidInputError("The body must be a JSON object with the fields to change.")
        runtime = self.runtime(namespace, name)
        spec = await asyncio.to_thread(self._check_model, runtime.spec.merged(body))
        rolled = spec.model.model_dump() != runtime.spec.model.model_dump() or spec.healthRoute != runtime.spec.healthRoute
        generation = runtime.generation + (1 if rolled else 0)
        row = await asyncio.to_thread(self.store.update_endpoint, runtime.id, spec=spec.model_dump(mode="json"),
                                      generation=generation)
        await self._audit(principal, "endpoint.update", namespace, name, {"changes": _redacted(body),
                                                                          "rolling": rolled})
        return self.controller.apply(row)

    @audit_refusals("endpoint.delete")
    async def delete(self, principal: Principal, namespace: str, name: str) -> None:
        """Delete an endpoint; its replicas drain and stop."""
        self.require_manage(principal, namespace)
        runtime = self.runtime(namespace, name)
        self.controller.remove(namespace, name)
        await asyncio.to_thread(self.store.delete_endpoint, runtime.id)
        self.controller.backend.forget(namespace, name)
        await self._audit(principal, "endpoint.delete", namespace, name)

    @audit_refusals("endpoint.pause_or_resume")
    async def set_paused(self, principal: Principal, namespace: str, name: str, paused: bool) -> EndpointRuntime:
        """Pause (zero replicas until resumed) or resume (back to the scaling range, at least one replica)."""
        self.require_manage(principal, namespace)
        runtime = self.runtime(namespace, name)
        if not paused and not runtime.paused and runtime.state == EndpointState.RUNNING:
            raise ClientError(f"Endpoint '{name}' is already running.")
        row = await asyncio.to_thread(self.store.update_endpoint, runtime.id, paused=paused)
        await self._audit(principal, "endpoint.pause" if paused else "endpoint.resume", namespace, name)
        return self.controller.apply(row, wake=not paused)

    @audit_refusals("endpoint.scale_to_zero")
    async def scale_to_zero(self, principal: Principal, namespace: str, name: str) -> EndpointRuntime:
        """Drop the replicas now; the next request wakes the endpoint."""
        self.require_manage(principal, namespace)
        runtime = self.runtime(namespace, name)
        if runtime.spec.compute.scaling.minReplica > 0:
            raise InvalidInputError(f"Endpoint '{name}' has minReplica {runtime.spec.compute.scaling.minReplica}; "
                                    "set minReplica to 0 to scale it to zero, or pause it.")
        if runtime.paused:
            raise InvalidInputError(f"Endpoint '{name}' is paused; resume it first.")
        self.controller.scale_to_zero(runtime)
        await self._audit(principal, "endpoint.scale_to_zero", namespace, name)
        return runtime

    def render(self, runtime: EndpointRuntime, base_url: str) -> dict[str, Any]:
        """The endpoint JSON, with ``status`` from what the controller observes now."""
        state, message = self.controller.status_of(runtime)
        status = EndpointStatus(state=state, message=message,
                                url=f"{base_url.rstrip('/')}/endpoints/{runtime.namespace}/{runtime.name}",
                                readyReplica=len(runtime.ready()), targetReplica=runtime.target,
                                createdAt=runtime.created_at, updatedAt=runtime.updated_at or runtime.created_at)
        return render(runtime.spec, status, runtime.namespace)

    # ------------------------------------------------------------------ keys and audit

    @audit_refusals("key.create")
    async def create_key(self, principal: Principal, namespace: str, *, name: str, role: Role,
                         endpoints: list[str] | None) -> CreatedKey:
        """A new key of ``namespace``."""
        self.require_manage(principal, namespace)
        created = await asyncio.to_thread(self.store.create_key, namespace, name=name, role=role, endpoints=endpoints,
                                          created_by=principal.actor)
        await self._audit(principal, "key.create", namespace, created.row.id,
                          {"name": name, "role": role.value, "endpoints": endpoints})
        return created

    @audit_refusals("key.list")
    async def list_keys(self, principal: Principal, namespace: str, include_revoked: bool) -> list[ApiKeyRow]:
        """Keys of ``namespace`` (never their secrets)."""
        self.require_manage(principal, namespace)
        return await asyncio.to_thread(self.store.list_keys, namespace, include_revoked=include_revoked)

    @audit_refusals("key.revoke")
    async def revoke_key(self, principal: Principal, namespace: str, key_id: str) -> ApiKeyRow:
        """Revoke a key; it stops working at once on this server."""
        self.require_manage(principal, namespace)
        row = await asyncio.to_thread(self.store.revoke_key, namespace, key_id)
        self._key_cache.clear()
        await self._audit(principal, "key.revoke", namespace, key_id)
        return row

    @audit_refusals("audit.read")
    async def audit_log(self, principal: Principal, namespace: str, *, action: str | None, target: str | None,
                        since: datetime | None, limit: int) -> list[AuditRow]:
        """The namespace's audit log, newest first."""
        self.require_manage(principal, namespace)
        return await asyncio.to_thread(self.store.audit_log, namespace, action=action, target=target, since=since,
                                       limit=limit)

    async def _audit(self, principal: Principal, action: str, namespace: str, target: str,
                     detail: dict[str, Any] | None = None) -> None:
        await asyncio.to_thread(self.store.audit, actor=principal.actor, action=action, namespace=namespace,
                                target=target, detail=detail)

    # ------------------------------------------------------------------ metrics

    async def metrics(self, runtime: EndpointRuntime, since: datetime | None, limit: int) -> dict[str, Any]:
        """Samples over time, totals, and the live counters."""
        rows = await asyncio.to_thread(self.store.samples, runtime.id, since=since, limit=limit)
        samples = [{"at": iso(r.at), "intervalSeconds": r.interval_s, "requests": r.requests, "errors": r.errors,
                    "latencyMs": {"p50": r.p50_ms, "p95": r.p95_ms, "p99": r.p99_ms},
                    "readyReplica": r.ready_replicas, "targetReplica": r.target_replicas, "pendingRequests": r.pending}
                   for r in rows]
        p50, p95, p99 = runtime.traffic.quantiles()
        return {
            "name": runtime.name, "namespace": runtime.namespace, "samples": samples,
            "totals": {"requests": sum(r.requests for r in rows) + runtime.traffic.requests,
                       "errors": sum(r.errors for r in rows) + runtime.traffic.errors},
            "current": {"readyReplica": len(runtime.ready()), "targetReplica": runtime.target,
                        "pendingRequests": runtime.waiting + runtime.in_flight(),
                        "requests": runtime.traffic.requests, "errors": runtime.traffic.errors,
                        "latencyMs": {"p50": p50, "p95": p95, "p99": p99}},
        }


def _redacted(body: dict[str, Any]) -> dict[str, Any]:
    """The update body without secret values (the audit log keeps which secrets changed, not what to)."""
    model = body.get("model")
    if isinstance(model, dict) and isinstance(model.get("secrets"), dict):
        return {**body, "model": {**model, "secrets": {k: "***" for k in model["secrets"]}}}
    return body
