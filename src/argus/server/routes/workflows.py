"""Workflow routes: run (inline or from the local store), validate, describe blocks/interfaces, schema.

Errors of a workflow come back in the reference's shape: ``{"message", "error_type", "context",
"inner_error_type", "inner_error_message", "blocks_errors"}`` with the error's status (400 for a
definition that does not compile, naming the step).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import ModuleType
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from argus.errors import ArgusError
from argus.server.deps import AppState, get_state
from argus.server.errors import error_response
from argus.server.responses import ORJSONResponse, header_value
from argus.workflows.errors import error_body
from argus.workflows.store import WorkflowStore

logger = logging.getLogger(__name__)

router = APIRouter(tags=["workflows"])

T = TypeVar("T")


class _RunOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    api_key: str | None = None
    inputs: dict[str, Any] = Field(default_factory=dict)
    excluded_fields: list[str] | None = None
    enable_profiling: bool = False
    debug: bool = False
    disable_sinks: bool = False
    is_preview: bool = False


class WorkflowSpecificationRequest(_RunOptions):
    """``POST /workflows/run``: the definition travels in the request."""

    specification: dict[str, Any]
    workflow_id: str | None = None


class PredefinedWorkflowRequest(_RunOptions):
    """``POST /{workspace}/workflows/{workflow_id}``: the definition comes from the local store."""

    use_cache: bool = True
    workflow_version_id: str | None = None


class DescribeInterfaceRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    api_key: str | None = None
    specification: dict[str, Any]


class DescribeBlocksRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    api_key: str | None = None
    dynamic_blocks_definitions: list[dict[str, Any]] = Field(default_factory=list)
    execution_engine_version: str | None = None


async def _answer(request: Request, work: Callable[[], T], headers: dict[str, str] | None = None
                  ) -> ORJSONResponse:
    """Run ``work`` off the event loop; workflow errors answer in the reference's error shape."""
    try:
        content = await run_in_threadpool(work)
    except ArgusError as error:
        if error.status_code >= 500:
            logger.warning("%s %s → %d: %s", request.method, request.url.path, error.status_code, error.message)
        body = error_body(error)
        message = body.pop("message")
        return error_response(request, error.status_code, message, headers, **body)
    return ORJSONResponse(content, headers=headers)


def _describe() -> ModuleType:
    """``argus.workflows.describe``, imported on first use: it loads every block (and supervision), which
    would otherwise add most of a second to the server's start."""
    from argus.workflows import describe

    return describe


def _run(state: AppState, definition: dict[str, Any], options: _RunOptions, workflow_id: str | None
         ) -> dict[str, Any]:
    from argus.workflows import (  # see _describe
        WorkflowContext,
        compile_workflow,
        serialize_outputs,
    )

    context = WorkflowContext(settings=state.settings, manager=state.manager, workflow_id=workflow_id)
    compiled = compile_workflow(definition, context)
    result = compiled.run(options.inputs, profile=options.enable_profiling, disable_sinks=options.disable_sinks)
    return {"outputs": serialize_outputs(result.outputs, options.excluded_fields),
            "profiler_trace": result.profiler_trace}


@router.post("/workflows/run")
@router.post("/infer/workflows")
async def run_specification(request: Request, body: WorkflowSpecificationRequest) -> ORJSONResponse:
    """Run the workflow in ``specification`` on ``inputs``."""
    state = get_state(request)
    return await _answer(request, lambda: _run(state, body.specification, body, body.workflow_id))


def _stored(state: AppState) -> WorkflowStore:
    return WorkflowStore(state.settings.workflow_store_dir)


@router.post("/{workspace_name}/workflows/{workflow_id}")
@router.post("/infer/workflows/{workspace_name}/{workflow_id}")
async def run_predefined(request: Request, workspace_name: str, workflow_id: str, body: PredefinedWorkflowRequest
                         ) -> ORJSONResponse:
    """Run a workflow saved in the local store (``argus workflows add``)."""
    state = get_state(request)

    def work() -> dict[str, Any]:
        definition = _stored(state).get(workspace_name, workflow_id).load()
        return _run(state, definition, body, workflow_id)

    return await _answer(request, work, {"X-Workflow-Id": header_value(workflow_id),
                                         "X-Workspace-Id": header_value(workspace_name)})


