"""Open Inference Protocol v2 (KServe / Triton HTTP): the routes ``tritonclient[http]`` speaks.

Model names: an OIP model name is the Argus model *name* and the OIP version its *version*
(``/v2/models/coco/versions/3/infer`` runs ``coco/3``). Without ``/versions/{v}`` the highest
version in the store is used (numeric order for numeric versions, which rank above named ones).
Zoo aliases (``yolov3-tiny-416``) work as model names too. Every ``/v2/models/{m}`` route also
exists as ``/v2/models/{m}/versions/{v}``.

Infer takes JSON tensors (``data`` flattened row-major) and the binary tensor extension
(``Inference-Header-Content-Length``), and answers in binary for outputs asked for with
``"binary_data": true`` (or all of them with ``"binary_data_output": true``); see
:mod:`argus.server.oip_codec`. ``gzip``/``deflate`` request bodies are accepted.

Readiness and residency: Argus loads models on first use. ``/v2/models/{m}/ready`` is true when the
model is loaded or its weights are in the local store (a request will be served); a zoo alias not
yet fetched is not ready (503). ``/v2/repository/index`` reports ``READY`` only for models held in
memory, ``UNAVAILABLE`` for stored models not loaded. ``config`` follows Triton's semantics
(``max_batch_size`` is 0 for a static batch; otherwise the manifest's batching size, advisory, and
``dims`` leave out the batch axis). ``stats`` (and ``/v2/models/stats`` for every stored model)
reads the same Prometheus counters as ``/metrics`` (every protocol reports its requests there).

Argus image extension: a request whose only input is a ``BYTES`` tensor named ``image`` (or
``image_bytes``) holding encoded JPEG/PNG/WebP... images (binary elements, or base64 strings in
JSON ``data``) runs the whole Argus pipeline (resize, model, decode) and returns one ``BYTES``
output ``predictions`` of the input's shape whose elements are the Roboflow-style JSON of each
image. Request ``parameters`` ``confidence``, ``iou_threshold``, ``class_filter`` (list or comma
separated), ``class_agnostic_nms``, ``max_detections``, ``max_candidates``, ``keypoint_confidence``
and ``mask_decode_mode`` apply. Model metadata announces it under ``parameters``
(``argus_image_input``, ``argus_image_output``) rather than as an extra input, so generic tools
that feed every listed input keep working.

Example:
    >>> import tritonclient.http as http  # doctest: +SKIP
    >>> client = http.InferenceServerClient("127.0.0.1:9001")  # doctest: +SKIP
    >>> client.get_model_metadata("coco")["inputs"]  # doctest: +SKIP
    [{'name': 'images', 'datatype': 'FP32', 'shape': [-1, 3, 640, 640]}]
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
import orjson
from fastapi import APIRouter, Depends, Path, Request, Response
from starlette.concurrency import run_in_threadpool

import argus
from argus.errors import InvalidInputError, InvalidModelIdError, ModelNotFoundError
from argus.models.postprocess import DetectionParams
from argus.models.session import TensorSpec
from argus.models.vision import VisionModel
from argus.runtime.service import InferenceRecord, RenderOptions
from argus.server import oip_codec as codec
from argus.server.deps import AppState, get_state
from argus.server.disconnect import watch_disconnect
from argus.server.responses import ORJSONResponse
from argus.store.model_id import parse_model_id
from argus.store.repository import ModelRepository

router = APIRouter(tags=["open-inference-protocol"])

PLATFORM = "onnxruntime_onnx"
EXTENSIONS = ["binary_tensor_data", "parameters", "model_configuration", "model_repository", "statistics",
              "argus_image_input"]
IMAGE_INPUTS = ("image", "image_bytes")
PREDICTIONS = "predictions"


# ------------------------------------------------------------------------------------- resolving


@dataclass(frozen=True)
class Target:
    """A requested OIP model: the name asked for, the version served, the store id, every version."""

    name: str
    version: str
    store_id: str
    versions: tuple[str, ...]


def _version_key(version: str) -> tuple[int, int, str]:
    return (1, int(version), "") if version.isdigit() else (0, 0, version)


def stored_versions(repository: ModelRepository, name: str) -> list[str]:
    """Versions of ``name`` in the store, lowest first."""
    try:
        parse_model_id(f"{name}/0")
    except InvalidModelIdError:
        return []
    directory = repository.root / name
    if not directory.is_dir():
        return []
    versions = []
    for child in directory.iterdir():
        try:
            if child.is_dir() and repository.exists(f"{name}/{child.name}"):
                versions.append(child.name)
        except InvalidModelIdError:  # staging directories such as .incoming-*
            continue
    return sorted(versions, key=_version_key)


def resolve(state: AppState, name: str, version: str | None) -> Target:
    """The store model an OIP name (and optional version) designates.

    Raises:
        ModelNotFoundError: neither a stored model name nor a zoo alias, or no such version.
    """
    versions = stored_versions(state.manager.repository, name)
    if versions:
        chosen = versions[-1] if version is None else version
        if chosen not in versions:
            raise ModelNotFoundError(f"Model '{name}' has no version '{version}'; versions: {', '.join(versions)}.")
        return Target(name, chosen, f"{name}/{chosen}", tuple(versions))
    entry = state.manager.zoo.entry_for(name)
    if entry is not None:
        alias_version = parse_model_id(entry.model_id).version
        if version is not None and version != alias_version:
            raise ModelNotFoundError(f"Model '{name}' has no version '{version}'; versions: {alias_version}.")
        return Target(name, alias_version, entry.model_id, (alias_version,))
    raise ModelNotFoundError(f"Model '{name}' not found: it is neither in the model store nor a zoo alias.")


def _target(request: Request, name: str) -> Target:
    return resolve(get_state(request), name, request.path_params.get("model_version"))


async def _model(request: Request, target: Target) -> VisionModel:
    return (await run_in_threadpool(get_state(request).manager.acquire, target.store_id)).model


def _model_version(model_version: Annotated[str, Path(description="The model's version (a store version).")]
                   ) -> str:
    """Declares ``model_version`` for the versioned OIP routes (their handlers read it from the path)."""
    return model_version


def _versioned_route(method: str, suffix: str = "", prefix: str = "/v2/models"
                     ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register an endpoint at ``{prefix}/{m}{suffix}`` and ``{prefix}/{m}/versions/{v}{suffix}``."""

    def register(endpoint: Callable[..., Any]) -> Callable[..., Any]:
        router.add_api_route(prefix + "/{model_name}" + suffix, endpoint, methods=[method])
        router.add_api_route(prefix + "/{model_name}/versions/{model_version}" + suffix, endpoint, methods=[method],
                             dependencies=[Depends(_model_version)],
                             operation_id=f"{endpoint.__name__}_version_{method.lower()}")
        return endpoint

    return register


