"""The data plane: forwards a request for an endpoint to one of its ready replicas.

Least outstanding requests wins. At zero replicas a request wakes the endpoint and, with
``X-Scale-Up-Timeout: <seconds>``, is held until a replica is ready (whichever becomes ready first);
without it the answer is 503 with ``Retry-After``. The body is kept, so a request whose replica dies
before answering is sent again to another one (inference requests have no side effects). An error answer that
Argus's app did not write (no ``X-Processing-Time``: Ray's proxy saying its replica died or is not there yet) is
such a failure too.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpcore
import orjson

from argus.endpoints.backends.base import Replica
from argus.endpoints.runtime import FAILED_AFTER, EndpointRuntime
from argus.errors import InvalidInputError, NotFoundError, OverloadedError, ServerError
from argus.settings import Settings

if TYPE_CHECKING:
    from argus.endpoints.controller import EndpointController

logger = logging.getLogger(__name__)

SCALE_UP_HEADER = "x-scale-up-timeout"
RETRY_BUDGET_S = 60.0
"""How long an accepted request may keep trying after replica failures."""
MAX_ATTEMPTS = 6
# Hop-by-hop headers (RFC 9110 §7.6.1) and those the router sets itself.
_DROP_REQUEST = frozenset({b"host", b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization",
                           b"te", b"trailer", b"transfer-encoding", b"upgrade", b"content-length", b"authorization",
                           SCALE_UP_HEADER.encode()})
_DROP_RESPONSE = frozenset({b"connection", b"keep-alive", b"transfer-encoding", b"content-length",
                            b"x-processing-time", b"x-request-id", b"date", b"server"})
class NotFromReplicaError(Exception):
    """An error answer written by something in front of the replica (a proxy), not by Argus's app."""


# Failures before the replica could have acted on the request, or of a replica that died: safe to send again.
_RETRYABLE = (httpcore.NetworkError, httpcore.RemoteProtocolError, httpcore.ConnectTimeout, httpcore.PoolTimeout,
              NotFromReplicaError)
_APP_MARK = b"x-processing-time"
"""Argus's middleware adds it to every answer its app writes."""
_TIMEOUTS = {"connect": 2.0, "read": 600.0, "write": 60.0, "pool": 30.0}


class ReplicaGoneError(ServerError):
    """Every attempt to reach a replica failed."""

    status_code = 502
    code = "bad_gateway"


@dataclass(frozen=True)
class Forwarded:
    """A replica's answer."""

    status: int
    headers: list[tuple[bytes, bytes]]
    content: bytes
    replica: str


class ModelBody:
    """A JSON inference body whose ``model_id`` is set to the model of the replica it goes to.

    An endpoint serves its own model: clients need not name it (or its version, which an update changes),
    and during a rolling update each replica gets the model it was started with.
    """

    def __init__(self, path: str, content_type: bytes, body: bytes) -> None:
        self.body = body
        self.document: dict[str, object] | None = None
        self._by_model: dict[str, bytes] = {}
        if path.startswith("infer/") and b"json" in content_type and body:
            try:
                parsed = orjson.loads(body)
            except orjson.JSONDecodeError:
                return  # the replica answers the malformed body with its own 400
            if isinstance(parsed, dict):
                self.document = parsed

    def for_model(self, model_id: str) -> bytes:
        """The body to send to a replica serving ``model_id``."""
        if self.document is None or self.document.get("model_id") == model_id:
            return self.body
        if model_id not in self._by_model:
            self._by_model[model_id] = orjson.dumps({**self.document, "model_id": model_id})
        return self._by_model[model_id]


def hold_seconds(raw: str | None, limit: float) -> float:
    """``X-Scale-Up-Timeout`` in seconds (0 when absent), or a 400 naming the header."""
    if raw is None or raw.strip() == "":
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInputError(f"X-Scale-Up-Timeout must be a number of seconds, got {raw[:40]!r}.") from None
    if not math.isfinite(value) or value < 0:
        raise InvalidInputError(f"X-Scale-Up-Timeout must be 0 or more seconds, got {raw[:40]!r}.")
    return min(value, limit)


