"""uvicorn's HTTP protocol with a deadline on the request head (slow clients cannot hold connections open).

uvicorn bounds the idle time between keep-alive requests (``timeout_keep_alive``) but not the time a client
takes to send a request's line and headers: a client that connects and trickles bytes (slowloris) holds a
socket and a protocol object for as long as it likes. This subclass closes a connection whose request head is
not complete ``header_timeout`` seconds after the connection opened or the request's first byte arrived. The
body's own deadline is :class:`argus.server.middleware.ServerMiddleware`'s. No ASGI server option or kept
library does this for uvicorn, hence the subclass (uvicorn is pinned below its next minor release).
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from argus.settings import get_settings


class HeadDeadlineProtocol(HttpToolsProtocol):
    """Closes a connection whose request head takes longer than ``ARGUS_HEADER_TIMEOUT_S``."""

    header_timeout = get_settings().header_timeout_s
    _head_timer: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(self.header_timeout, self._head_too_slow)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_timer is None:
            self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)
