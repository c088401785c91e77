"""Notice a client that hangs up while its request is being worked on.

Once a route has read its body, the next ASGI ``receive()`` returns only when the client disconnects (or the
response is done). :func:`watch_disconnect` waits for that in a task and sets an event that worker threads can
poll, so the inference service drops the request's remaining batches before they reach ``session.run``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator

from starlette.requests import Request


@contextlib.asynccontextmanager
async def watch_disconnect(request: Request) -> AsyncIterator[threading.Event]:
    """An event set when the client of ``request`` (whose body has been read) disconnects."""
    gone = threading.Event()

    async def watch() -> None:
        while True:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                gone.set()
                return

    task = asyncio.create_task(watch())
    try:
        yield gone
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
