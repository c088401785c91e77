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
from argus.store.bundle import OWL_CLASS_EMBEDDINGS, BundleKind, BundleManifest

CLIP_TYPES = ("clip", "chinese_clip", "siglip")
DEPTH_TYPES = ("depth_anything", "dpt", "glpn", "zoedepth")
SAM_TYPES = ("sam",)
OWL_TYPES = ("owlvit", "owlv2")


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


def read_layout(folder: Path, scratch: Path) -> Layout:
    """The bundle a Hugging Face export folder holds (files derived at import are written under ``scratch``)."""
    config = json.loads((folder / "config.json").read_text())
    model_type = str(config.get("model_type", ""))
    if model_type in CLIP_TYPES:
        return _clip(folder, config)
    if model_type in DEPTH_TYPES:
        return _depth(folder)
    if model_type in SAM_TYPES:
        return _sam(folder)
    if model_type in OWL_TYPES:
        return _owl(folder, config, scratch)
    raise InvalidInputError(f"{folder} holds a '{model_type[:60]}' model (config.json); Argus imports CLIP "
                            f"({', '.join(CLIP_TYPES)}), depth ({', '.join(DEPTH_TYPES)}), SAM and OWL-ViT folders.")


def _clip(folder: Path, config: dict[str, Any]) -> Layout:
    context = int(config.get("text_config", {}).get("max_position_embeddings", 77))
    if (folder / "model.onnx").is_file():
        graphs, layout = {"model": folder / "model.onnx"}, "joint"
    elif (folder / "onnx" / "vision_model.onnx").is_file() and (folder / "onnx" / "text_model.onnx").is_file():
        graphs, layout = {"vision": folder / "onnx" / "vision_model.onnx",
                          "text": folder / "onnx" / "text_model.onnx"}, "towers"
    else:
        raise InvalidInputError(
            f"{folder} is a CLIP folder without its graphs: expected model.onnx (optimum-cli export onnx --task "
            "zero-shot-image-classification) or onnx/vision_model.onnx and onnx/text_model.onnx (transformers.js).")
    return _bundle(folder, BundleKind.CLIP, graphs, {"layout": layout, "context": context}, extra=("tokenizer.json",))


def _depth(folder: Path) -> Layout:
    graph = next((path for path in (folder / "model.onnx", folder / "onnx" / "model.onnx") if path.is_file()), None)
    if graph is None:
        raise InvalidInputError(f"{folder} is a depth-estimation folder without its graph: expected model.onnx "
                                "(optimum-cli export onnx --task depth-estimation) or onnx/model.onnx "
                                "(onnx-community / transformers.js).")
    return _bundle(folder, BundleKind.DEPTH, {"model": graph}, {})


def _sam(folder: Path) -> Layout:
    for base in (folder, folder / "onnx"):
        encoder, decoder = base / "vision_encoder.onnx", base / "prompt_encoder_mask_decoder.onnx"
        if encoder.is_file() and decoder.is_file():
            return _bundle(folder, BundleKind.SAM, {"encoder": encoder, "decoder": decoder}, {})
    raise InvalidInputError(f"{folder} is a SAM folder without its graphs: expected vision_encoder.onnx and "
                            "prompt_encoder_mask_decoder.onnx (optimum-cli export onnx), at the top or under onnx/.")


def _owl(folder: Path, config: dict[str, Any], scratch: Path) -> Layout:
    source = next((path for path in (folder / "model.onnx", folder / "onnx" / "model.onnx") if path.is_file()), None)
    if source is None:
        raise InvalidInputError(f"{folder} is an OWL-ViT folder without its graph: expected model.onnx "
                                "(optimum-cli export onnx --task zero-shot-object-detection) or onnx/model.onnx.")
    graph = scratch / "model.onnx"
    with_class_embeddings(source, graph)
    context = int(config.get("text_config", {}).get("max_position_embeddings", 16))
    special = folder / "special_tokens_map.json"
    pad = None
    if special.is_file():
        value = json.loads(special.read_text()).get("pad_token")
        pad = value.get("content") if isinstance(value, dict) else value
    variant = str(config.get("model_type"))
    return _bundle(folder, BundleKind.OWL, {"model": graph}, {"context": context, "pad_token": pad,
                                                              "variant": variant}, extra=("tokenizer.json",))


def _bundle(folder: Path, kind: BundleKind, graphs: dict[str, Path], config: dict[str, Any],
            extra: tuple[str, ...] = ()) -> Layout:
    """A bundle of the graphs plus ``preprocessor_config.json`` and ``config.json`` (and ``extra`` files)."""
    files = {"preprocessor": folder / "preprocessor_config.json", "config": folder / "config.json",
             **{name.split(".")[0]: folder / name for name in extra}}
    missing = [path.name for path in files.values() if not path.is_file()]
    if missing:
        raise InvalidInputError(f"{folder} is a {kind.value} folder without {', '.join(missing)}.")
    files.update(graphs)
    manifest = BundleManifest(kind=kind, files={role: path.name for role, path in files.items()}, config=config,
                              source=str(folder))
    return Layout(manifest, {path.name: path for path in files.values()})


def with_class_embeddings(source: Path, target: Path) -> None:
    """Write the OWL-ViT graph with one more output: each patch's normalised class embedding.

    The class head compares those with the text queries' embeddings in its one ``Einsum``; image-guided detection
    (argus.models.foundation.owl) compares them with example boxes' embeddings instead, so the tensor feeding the
    Einsum is exposed under :data:`OWL_CLASS_EMBEDDINGS`. A graph whose class head cannot be found is refused.
    """
    import onnx
    from onnx import helper

    model = onnx.load(str(source))
    einsums = [node for node in model.graph.node if node.op_type == "Einsum"]
    if len(einsums) != 1:
        raise InvalidInputError(f"{source} does not look like OWL-ViT's export: expected one Einsum (its class head), "
                                f"found {len(einsums)}.")
    if OWL_CLASS_EMBEDDINGS not in {output.name for output in model.graph.output}:
        model.graph.node.append(helper.make_node("Identity", [einsums[0].input[0]], [OWL_CLASS_EMBEDDINGS]))
        model.graph.output.append(helper.make_tensor_value_info(OWL_CLASS_EMBEDDINGS, onnx.TensorProto.FLOAT,
                                                                None))
    onnx.save(model, str(target))
