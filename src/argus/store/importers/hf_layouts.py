"""Foundation-model folders as the Hugging Face ecosystem exports them, recognised from ``config.json``.

Two layouts:
1. ``optimum-cli export onnx`` (optimum-onnx) for the model's task: the graphs at the top of the folder
   (CLIP ``zero-shot-image-classification``: ``model.onnx``);
2. transformers.js / onnx-community: the graphs under ``onnx/`` (CLIP: ``vision_model.onnx`` and
   ``text_model.onnx``), with ``tokenizer.json`` and ``preprocessor_config.json`` at the top.

A folder that is neither says which files were expected.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argus.errors import InvalidInputError
from argus.store.bundle import BundleKind, BundleManifest

CLIP_TYPES = ("clip", "chinese_clip", "siglip")


@dataclass(frozen=True)
class Layout:
    """A recognised folder: the bundle manifest and the local file for each of its file names."""

    manifest: BundleManifest
    files: dict[str, Path]


def is_hf_folder(folder: Path) -> bool:
    """True when ``folder`` has a transformers ``config.json`` (with a ``model_type``)."""
    try:
        return "model_type" in json.loads((folder / "config.json").read_text())
    except (OSError, ValueError, TypeError):
        return False


def read_layout(folder: Path) -> Layout:
    """The bundle a Hugging Face export folder holds."""
    config = json.loads((folder / "config.json").read_text())
    model_type = str(config.get("model_type", ""))
    if model_type in CLIP_TYPES:
        return _clip(folder, config)
    raise InvalidInputError(f"{folder} holds a '{model_type[:60]}' model (config.json); Argus imports CLIP "
                            f"({', '.join(CLIP_TYPES)}) folders.")


def _clip(folder: Path, config: dict[str, Any]) -> Layout:
    context = int(config.get("text_config", {}).get("max_position_embeddings", 77))
    common = {"tokenizer": "tokenizer.json", "preprocessor": "preprocessor_config.json", "config": "config.json"}
    if (folder / "model.onnx").is_file():
        graphs, layout = {"model": folder / "model.onnx"}, "joint"
    elif (folder / "onnx" / "vision_model.onnx").is_file() and (folder / "onnx" / "text_model.onnx").is_file():
        graphs, layout = {"vision": folder / "onnx" / "vision_model.onnx",
                          "text": folder / "onnx" / "text_model.onnx"}, "towers"
    else:
        raise InvalidInputError(
            f"{folder} is a CLIP folder without its graphs: expected model.onnx (optimum-cli export onnx --task "
            "zero-shot-image-classification) or onnx/vision_model.onnx and onnx/text_model.onnx (transformers.js).")
    files = {role: folder / name for role, name in common.items()}
    missing = [path.name for path in files.values() if not path.is_file()]
    if missing:
        raise InvalidInputError(f"{folder} is a CLIP folder without {', '.join(missing)}.")
    files.update(graphs)
    names = {role: path.name for role, path in files.items()}
    manifest = BundleManifest(kind=BundleKind.CLIP, files=names, config={"layout": layout, "context": context},
                              source=str(folder))
    return Layout(manifest, {path.name: path for path in files.values()})
