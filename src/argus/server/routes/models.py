"""Model management: /model/registry, /model/add, /model/remove, /model/clear (the reference's shapes)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from argus.models.vision import VisionModel
from argus.runtime.service import TASK_ROUTE
from argus.server.deps import AppState, get_state
from argus.server.responses import ORJSONResponse
from argus.server.schemas import AddModelRequest, ClearModelRequest
from argus.store.bundle import KIND_TASK
from argus.store.manifest import Task

router = APIRouter(tags=["models"])


def registry_body(state: AppState) -> dict[str, Any]:
    """``ModelsDescriptions``: loaded models with their task and input size (nulls kept, as the reference)."""
    models = []
    for store_id, loaded in state.manager.loaded().items():
        model = loaded.model
        aliases = [e.alias for e in state.manager.zoo.entries() if e.model_id == store_id]
        if isinstance(model, VisionModel):
            task = model.task
            # The reference reports multi-label classifiers as "classification"; the SDK routes on it.
            task_type = Task.CLASSIFICATION.value if task == Task.MULTI_LABEL_CLASSIFICATION else task.value
            shape: dict[str, Any] = {"batch_size": model.batch_size, "input_height": model.manifest.input_height,
                                     "input_width": model.manifest.input_width}
            paths = [f"/{store_id}", f"/infer/{TASK_ROUTE[task]}"]
        else:
            task_type = KIND_TASK[model.kind]
            shape = {"batch_size": None, "input_height": None, "input_width": None}
            paths = []
        # inference_sdk matches registry entries on model_id alone, so each alias gets an entry too.
        for model_id in [store_id, *aliases]:
            models.append({"model_id": model_id, "task_type": task_type, **shape, "vram_bytes": None,
                           "request_aliases": aliases if model_id == store_id else [], "request_paths": paths})
    return {"models": models, "total_vram_bytes": None, "gpu_memory_used": None, "gpu_memory_total": None,
            "torch_cuda_allocated": None, "torch_cuda_reserved": None, "torch_cuda_allocator_cache": None,
            "non_torch_gpu_memory": None}


@router.get("/model/registry")
def registry(request: Request) -> ORJSONResponse:
    """Loaded models (cheap: no disk access; the SDK calls it before every inference)."""
    return ORJSONResponse(registry_body(get_state(request)))


@router.post("/model/add")
async def add(request: Request, body: AddModelRequest) -> ORJSONResponse:
    """Load a model (by store id or zoo alias)."""
    state = get_state(request)
    await run_in_threadpool(state.manager.load, body.model_id)
    return ORJSONResponse(registry_body(state))


@router.post("/model/remove")
def remove(request: Request, body: ClearModelRequest) -> ORJSONResponse:
    """Unload a model."""
    state = get_state(request)
    state.manager.unload(body.model_id)
    return ORJSONResponse(registry_body(state))


@router.post("/model/clear")
def clear(request: Request) -> ORJSONResponse:
    """Unload every model."""
    state = get_state(request)
    state.manager.clear()
    return ORJSONResponse(registry_body(state))


@router.get("/models/store")
def store_models(request: Request) -> ORJSONResponse:
    """Every model in the store, with its manifest's summary and whether it is loaded (the console's list)."""
    state = get_state(request)
    loaded = state.manager.loaded()
    models = []
    for stored in state.manager.repository.list():
        m = stored.manifest
        models.append({"model_id": stored.model_id, "task": m.task.value, "family": m.family.value,
                       "input_width": m.input_width, "input_height": m.input_height, "classes": len(m.class_names),
                       "size_bytes": stored.size_bytes, "source": m.source, "license": m.license,
                       "loaded": stored.model_id in loaded,
                       "optimization": m.optimization.model_dump() if m.optimization else None,
                       "tuning": m.tuning.model_dump() if m.tuning else None})
    for bundle in state.manager.repository.list_bundles():  # foundation models: a folder of named files
        b = bundle.manifest
        models.append({"model_id": bundle.model_id, "task": KIND_TASK[b.kind], "family": b.kind.value,
                       "input_width": None, "input_height": None, "classes": None, "size_bytes": bundle.size_bytes,
                       "source": b.source, "license": b.license, "loaded": bundle.model_id in loaded,
                       "optimization": None, "tuning": None})
    models.sort(key=lambda entry: str(entry["model_id"]))
    return ORJSONResponse({"models": models})


@router.get("/models/store/{name}/{version}")
def store_manifest(request: Request, name: str, version: str) -> ORJSONResponse:
    """One stored model's whole manifest (404 when it is not in the store)."""
    repository = get_state(request).manager.repository
    model_id = f"{name}/{version}"
    manifest = repository.bundle(model_id).manifest if repository.is_bundle(model_id) else repository.manifest(model_id)
    return ORJSONResponse({"model_id": model_id, "manifest": manifest.model_dump(mode="json")})


@router.get("/models/zoo")
def zoo_models(request: Request) -> ORJSONResponse:
    """The zoo's catalogue: alias, store id, licence, and whether its weights are in the store already."""
    manager = get_state(request).manager
    return ORJSONResponse({"models": [
        {"alias": e.alias, "model_id": e.model_id, "description": e.description, "license": e.license,
         "default": e.default, "in_store": manager.repository.has(e.model_id)}
        for e in manager.zoo.entries()]})
