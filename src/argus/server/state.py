"""What a running server holds, built by the lifespan and read by routes through :func:`get_state`."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field

from fastapi import Request

from argus.endpoints.exposure import ExposedModel
from argus.runtime.manager import ModelManager
from argus.runtime.service import InferenceService
from argus.server.metrics import ServerMetrics
from argus.settings import Settings


@dataclass
class AppState:
    """The server's long-lived objects."""

    settings: Settings
    manager: ModelManager
    service: InferenceService
    metrics: ServerMetrics
    api_keys: frozenset[str]
    server_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    ready: threading.Event = field(default_factory=threading.Event)
    preload_errors: dict[str, str] = field(default_factory=dict)
    exposed_models: dict[str, ExposedModel] = field(default_factory=dict)
    """What each endpoint model exposes through the router (by the spec's model id)."""


def get_state(request: Request) -> AppState:
    """The :class:`AppState` of the app serving ``request``."""
    return request.app.state.argus  # type: ignore[no-any-return]
