"""The FastAPI application factory.

Example:
    >>> from argus.server.app import create_app  # doctest: +SKIP
    >>> app = create_app(Settings())  # doctest: +SKIP
    >>> uvicorn.run(app, port=9001)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from starlette.middleware.cors import CORSMiddleware

import argus
from argus.models.providers import provider_plan, runtime_distribution, warn_about_mixed_runtimes
from argus.runtime.foundation import FoundationService
from argus.runtime.manager import ModelManager
from argus.runtime.service import InferenceService
from argus.server import console_app, docs, openapi
from argus.server.auth import require_api_key
from argus.server.deps import AppState
from argus.server.errors import install_error_handlers
from argus.server.metrics import ServerMetrics
from argus.server.middleware import ServerMiddleware
from argus.server.replica_scope import ReplicaScopeMiddleware
from argus.server.responses import ORJSONResponse
from argus.server.routes import endpoints_app, foundation, infer, legacy, models, oip, ops, streams, unsupported
from argus.server.routes import workflows as workflow_routes
from argus.settings import Settings
from argus.workflows.confinement import require_isolation

logger = logging.getLogger(__name__)


def _wire_metrics(state: AppState) -> None:
    metrics = state.metrics

    def on_load(model_id: str, seconds: float) -> None:
        metrics.model_loads.labels(model_id).inc()
        metrics.model_load_seconds.labels(model_id).observe(seconds)

    state.manager.load_listeners.append(on_load)
    state.manager.unload_listeners.append(lambda model_id: metrics.model_unloads.labels(model_id).inc())
    state.service.observers.append(metrics.record)
    metrics.watch_queues(state.manager)


def _preload(state: AppState) -> None:
    """Load the configured models, then mark the server ready (failures are reported, not fatal)."""
    for model_id in state.settings.preload_models:
        try:
            state.manager.load(model_id)
        except Exception as error:  # noqa: BLE001 - a model that fails to load must not stop the server
            message = getattr(error, "message", str(error))
            state.preload_errors[model_id] = message
            logger.error("preloading %s failed: %s", model_id, message)
    state.ready.set()


def create_app(settings: Settings | None = None, manager: ModelManager | None = None) -> FastAPI:
    """Build the server. Whatever is not passed in is built from ``settings``."""
    settings = settings or Settings()
    require_isolation(settings.allow_custom_python, settings.custom_python_isolation)
    warn_about_mixed_runtimes()
    providers = provider_plan(settings)  # refuses a required provider that cannot load
    manager = manager or ModelManager(settings)
    service = InferenceService(manager)
    state = AppState(settings=settings, manager=manager, service=service, foundation=FoundationService(service),
                     metrics=ServerMetrics(settings.metrics_dir), api_keys=settings.all_api_keys,
                     execution_providers=list(providers.providers), unusable_providers=providers.unusable,
                     onnxruntime=runtime_distribution() or "")
    _wire_metrics(state)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        logger.info("ONNX Runtime (%s) execution providers: %s", state.onnxruntime,
                    ", ".join(state.execution_providers))
        if not state.api_keys and settings.host not in ("127.0.0.1", "localhost", "::1"):
            logger.warning("serving on %s without API keys: set ARGUS_API_KEYS to require them", settings.host)
        threading.Thread(target=_preload, args=(state,), name="argus-preload", daemon=True).start()
        async with endpoints_app.running(app, settings):  # endpoint controller; its replicas stop with it
            yield
        streams.shutdown_stream_manager(app)

    app = FastAPI(title="Argus", version=argus.__version__, lifespan=lifespan,
                  default_response_class=ORJSONResponse, docs_url=None, redoc_url=None)
    app.state.argus = state
    install_error_handlers(app)
    openapi.install(app)
    docs.install(app)  # /docs and /redoc from packaged assets (they work offline)
    console_app.install(app)  # the web console at /, before the legacy router's two-segment pattern
    app.include_router(ops.router)
    endpoints_app.include(app)  # /v2/endpoint*, /endpoints/...: their own key checks
    secured = [Depends(require_api_key)]
    app.include_router(models.router, dependencies=secured)
    app.include_router(infer.router, dependencies=secured)
    app.include_router(foundation.router, dependencies=secured)
    app.include_router(oip.router, dependencies=secured)
    app.include_router(streams.router, dependencies=[Depends(streams.require_stream_api_key)])
    app.include_router(workflow_routes.router, dependencies=secured)  # before legacy: /workflows/run is two segments
    app.include_router(unsupported.router, dependencies=secured)  # 501s for the reference routes Argus lacks
    app.include_router(legacy.router, dependencies=secured)  # last: its path pattern catches two-segment paths
    if settings.endpoint_model:  # an endpoint's replica: its model's serving routes only
        app.add_middleware(ReplicaScopeMiddleware, manager=manager, model_id=settings.endpoint_model)
    app.add_middleware(ServerMiddleware, metrics=state.metrics, max_body_bytes=settings.max_body_bytes,
                       body_timeout_s=settings.body_timeout_s)
    if settings.cors_origins:  # outermost, so even error answers carry the CORS headers
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["*"],
                           allow_headers=["*"], expose_headers=["X-Processing-Time", "X-Model-Id", "Server-Timing"])
    return app