@router.post("/workflows/validate")
async def validate(request: Request, definition: Annotated[Any, Body()]) -> ORJSONResponse:
    """Compile a definition without running it: ``{"status": "ok"}`` or the 400 error."""

    def work() -> dict[str, str]:
        from argus.workflows.compiler import build_plan  # see _describe

        build_plan(definition)
        return {"status": "ok"}

    return await _answer(request, work)


@router.get("/workflows/execution_engine/versions")
async def execution_engine_versions() -> dict[str, list[str]]:
    """Versions of the workflow execution engine this server runs definitions for."""
    return {"versions": _describe().EXECUTION_ENGINE_VERSIONS}


@router.get("/workflows/blocks/describe")
async def describe_blocks_get(request: Request) -> ORJSONResponse:
    """Every block: manifest JSON Schema, outputs, kinds (and the kinds' connections)."""
    return await _answer(request, lambda: _describe().describe_blocks())


@router.post("/workflows/blocks/describe")
async def describe_blocks_post(request: Request, body: DescribeBlocksRequest | None = None) -> ORJSONResponse:
    """As the GET, plus the custom Python blocks of ``dynamic_blocks_definitions``."""
    definitions = body.dynamic_blocks_definitions if body else []
    if not definitions:
        return await _answer(request, lambda: _describe().describe_blocks())
    state = get_state(request)

    def work() -> dict[str, Any]:
        from argus.workflows.blocks.base import BlockContext
        from argus.workflows.compiler import extend_registry
        from argus.workflows.definition import WorkflowDocument
        from argus.workflows.registry import default_registry

        document = WorkflowDocument(dynamic_blocks_definitions=definitions)
        registry = extend_registry(document, default_registry(), BlockContext(settings=state.settings))
        return _describe().describe_blocks(registry)

    return await _answer(request, work)


@router.get("/workflows/definition/schema")
async def workflow_schema(request: Request) -> ORJSONResponse:
    """JSON Schema of a workflow definition, generated from the block manifests."""
    return await _answer(request, lambda: {"schema": _describe().definition_schema()})


@router.post("/workflows/describe_interface")
async def interface(request: Request, body: DescribeInterfaceRequest) -> ORJSONResponse:
    """Inputs and outputs of a definition with their kinds."""
    return await _answer(request, lambda: _describe().describe_interface(body.specification))


@router.post("/{workspace_name}/workflows/{workflow_id}/describe_interface")
async def stored_interface(request: Request, workspace_name: str, workflow_id: str) -> ORJSONResponse:
    """Inputs and outputs of a stored workflow."""
    state = get_state(request)
    return await _answer(request, lambda: _describe().describe_interface(_stored(state).get(workspace_name, workflow_id).load()))


@router.post("/workflows/blocks/dynamic_outputs")
async def block_outputs(request: Request, step: Annotated[Any, Body()]) -> ORJSONResponse:
    """Outputs of one step manifest (they may depend on its fields)."""
    return await _answer(request, lambda: _describe().dynamic_outputs(step))


@router.get("/workflows/store")
async def list_saved(request: Request) -> ORJSONResponse:
    """The saved workflows (the console's list): workspace and id of each."""
    state = get_state(request)
    return ORJSONResponse({"workflows": [{"workspace": w.workspace, "workflow_id": w.workflow_id}
                                         for w in _stored(state).list()]})


@router.get("/workflows/store/{workspace_name}/{workflow_id}")
async def get_saved(request: Request, workspace_name: str, workflow_id: str) -> ORJSONResponse:
    """One saved workflow's definition (404 when absent)."""
    state = get_state(request)
    return await _answer(request, lambda: {"workspace": workspace_name, "workflow_id": workflow_id,
                                           "specification": _stored(state).get(workspace_name, workflow_id).load()})


@router.put("/workflows/store/{workspace_name}/{workflow_id}")
async def save(request: Request, workspace_name: str, workflow_id: str, definition: Annotated[Any, Body()]
               ) -> ORJSONResponse:
    """Save (or replace) a workflow; it must compile first, so a saved workflow always runs."""
    state = get_state(request)

    def work() -> dict[str, str]:
        from argus.workflows.compiler import build_plan  # see _describe

        build_plan(definition)
        _stored(state).add(workspace_name, workflow_id, definition, overwrite=True)
        return {"status": "saved", "workspace": workspace_name, "workflow_id": workflow_id}

    return await _answer(request, work)
