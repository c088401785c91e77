"""Operational routes: /info, /healthz, /readiness, /metrics.

The health routes are coroutines: they answer on the event loop even when every worker thread is busy.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

import argus
from argus.server.auth import require_api_key
from argus.server.deps import get_state
from argus.server.responses import ORJSONResponse

router = APIRouter(tags=["ops"])


@router.get("/info")
async def info(request: Request) -> ORJSONResponse:
    """Server name, version and id (the reference's shape); the onnxruntime build, the execution providers models
    use and why any accelerator that was tried is not among them."""
    state = get_state(request)
    return ORJSONResponse({"name": "Argus Inference Server", "version": argus.__version__, "uuid": state.server_id,
                           "onnxruntime": state.onnxruntime, "execution_providers": state.execution_providers,
                           "unusable_execution_providers": state.unusable_providers})


@router.get("/healthz")
async def healthz() -> ORJSONResponse:
    """Liveness: the process answers."""
    return ORJSONResponse({"status": "healthy"})


@router.get("/readiness")
async def readiness(request: Request) -> ORJSONResponse:
    """Readiness: 503 until the preloaded models are loaded, and 503 naming them if any failed to load (the
    server still serves other models; a load balancer should not send it this one's traffic)."""
    state = get_state(request)
    if not state.ready.is_set():
        return ORJSONResponse({"status": "not ready"}, status_code=503)
    if state.preload_errors:
        return ORJSONResponse({"status": "preload failed", "preload_errors": state.preload_errors}, status_code=503)
    return ORJSONResponse({"status": "ready"})


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    """Prometheus exposition; needs a key when keys are set, unless ``ARGUS_METRICS_PUBLIC=true``."""
    state = get_state(request)
    if not state.settings.metrics_public:
        await require_api_key(request)
    state.metrics.models_loaded.set(len(state.manager.loaded()))
    return Response(state.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