# ------------------------------------------------------------------------------------ statistics


# ---------------------------------------------------------------------------- server-level routes


@router.get("/v2/health/live")
async def live() -> ORJSONResponse:
    """Liveness: the process serves."""
    return ORJSONResponse({"live": True})


@router.get("/v2/health/ready")
async def ready(request: Request) -> ORJSONResponse:
    """Readiness: 503 until the preloaded models are loaded."""
    is_ready = get_state(request).ready.is_set()
    return ORJSONResponse({"ready": is_ready}, status_code=200 if is_ready else 503)


@router.get("/v2")
def server_metadata() -> ORJSONResponse:
    """Server name, version and protocol extensions."""
    return ORJSONResponse({"name": "argus", "version": argus.__version__, "extensions": EXTENSIONS})


@router.get("/v2/models/stats")
async def all_stats(request: Request) -> ORJSONResponse:
    """Statistics of every model in the store."""
    metrics = get_state(request).metrics
    stored = await run_in_threadpool(get_state(request).manager.repository.list)
    entries = []
    for model in stored:
        name, version = model.model_id.split("/")
        entries.append(metrics.triton_stats(name, version, model.model_id))
    return ORJSONResponse({"model_stats": entries})


# ----------------------------------------------------------------------------- model-level routes


def _dims(shape: tuple[int | None, ...]) -> list[int]:
    return [-1 if d is None else d for d in shape]


