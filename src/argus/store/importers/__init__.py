"""Importers: bring an ONNX model (ultralytics export, Roboflow cache folder, plain ONNX) into the store.

Example:
    >>> from argus.store.importers import import_model  # doctest: +SKIP
    >>> import_model(Path("yolov8n.onnx"), "coco/8", repository)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from argus.errors import InvalidInputError
from argus.store.importers.hf_layouts import is_hf_folder, read_layout
from argus.store.importers.inspect import GraphInterface, guess_family, read_interface
from argus.store.importers.roboflow import is_roboflow_cache, manifest_from_roboflow, weights_file
from argus.store.importers.sam_exporter import is_sam_export, read_sam_export
from argus.store.importers.ultralytics import is_ultralytics, manifest_from_ultralytics
from argus.store.manifest import TASK_OF_FAMILY, Family, Layout, ModelManifest, Task
from argus.store.repository import ModelRepository, StoredBundle, StoredModel

__all__ = ["import_model", "manifest_for_onnx"]

logger = logging.getLogger(__name__)


def import_model(source: Path, model_id: str, repository: ModelRepository, *, overwrite: bool = False,
                 **overrides: Any) -> StoredModel | StoredBundle:
    """Import ``source`` (an .onnx file, a Roboflow cache folder or a Hugging Face export folder) as ``model_id``.

    Keyword overrides are manifest fields (``task``, ``family``, ``class_names``, ``input_width``,
    ...) that win over what the importer reads.
    """
    source = source.expanduser()
    if not source.exists():
        raise InvalidInputError(f"{source} does not exist.")
    try:
        if source.is_dir() and (is_hf_folder(source) or is_sam_export(source)):
            with tempfile.TemporaryDirectory() as scratch:
                layout = read_layout(source, Path(scratch)) if is_hf_folder(source) else read_sam_export(source)
                manifest_overrides = {k: v for k, v in overrides.items() if k in ("license", "source")}
                bundle = layout.manifest.model_copy(update=manifest_overrides)
                return repository.add_bundle(model_id, layout.files, bundle, overwrite=overwrite)
        if source.is_dir():
            if not is_roboflow_cache(source):
                raise InvalidInputError(
                    f"{source} is a folder but neither a Roboflow model cache (environment.json and weights.onnx) "
                    "nor a Hugging Face export (config.json with ONNX graphs).")
            manifest = manifest_from_roboflow(source, **overrides)
            onnx_file = weights_file(source)
        else:
            manifest = manifest_for_onnx(source, **overrides)
            onnx_file = source
    except ValidationError as error:
        raise InvalidInputError(f"cannot build a manifest for {source.name}: {_summarise(error)}") from None
    return repository.add(model_id, onnx_file, manifest, overwrite=overwrite)


def manifest_for_onnx(path: Path, **overrides: Any) -> ModelManifest:
    """Manifest of a single ONNX file: ultralytics metadata when present, else shapes plus overrides."""
    interface = read_interface(path)
    if is_ultralytics(interface):
        return manifest_from_ultralytics(interface, **overrides)
    return _plain_manifest(interface, **overrides)


def _plain_manifest(interface: GraphInterface, **overrides: Any) -> ModelManifest:
    given = {k: v for k, v in overrides.items() if v is not None}
    task = given.get("task")
    class_names = given.get("class_names") or []
    family = given.get("family") or guess_family(interface, len(class_names) or None, task)
    family = Family(family)
    height, width = interface.input_hw
    fields: dict[str, Any] = {
        "family": family,
        "task": task or TASK_OF_FAMILY[family],
        "input_width": width,
        "input_height": height,
        "layout": Layout.NHWC if interface.is_nhwc else Layout.NCHW,
        "source": "onnx import",
    }
    fields.update(given)
    if fields["input_width"] is None or fields["input_height"] is None:
        raise InvalidInputError("the model's input size is dynamic; pass --input-size WIDTHxHEIGHT.")
    if Task(fields["task"]) in (Task.CLASSIFICATION, Task.MULTI_LABEL_CLASSIFICATION):
        fields["family"] = Family.CLASSIFIER
    return ModelManifest(**fields)


def _summarise(error: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
