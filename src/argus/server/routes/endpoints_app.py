"""Wiring of the endpoint control plane into the app: its lifespan, its routers, and the accessor routes use.

The controller runs in the server's event loop while the app lives; on shutdown every replica is
stopped. A server started by a process manager with several workers (``--workers N``) runs no
controller (each worker would start its own replicas): its endpoint routes answer 501.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI

from argus.server.deps import state_of
from argus.settings import Settings

if TYPE_CHECKING:
    from argus.endpoints.backends.base import Backend, ManagedBackend

logger = logging.getLogger(__name__)


def _disabled_reason(settings: Settings) -> str | None:
    if not settings.endpoints_enabled:
        return "Endpoints are off on this server (ARGUS_ENDPOINTS_ENABLED=false)."
    if settings.workers > 1 or multiprocessing.parent_process() is not None:
        return "Endpoints need a single server process: start it without --workers to manage endpoints."
    return None


@asynccontextmanager
async def running(app: FastAPI, settings: Settings) -> AsyncIterator[None]:
    """Open the store, restore endpoints and run the controller for the app's lifetime."""
    current = state_of(app).endpoints
    reason = _disabled_reason(settings)
    if reason is not None:
        current.unavailable, current.status_code = reason, 501
        yield
        return
    # Imported here: replicas (endpoints off) start faster without SQLAlchemy and Alembic.
    from argus.endpoints.controller import EndpointController
    from argus.endpoints.router import EndpointRouter
    from argus.endpoints.secrets import SecretBox
    from argus.endpoints.service import EndpointService
    from argus.endpoints.store import EndpointStore

    try:
        store = EndpointStore.open(settings.database, SecretBox.from_key_or_file(settings.secrets_key,
                                                                                 settings.secrets_key_path))
    except Exception as error:  # the inference routes keep working without the control plane
        logger.exception("the endpoint database could not be opened")
        current.unavailable = f"The endpoint database could not be opened: {error}"
        yield
        return
    try:
        backend = await _backend(settings)
    except Exception as error:  # the inference routes keep working without the control plane
        logger.exception("the endpoint backend could not start")
        current.unavailable = f"The endpoint backend ({settings.endpoint_backend}) could not start: {error}"
        store.close()
        yield
        return
    controller = EndpointController(settings, store, backend)
    router = EndpointRouter(controller, settings)
    await controller.start()
    current.service, current.router, current.unavailable = EndpointService(settings, store, controller), router, None
    try:
        yield
    finally:
        current.service, current.router = None, None
        current.unavailable = "The server is shutting down."
        await controller.stop()
        await router.close()
        store.close()


async def _backend(settings: Settings) -> Backend | ManagedBackend:
    """The backend ``ARGUS_ENDPOINT_BACKEND`` names."""
    if settings.endpoint_backend == "ray":
        from argus.endpoints.backends.ray import connect

        return await connect(settings)
    from argus.endpoints.backends.local import LocalProcessBackend

    return LocalProcessBackend(settings)


def include(app: FastAPI) -> None:
    """Add the endpoint routes (before the legacy catch-all route)."""
    from argus.server.routes import endpoints, endpoints_keys, endpoints_proxy

    app.include_router(endpoints.router)
    app.include_router(endpoints_keys.router)
    app.include_router(endpoints_proxy.router)