def _tensor_metadata(spec: TensorSpec) -> dict[str, Any]:
    return {"name": spec.name, "datatype": codec.datatype_of(spec.dtype), "shape": _dims(spec.shape)}


@_versioned_route("GET")
async def model_metadata(request: Request, model_name: str) -> ORJSONResponse:
    """Inputs and outputs of the ONNX graph, plus the Argus image extension in ``parameters``."""
    target = _target(request, model_name)
    model = await _model(request, target)
    return ORJSONResponse({
        "name": target.name, "versions": list(target.versions), "platform": PLATFORM,
        "inputs": [_tensor_metadata(s) for s in model.session.inputs],
        "outputs": [_tensor_metadata(s) for s in model.session.outputs],
        "parameters": {"argus_model_id": model.model_id, "argus_task": model.task.value,
                       "argus_image_input": IMAGE_INPUTS[0], "argus_image_output": PREDICTIONS},
    })


@_versioned_route("GET", "/ready")
def model_ready(request: Request, model_name: str) -> ORJSONResponse:
    """200 when the model is loaded or in the local store, 503 when it would first need fetching."""
    target = _target(request, model_name)
    manager = get_state(request).manager
    is_ready = manager.is_loaded(target.store_id) or manager.repository.exists(target.store_id)
    return ORJSONResponse({"name": target.name, "ready": is_ready}, status_code=200 if is_ready else 503)


@_versioned_route("GET", "/config")
async def model_config(request: Request, model_name: str) -> ORJSONResponse:
    """A Triton-style model configuration derived from the graph and the manifest."""
    target = _target(request, model_name)
    model = await _model(request, target)
    specs = model.session.inputs + model.session.outputs
    batched = all(s.shape and s.shape[0] is None for s in specs)

    def entry(spec: TensorSpec) -> dict[str, Any]:
        datatype = codec.datatype_of(spec.dtype)
        dims = spec.shape[1:] if batched else spec.shape
        return {"name": spec.name, "data_type": "TYPE_STRING" if datatype == "BYTES" else f"TYPE_{datatype}",
                "dims": _dims(dims)}

    return ORJSONResponse({
        "name": target.name, "platform": PLATFORM, "backend": "onnxruntime",
        "max_batch_size": model.manifest.batching.max_batch_size if batched else 0,
        "input": [entry(s) for s in model.session.inputs], "output": [entry(s) for s in model.session.outputs],
        "parameters": {"argus_model_id": {"string_value": model.model_id}},
    })


@_versioned_route("GET", "/stats")
def model_stats(request: Request, model_name: str) -> ORJSONResponse:
    """Inference counts and times of one model."""
    target = _target(request, model_name)
    stats = get_state(request).metrics.triton_stats(target.name, target.version, target.store_id)
    return ORJSONResponse({"model_stats": [stats]})


# ------------------------------------------------------------------------------------------ infer


def _check_shape(tensor: codec.Tensor, spec: TensorSpec) -> None:
    expected = _dims(spec.shape)
    if len(tensor.shape) != len(expected) or any(e not in (-1, d) for e, d in zip(expected, tensor.shape)):
        raise InvalidInputError(f"Input '{tensor.name}' has shape {tensor.shape} but the model expects {expected}.")


def _run_admitted(model: VisionModel, names: list[str], feed: dict[str, np.ndarray], rows: int,
                  client_gone: Callable[[], bool]) -> tuple[list[np.ndarray], int]:
    """Run a raw feed under the model's admission (503 when its queue is full). A feed of the model's one image
    input goes through its batcher like any request; another feed runs on the session directly."""
    with model.admit(rows, client_gone) as ticket:
        started = time.perf_counter_ns()
        if list(feed) == [model.session.input.name]:
            outputs = dict(zip(model.session.output_names, ticket.run(feed[model.session.input.name])))
            arrays = [outputs[name] for name in names]
        else:
            arrays = model.session.run_feed(feed, names)
        return arrays, time.perf_counter_ns() - started


