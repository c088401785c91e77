"""``/inference_pipelines/*``: the stream manager over HTTP, with Roboflow Inference's payloads.

Off unless ``ARGUS_ENABLE_STREAM_API=true`` (the reference's ``ENABLE_STREAM_API`` is off by default
too): a pipeline reads files on the server and opens network streams, which a server must not do
for anyone who can reach it without its operator saying so.

``inference_sdk`` sends ``api_key`` in the JSON body of GET requests here, so these routes check keys
with :func:`require_stream_api_key`, which reads the body of any method.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from argus.errors import (
    ForbiddenError,
    InvalidInputError,
    NotImplementedFeatureError,
    UnauthorizedError,
)
from argus.inputs.source_guard import check_source
from argus.server.auth import key_is_valid, presented_key
from argus.server.deps import get_state, state_of
from argus.server.routes.streams_schemas import (
    ConsumeResultsPayload,
    InitialisePipelinePayload,
    WorkflowConfiguration,
)
from argus.settings import Settings
from argus.streams.entities import NAMED_WORKFLOWS_MESSAGE
from argus.streams.manager import StreamManager
from argus.streams.readers import describe_reference

router = APIRouter(prefix="/inference_pipelines", tags=["inference pipelines"])


async def _json_body(request: Request) -> Any:
    body = await request.body()
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidInputError(f"The request body is not valid JSON: {error}") from None


async def require_stream_api_key(request: Request) -> None:
    """Refuse the request without a valid key when keys are configured (body ``api_key`` on GET too)."""
    keys = get_state(request).api_keys
    if not keys:
        return
    key = await presented_key(request)
    if key is None:
        body = await _json_body(request)
        if isinstance(body, dict) and isinstance(body.get("api_key"), str):
            key = body["api_key"]
    if not key_is_valid(key, keys):
        raise UnauthorizedError(f"The API key {'is not valid' if key else 'is missing'}. Send it as ?api_key=..., "
                                "an 'Authorization: Bearer ...' header or 'api_key' in the JSON body.")


def stream_manager(app: FastAPI) -> StreamManager:
    """The app's stream manager, built on first use."""
    state = state_of(app)
    with state.streams_lock:
        if state.streams is None:
            state.streams = StreamManager(state.settings)
        return state.streams


def shutdown_stream_manager(app: FastAPI) -> None:
    """End every pipeline process (called when the server stops)."""
    manager = state_of(app).streams
    if manager is not None:
        manager.shutdown()


def _manager(request: Request) -> StreamManager:
    if not getattr(get_state(request).settings, "enable_stream_api", False):
        raise ForbiddenError("The stream API is disabled on this server: start it with ARGUS_ENABLE_STREAM_API=true "
                             "to run inference pipelines (they read server files and open network streams).")
    if get_state(request).settings.workers > 1:
        raise NotImplementedFeatureError("The stream API needs a single server worker (each worker would hold its own "
                                         "pipelines): start the server with --workers 1.")
    return stream_manager(request.app)


def check_payload(payload: InitialisePipelinePayload, settings: Settings) -> InitialisePipelinePayload:
    """The payload with every source passed through the source guard (403: private host, other scheme, path
    outside ``ARGUS_MEDIA_DIR``), missing files refused (400), named platform workflows 501; before a process
    is started."""
    processing = payload.processing_configuration
    if isinstance(processing, WorkflowConfiguration) and processing.workflow_specification is None:
        raise NotImplementedFeatureError(NAMED_WORKFLOWS_MESSAGE)
    references = payload.video_configuration.video_reference
    checked = [check_source(reference, settings)
               for reference in (references if isinstance(references, list) else [references])]
    for reference in checked:
        describe_reference(reference)
    video = payload.video_configuration.model_copy(
        update={"video_reference": checked if isinstance(references, list) else checked[0]})
    return payload.model_copy(update={"video_configuration": video})


def _response(pipeline_id: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"status": "success", "context": {"request_id": str(uuid.uuid4()), "pipeline_id": pipeline_id}, **extra}


@router.get("/list")
async def list_pipelines(request: Request) -> dict[str, Any]:
    """``ListPipelinesResponse``."""
    return _response(pipelines=_manager(request).pipeline_ids())


@router.post("/initialise")
async def initialise(request: Request, payload: InitialisePipelinePayload) -> dict[str, Any]:
    """Start a pipeline in its own process; ``context.pipeline_id`` names it."""
    manager = _manager(request)
    checked = check_payload(payload, get_state(request).settings)  # answered at once, before any process starts
    pipeline_id = await run_in_threadpool(manager.initialise, checked.model_dump(mode="json"))
    return _response(pipeline_id)


@router.get("/{pipeline_id}/status")
async def status(request: Request, pipeline_id: str) -> dict[str, Any]:
    """The watchdog report (sources, latencies, throughput, status updates, state, last error)."""
    report = await run_in_threadpool(_manager(request).status, pipeline_id)
    return _response(pipeline_id, report=report)


async def _command(request: Request, pipeline_id: str, operation: str) -> dict[str, Any]:
    manager = _manager(request)
    await run_in_threadpool(getattr(manager, operation), pipeline_id)
    return _response(pipeline_id)


@router.post("/{pipeline_id}/pause")
async def pause(request: Request, pipeline_id: str) -> dict[str, Any]:
    """Pause (the reference mutes: frames keep being read and are dropped)."""
    return await _command(request, pipeline_id, "pause")


@router.post("/{pipeline_id}/resume")
async def resume(request: Request, pipeline_id: str) -> dict[str, Any]:
    """Resume a paused pipeline."""
    return await _command(request, pipeline_id, "resume")


@router.post("/{pipeline_id}/terminate")
async def terminate(request: Request, pipeline_id: str) -> dict[str, Any]:
    """End the pipeline and its process."""
    return await _command(request, pipeline_id, "terminate")


@router.get("/{pipeline_id}/consume")
async def consume(request: Request, pipeline_id: str) -> dict[str, Any]:
    """The oldest buffered result (empty lists when none is waiting)."""
    manager = _manager(request)
    body = await _json_body(request)
    try:
        excluded = ConsumeResultsPayload.model_validate(body or {}).excluded_fields
    except ValidationError as error:
        raise InvalidInputError(f"Invalid consume body: {error.errors()[0].get('msg')}") from None
    result = await run_in_threadpool(manager.consume, pipeline_id, excluded)
    return _response(pipeline_id, **result)
