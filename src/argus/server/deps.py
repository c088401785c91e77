"""What a running server holds: one :class:`AppState`, built by ``create_app`` and its lifespan, and one accessor,
:func:`get_state`, through which every route reaches it (models, services, metrics, the endpoint plane, the
stream manager)."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request

from argus.endpoints.exposure import ExposedModel
from argus.errors import NotImplementedFeatureError, ServerError
from argus.runtime.foundation import FoundationService
from argus.runtime.manager import ModelManager
from argus.runtime.service import InferenceService
from argus.server.metrics import ServerMetrics
from argus.settings import Settings

if TYPE_CHECKING:
    from argus.endpoints.router import EndpointRouter
    from argus.endpoints.service import EndpointService
    from argus.streams.manager import StreamManager


@dataclass
class EndpointsPlane:
    """What the endpoint routes use; ``unavailable`` says why they cannot (None while they can)."""

    service: EndpointService | None = None
    router: EndpointRouter | None = None
    unavailable: str | None = "The endpoint controller has not started yet."
    status_code: int = 503


@dataclass
class AppState:
    """The server's long-lived objects."""

    settings: Settings
    manager: ModelManager
    service: InferenceService
    foundation: FoundationService
    """OCR, CLIP, SAM and depth requests (the same manager, budget and metrics as ``service``)."""
    metrics: ServerMetrics
    api_keys: frozenset[str]
    server_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    execution_providers: list[str] = field(default_factory=list)
    """The ONNX Runtime providers models get, in preference order (argus.models.providers decides them)."""
    unusable_providers: dict[str, str] = field(default_factory=dict)
    """Accelerators that were tried and cannot load here, and why."""
    onnxruntime: str = ""
    """The installed onnxruntime build, ``name version``."""
    ready: threading.Event = field(default_factory=threading.Event)
    preload_errors: dict[str, str] = field(default_factory=dict)
    exposed_models: dict[str, ExposedModel] = field(default_factory=dict)
    """What each endpoint model exposes through the router (by the spec's model id)."""
    endpoints: EndpointsPlane = field(default_factory=EndpointsPlane)
    streams: StreamManager | None = None
    """Built on the first stream API call (see ``routes/streams.py``)."""
    streams_lock: threading.Lock = field(default_factory=threading.Lock)


def get_state(request: Request) -> AppState:
    """The :class:`AppState` of the app serving ``request``."""
    return state_of(request.app)


def state_of(app: FastAPI) -> AppState:
    """The :class:`AppState` of ``app`` (for code that has the app, such as a lifespan, rather than a request)."""
    return app.state.argus  # type: ignore[no-any-return]


def endpoint_plane(request: Request) -> tuple[EndpointService, EndpointRouter]:
    """The running service and router, or the reason there are none (501 or 503)."""
    current = get_state(request).endpoints
    if current.service is None or current.router is None:
        reason = current.unavailable
        if current.status_code == 501:
            raise NotImplementedFeatureError(reason or "Endpoints are off.")
        raise ServerError(reason or "Endpoints are unavailable.")
    return current.service, current.router