async def infer_tensors(model: VisionModel, inputs: list[codec.Tensor], wanted: codec.Wanted,
                        default_binary: bool, client_gone: Callable[[], bool]) -> tuple[list[codec.Output], int, int]:
    """Feed raw tensors to the graph: the outputs, the batch size and the time in the model."""
    specs = {spec.name: spec for spec in model.session.inputs}
    feed: dict[str, np.ndarray] = {}
    for tensor in inputs:
        spec = specs.get(tensor.name)
        if spec is None:
            raise InvalidInputError(f"Model '{model.model_id}' has no input '{tensor.name}'; its inputs are: "
                                    f"{', '.join(specs)} (or a BYTES 'image' input of encoded images).")
        expected = codec.datatype_of(spec.dtype)
        if tensor.datatype != expected:
            raise InvalidInputError(f"Input '{tensor.name}' has datatype {tensor.datatype} but the model expects "
                                    f"{expected}.")
        _check_shape(tensor, spec)
        feed[tensor.name] = tensor.array
    missing = [name for name in specs if name not in feed]
    if missing:
        raise InvalidInputError(f"Missing input(s) {', '.join(missing)} of model '{model.model_id}'.")
    names = list(model.session.output_names)
    wanted = wanted or [(name, default_binary) for name in names]
    unknown = [name for name, _ in wanted if name not in names]
    if unknown:
        raise InvalidInputError(f"Model '{model.model_id}' has no output '{unknown[0]}'; its outputs are: "
                                f"{', '.join(names)}.")
    run_names = list(dict.fromkeys(name for name, _ in wanted))
    first = inputs[0].shape
    rows = first[0] if first else 1
    arrays, compute_ns = await run_in_threadpool(_run_admitted, model, run_names, feed, max(1, rows), client_gone)
    by_name = dict(zip(run_names, arrays))
    return [(name, by_name[name], binary) for name, binary in wanted], rows, compute_ns


def detection_kwargs(parameters: dict[str, Any]) -> dict[str, Any]:
    """The request parameters that are Argus post-processing parameters."""
    kwargs = {k: v for k, v in parameters.items() if k in DetectionParams.__dataclass_fields__}
    if isinstance(kwargs.get("class_filter"), str):
        kwargs["class_filter"] = [c.strip() for c in kwargs["class_filter"].split(",") if c.strip()]
    return kwargs


async def infer_images(state: AppState, model: VisionModel, tensor: codec.Tensor, wanted: codec.Wanted,
                       default_binary: bool, parameters: dict[str, Any], client_gone: Callable[[], bool]
                       ) -> list[codec.Output]:
    """The Argus image extension: encoded images in, Roboflow-style JSON per image out, through the same
    :class:`~argus.runtime.service.InferenceService` path as ``/infer`` (limits, admission, decode budget; the
    service reports the request to the metrics)."""
    wanted = wanted or [(PREDICTIONS, default_binary)]
    for name, _ in wanted:
        if name != PREDICTIONS:
            raise InvalidInputError(f"An '{tensor.name}' request returns only the '{PREDICTIONS}' output, not "
                                    f"'{name}'.")
    elements = list(tensor.array.reshape(-1))
    if not elements:
        raise InvalidInputError(f"Input '{tensor.name}' holds no image.")
    kwargs = detection_kwargs(parameters)
    options = RenderOptions(keypoint_confidence=float(kwargs.get("keypoint_confidence") or 0.0))
    images = [{"type": "bytes", "value": bytes(e)} if tensor.binary else
              {"type": "base64", "value": e.decode("latin-1") if isinstance(e, bytes) else str(e)} for e in elements]

    def work() -> np.ndarray:
        outcome = state.service.infer(model.model_id, images, kwargs, options, client_gone=client_gone)
        out = np.empty(len(outcome.bodies), dtype=np.object_)
        out[:] = [orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY) for body in outcome.bodies]
        return out.reshape(tensor.shape)

    predictions = await run_in_threadpool(work)
    return [(PREDICTIONS, predictions, binary) for _, binary in wanted]


