"""Pure-ASGI middleware: body-size limit, body read deadline, request id, processing time, per-route metrics.

Written as raw ASGI rather than ``BaseHTTPMiddleware`` because that wrapper costs a task switch
and a copy per request on the hot path.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from argus.server.metrics import ServerMetrics
from argus.server.responses import send_json

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = b"x-request-id"


class _BodyRefused(Exception):
    """The body broke a limit (size or deadline); the refusal to send is set beside it."""


class ServerMiddleware:
    """Adds ``X-Request-ID`` and ``X-Processing-Time``, refuses oversized bodies (413), records metrics."""

    def __init__(self, app: ASGIApp, metrics: ServerMetrics, max_body_bytes: int, body_timeout_s: float = 30.0
                 ) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope.get("headers") or [])
        request_id = headers.get(REQUEST_ID_HEADER, b"").decode("latin-1") or uuid.uuid4().hex
        status_holder = {"status": 500}
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._reject_too_large(send, request_id)
            self._record(scope, 413, started)
            return
        received = 0
        refusal: tuple[int, bytes] | None = None  # the body broke a limit: this answer replaces the app's
        replaced = False
        body_done = False

        async def limited_receive() -> Message:
            nonlocal received, refusal, body_done
            if body_done:  # after the body only a disconnect can come: no deadline on waiting for it
                return await receive()
            try:
                async with asyncio.timeout(self.body_timeout_s):
                    message = await receive()
            except TimeoutError:
                refusal = (408, b'{"message":"The request body did not arrive within %d s (ARGUS_BODY_TIMEOUT_S)."}'
                           % self.body_timeout_s)
                raise _BodyRefused from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
                if received > self.max_body_bytes:
                    refusal = (413, self._too_large_body())
                    raise _BodyRefused
            return message

        response_started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal replaced, response_started
            if refusal is not None:
                # The app turned our exception into its own error (FastAPI answers 400 for an unreadable
                # body); the client is owed the refusal, so that response is replaced.
                if message["type"] == "http.response.start" and not replaced:
                    replaced = True
                    status_holder["status"] = refusal[0]
                    await self._refuse(send, request_id, *refusal)
                return
            if message["type"] == "http.response.start":
                response_started = True
                status_holder["status"] = message["status"]
                extra = [(b"x-request-id", request_id.encode("latin-1")),
                         (b"x-processing-time", f"{time.perf_counter() - started:.6f}".encode())]
                message = {**message, "headers": list(message.get("headers", [])) + extra}
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except _BodyRefused:
            assert refusal is not None
            if not replaced:
                await self._refuse(send, request_id, *refusal)
            status_holder["status"] = refusal[0]
        except Exception:
            # Unhandled errors are logged by the app's handler; answer here so the 500 is counted and tagged.
            logger.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if response_started:  # too late for another answer: the server closes the connection
                raise
            status_holder["status"] = 500
            body = b'{"message":"Internal server error"}'
            await send_with_headers({"type": "http.response.start", "status": 500, "headers": [
                (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
        self._record(scope, status_holder["status"], started)

    def _too_large_body(self) -> bytes:
        return (b'{"message":"Request body is larger than the limit of %d bytes (ARGUS_MAX_BODY_BYTES)."}'
                % self.max_body_bytes)

    async def _reject_too_large(self, send: Send, request_id: str) -> None:
        await self._refuse(send, request_id, 413, self._too_large_body())

    async def _refuse(self, send: Send, request_id: str, status: int, body: bytes) -> None:
        await send_json(send, status, body, [(b"x-request-id", request_id.encode("latin-1"))])

    def _record(self, scope: Scope, status: int, started: float) -> None:
        route: Any = scope.get("route")
        path = getattr(route, "path", None) or "unmatched"
        elapsed = time.perf_counter() - started
        self.metrics.requests.labels(path, scope.get("method", ""), str(status)).inc()
        self.metrics.request_latency.labels(path).observe(elapsed)
