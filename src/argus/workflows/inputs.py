"""Run-time inputs: images (arrays, request dicts, batches), parameters with defaults, video metadata."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from argus.workflows.data import VideoMetadata, WorkflowImageData
from argus.workflows.definition import (
    WorkflowBatchInput,
    WorkflowImage,
    WorkflowParameter,
    WorkflowVideoMetadata,
)
from argus.workflows.deserialization import detections_from_prediction_json
from argus.workflows.errors import WorkflowInputError
from argus.workflows.kinds import DETECTION_KINDS, IMAGE_KIND

if TYPE_CHECKING:
    from argus.settings import Settings
    from argus.workflows.compiler import WorkflowPlan

logger = logging.getLogger(__name__)

Index = tuple[int, ...]


@dataclass
class PreparedInputs:
    """Inputs laid out for the executor: batch values by index, scalars as they are."""

    scalars: dict[str, Any] = field(default_factory=dict)
    batches: dict[str, dict[Index, Any]] = field(default_factory=dict)
    parents: dict[str, list[Index]] = field(default_factory=dict)
    batch_size: int = 1
    video_metadata: dict[int, VideoMetadata] = field(default_factory=dict)


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _video_metadata(value: Any, name: str) -> VideoMetadata:
    if isinstance(value, VideoMetadata):
        return value
    if not isinstance(value, dict):
        raise WorkflowInputError(f"Workflow input '{name}' must be an object with 'video_identifier', "
                                 f"'frame_number', 'frame_timestamp', 'fps', got {type(value).__name__}.")
    try:
        return VideoMetadata.from_dict(value)
    except (TypeError, ValueError) as error:
        raise WorkflowInputError(f"Workflow input '{name}': invalid video metadata ({error}).") from None


def _load_image(value: Any, name: str, position: int, settings: Settings) -> tuple[np.ndarray, VideoMetadata | None]:
    from argus.core.images import load_image
    from argus.inputs.request_image import resolve_image

    if isinstance(value, WorkflowImageData):
        return value.numpy_image, value.video_metadata
    metadata = None
    if isinstance(value, dict) and value.get("video_metadata") is not None:
        metadata = _video_metadata(value["video_metadata"], name)
    if isinstance(value, np.ndarray):
        return load_image(value, settings.max_image_pixels), metadata
    if isinstance(value, dict) and str(value.get("type", "")).lower() == "numpy_object" and isinstance(
            value.get("value"), np.ndarray):
        return load_image(value["value"], settings.max_image_pixels), metadata
    if value is None:
        raise WorkflowInputError(f"Workflow input '{name}' (an image) was not given.")
    return resolve_image(value, settings), metadata  # its errors (400 decode, 403 disabled type) say what to fix


def _nested(value: Any, depth: int, prefix: Index, out: dict[Index, Any], parents: list[Index]) -> None:
    if depth == 0:
        out[prefix] = value
        return
    parents.append(prefix)
    for i, item in enumerate(_as_list(value)):
        _nested(item, depth - 1, prefix + (i,), out, parents)


def prepare_inputs(plan: WorkflowPlan, given: dict[str, Any], settings: Settings) -> PreparedInputs:
    """Lay out ``given`` for the plan: defaults filled, images decoded, batches indexed."""
    if not isinstance(given, dict):
        raise WorkflowInputError("Workflow inputs must be an object {input name: value}.")
    unknown = set(given) - set(plan.inputs)
    if unknown:  # the reference ignores inputs a definition does not declare; so does Argus (clients send extras)
        logger.info("ignoring workflow input(s) the definition does not declare: %s", ", ".join(sorted(unknown)))
    prepared = PreparedInputs()
    sizes: dict[str, int] = {}
    image_metadata: dict[int, VideoMetadata] = {}
    for name, spec in plan.inputs.items():
        definition = spec.definition
        value = given.get(name)
        if isinstance(definition, WorkflowParameter):
            prepared.scalars[name] = value if name in given else definition.default_value
            continue
        if value is None:
            raise WorkflowInputError(f"Workflow input '{name}' is required (declared as {getattr(definition, 'type', '?')}) but was "
                                     "not given.")
        if isinstance(definition, WorkflowImage):
            items = _as_list(value)
            batch: dict[Index, Any] = {}
            for i, item in enumerate(items):
                array, metadata = _load_image(item, name, i, settings)
                if metadata is not None:
                    image_metadata.setdefault(i, metadata)
                batch[(i,)] = (array, item if isinstance(item, dict) else None)
            prepared.batches[name] = batch
            prepared.parents[name] = [()]
            sizes[name] = len(items)
        elif isinstance(definition, WorkflowVideoMetadata):
            items = [_video_metadata(v, name) for v in _as_list(value)]
            prepared.batches[name] = {(i,): v for i, v in enumerate(items)}
            prepared.parents[name] = [()]
            sizes[name] = len(items)
        elif isinstance(definition, WorkflowBatchInput):
            out: dict[Index, Any] = {}
            parents: list[Index] = []
            _nested(value, definition.dimensionality, (), out, parents)
            if IMAGE_KIND in spec.kinds:  # a batch of images: decoded and wrapped like WorkflowImage inputs
                out = {index: WorkflowImageData.root(_load_image(item, name, index[-1], settings)[0], name)
                       for index, item in out.items()}
            elif any(kind in spec.kinds for kind in DETECTION_KINDS):  # predictions JSON, as the reference reads it
                out = {index: detections_from_prediction_json(name, item) for index, item in out.items()}
            prepared.batches[name] = out
            prepared.parents[name] = parents
            sizes[name] = len(_as_list(value))
    distinct = {size for size in sizes.values() if size != 1}
    if len(distinct) > 1:
        shown = ", ".join(f"{n}: {s}" for n, s in sorted(sizes.items()))
        raise WorkflowInputError(f"Batch inputs must have the same length (or 1): {shown}.")
    prepared.batch_size = max(sizes.values(), default=1)
    _broadcast(prepared, sizes)
    metadata_inputs = [n for n, s in plan.inputs.items() if isinstance(s.definition, WorkflowVideoMetadata)]
    for i in range(prepared.batch_size):
        if metadata_inputs:
            prepared.video_metadata[i] = prepared.batches[metadata_inputs[0]][(i,)]
        else:
            prepared.video_metadata[i] = image_metadata.get(i, VideoMetadata())
    _wrap_images(plan, prepared)
    return prepared


def _broadcast(prepared: PreparedInputs, sizes: dict[str, int]) -> None:
    """Length-1 batches repeat for every element of longer ones (one metadata dict for all frames)."""
    if prepared.batch_size <= 1:
        return
    for name, size in sizes.items():
        if size == 1:
            batch = prepared.batches[name]
            prepared.batches[name] = {(i,) + key[1:]: value for i in range(prepared.batch_size)
                                      for key, value in batch.items()}


def _wrap_images(plan: WorkflowPlan, prepared: PreparedInputs) -> None:
    for name, spec in plan.inputs.items():
        if not isinstance(spec.definition, WorkflowImage):
            continue
        batch = prepared.batches[name]
        for index, (array, raw) in list(batch.items()):
            parent_id = str(raw.get("parent_id")) if raw and raw.get("parent_id") else name
            batch[index] = WorkflowImageData.root(array, parent_id=parent_id,
                                                  video_metadata=prepared.video_metadata[index[0]])