def image_input(inputs: list[codec.Tensor], model: VisionModel) -> codec.Tensor | None:
    """The input of an image-extension request, or None for a plain tensor request."""
    graph_inputs = {spec.name for spec in model.session.inputs}
    images = [t for t in inputs if t.name in IMAGE_INPUTS and t.name not in graph_inputs]
    if not images:
        return None
    if len(inputs) > 1 or images[0].datatype != "BYTES":
        raise InvalidInputError(f"An image request has exactly one BYTES input named {' or '.join(IMAGE_INPUTS)} "
                                "(encoded images) and no other input.")
    return images[0]


@_versioned_route("POST", "/infer")
async def infer(request: Request, model_name: str) -> Response:
    """Run inference on JSON or binary tensors, or on encoded images (the Argus extension)."""
    state = get_state(request)
    target = _target(request, model_name)
    header, parameters, inputs, wanted = await run_in_threadpool(
        codec.parse_request, await request.body(), request.headers.get("content-encoding"),
        request.headers.get(codec.HEADER_LENGTH), state.settings.max_body_bytes)
    default_binary = parameters.get("binary_data_output", False)
    model = await _model(request, target)
    started = time.perf_counter_ns()
    images = image_input(inputs, model)
    if images is not None:  # the inference service runs these and reports them to the metrics itself
        async with watch_disconnect(request) as gone:
            outputs = await infer_images(state, model, images, wanted, default_binary, parameters, gone.is_set)
    else:
        try:
            async with watch_disconnect(request) as gone:
                outputs, items, compute_ns = await infer_tensors(model, inputs, wanted, default_binary, gone.is_set)
        except Exception:
            state.service.notify(InferenceRecord(target.store_id, 0, (time.perf_counter_ns() - started) / 1e9, 0.0,
                                                 ok=False))
            raise
        state.service.notify(InferenceRecord(target.store_id, items, (time.perf_counter_ns() - started) / 1e9,
                                             compute_ns / 1e9, ok=True))
    response: dict[str, Any] = {"model_name": target.name, "model_version": target.version}
    if "id" in header:
        response["id"] = header["id"]
    content, header_length = await run_in_threadpool(codec.encode_response, response, outputs)
    if header_length is None:
        return Response(content, media_type="application/json")
    headers = {codec.HEADER_LENGTH: str(header_length)}
    return Response(content, media_type="application/octet-stream", headers=headers)


# ------------------------------------------------------------------------------- model repository


@router.post("/v2/repository/index")
async def repository_index(request: Request) -> ORJSONResponse:
    """Models in the store: ``READY`` when loaded, ``UNAVAILABLE`` (loads on first request) otherwise."""
    only_ready = codec.json_object(await request.body()).get("ready", False) is True
    manager = get_state(request).manager
    stored = await run_in_threadpool(manager.repository.list)
    loaded = manager.loaded()
    entries = []
    for model in stored:
        name, version = model.model_id.split("/")
        entry = {"name": name, "version": version, "state": "READY" if model.model_id in loaded else "UNAVAILABLE"}
        if model.model_id not in loaded:
            if only_ready:
                continue
            entry["reason"] = "not loaded (loads on first request)"
        entries.append(entry)
    return ORJSONResponse(entries)


@_versioned_route("POST", "/load", "/v2/repository/models")
async def load_model(request: Request, model_name: str) -> Response:
    """Load a model into memory (fetching a zoo alias first if needed)."""
    parameters = codec.json_object(await request.body()).get("parameters") or {}
    if isinstance(parameters, dict) and any(k == "config" or k.startswith("file:") for k in parameters):
        raise InvalidInputError("Argus loads models from its store; 'config' and 'file:' overrides are not "
                                "supported (import the model with `argus models import`).")
    target = _target(request, model_name)
    await _model(request, target)
    return Response(status_code=200)


@_versioned_route("POST", "/unload", "/v2/repository/models")
async def unload_model(request: Request, model_name: str) -> Response:
    """Drop a model from memory; it stays in the store (unloading an unloaded model succeeds)."""
    codec.json_object(await request.body())
    target = _target(request, model_name)
    manager = get_state(request).manager
    try:
        manager.unload(target.store_id)
    except ModelNotFoundError:
        pass  # not loaded: already in the requested state
    return Response(status_code=200)