class EndpointRouter:
    """Sends requests to replicas and counts what the autoscaler needs."""

    def __init__(self, controller: EndpointController, settings: Settings) -> None:
        self.controller = controller
        self.settings = settings
        # httpcore, under httpx: the router needs only a keep-alive pool, and httpx's request and response
        # models cost about a millisecond per forwarded request.
        self.pool = httpcore.AsyncConnectionPool(max_connections=None, max_keepalive_connections=256,
                                                 keepalive_expiry=30.0)

    async def close(self) -> None:
        """Close pooled connections."""
        await self.pool.aclose()

    @staticmethod
    def _pick(runtime: EndpointRuntime, skip: set[str]) -> Replica | None:
        candidates = [r for r in runtime.ready() if r.id not in skip]
        return min(candidates, key=lambda r: r.outstanding) if candidates else None

    async def _wait_for_replica(self, runtime: EndpointRuntime, deadline: float) -> bool:
        """Hold until a replica is ready (True) or ``deadline`` passes (False)."""
        runtime.waiting += 1
        self.controller.kick()
        try:
            while not runtime.ready() and not runtime.deleted:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                try:  # asyncio.timeout: on 3.11 wait_for can swallow a cancellation (a client that went away)
                    async with asyncio.timeout(min(remaining, 1.0)):
                        await runtime.ready_event.wait()
                except TimeoutError:
                    continue
                if not runtime.ready():
                    await asyncio.sleep(0.01)  # the event was set for a replica that is already gone
            return not runtime.deleted
        finally:
            runtime.waiting -= 1

    def _unavailable(self, runtime: EndpointRuntime) -> OverloadedError:
        if runtime.paused:
            return OverloadedError(f"Endpoint '{runtime.name}' is paused; resume it to send requests.",
                                   retry_after=60.0)
        if runtime.failures >= FAILED_AFTER:
            return OverloadedError(f"Endpoint '{runtime.name}' has no replica that can start: "
                                   f"{runtime.last_failure[:600]} Update the endpoint to fix it.", retry_after=60.0)
        return OverloadedError(
            f"Endpoint '{runtime.name}' is starting a replica. Retry shortly, or send "
            "'X-Scale-Up-Timeout: <seconds>' to wait for it.", retry_after=max(1.0, math.ceil(runtime.cold_start_s)))

    async def forward(self, runtime: EndpointRuntime, method: str, path: str, query: str,
                      headers: list[tuple[bytes, bytes]], body: bytes, hold_s: float) -> Forwarded:
        """Send the request to a ready replica; retry on another one if the replica fails before answering.

        ``headers`` are the ASGI scope's (lower-case names, raw bytes).
        """
        started = time.monotonic()
        self.controller.wake(runtime)
        if runtime.paused:
            raise self._unavailable(runtime)
        hold_deadline = started + hold_s
        retry_deadline = started + max(hold_s, RETRY_BUDGET_S)
        outgoing = [(k, v) for k, v in headers if k not in _DROP_REQUEST]
        content = ModelBody(path, next((v for k, v in headers if k == b"content-type"), b""), body)
        target_path = "/" + path + (f"?{query}" if query else "")
        tried: set[str] = set()
        attempts = 0
        last_error = ""
        while True:
            replica = self._pick(runtime, tried)
            if replica is None:
                if tried and runtime.ready():
                    tried.clear()  # every ready replica failed once: give them another go after a moment
                    await asyncio.sleep(0.1)
                    continue
                # A request is held (up to the retry budget) when it already failed on a replica, or when a ready
                # replica just crashed and its replacement is on the way: clients of a running endpoint should not
                # see a replica's death. A cold start from zero answers 503 unless the client asked to wait.
                deadline = retry_deadline if attempts or runtime.recovering else hold_deadline
                if runtime.paused or not await self._wait_for_replica(runtime, deadline):
                    if runtime.deleted:
                        raise NotFoundError(f"Endpoint '{runtime.name}' was deleted.")
                    runtime.traffic.record(502 if attempts else 503, time.monotonic() - started)
                    if attempts:
                        raise ReplicaGoneError(f"No replica of '{runtime.name}' could answer: {last_error}")
                    raise self._unavailable(runtime)
                continue
            replica.outstanding += 1
            try:
                response = await self.pool.request(
                    method, replica.url + target_path, content=content.for_model(replica.spec.model_id),
                    headers=outgoing + [(k.encode(), v.encode()) for k, v in replica.headers.items()],
                    extensions={"timeout": _TIMEOUTS})
                if response.status in (404, 500, 502, 503, 504) \
                        and not any(k.lower() == _APP_MARK for k, _ in response.headers):
                    raise NotFromReplicaError(f"{response.status} from in front of the replica: "
                                              f"{response.content[:200].decode(errors='replace')}")
            except _RETRYABLE as error:
                attempts += 1
                last_error = f"{type(error).__name__}: {error}"
                tried.add(replica.id)
                self.controller.kick()  # let the controller notice a dead replica soon
                logger.info("replica %s failed a request (%s); retrying", replica.id, last_error)
                if attempts >= MAX_ATTEMPTS or time.monotonic() > retry_deadline:
                    runtime.traffic.record(502, time.monotonic() - started)
                    raise ReplicaGoneError(f"No replica of '{runtime.name}' could answer: {last_error}") from None
                continue
            finally:
                replica.outstanding -= 1
                runtime.last_request_at = time.monotonic()
            runtime.traffic.record(response.status, time.monotonic() - started)
            kept = [(k.lower(), v) for k, v in response.headers if k.lower() not in _DROP_RESPONSE]
            kept.append((b"x-argus-replica", replica.id.encode()))
            return Forwarded(response.status, kept, response.content, replica.id)
