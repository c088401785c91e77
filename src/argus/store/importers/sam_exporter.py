"""Segment Anything as the segment-anything package and samexporter export it: ``*.encoder.onnx`` (the normalised
image padded to a square → ``image_embeddings``) and ``*.decoder.onnx`` (segment_anything's ``SamOnnxModel``:
points and box corners, a mask input, the image size → masks and their predicted IoU). No ``config.json``: the
folder is recognised from the decoder's inputs.
"""

from __future__ import annotations

from pathlib import Path

from argus.errors import InvalidInputError
from argus.store.bundle import BundleKind, BundleManifest
from argus.store.importers.hf_layouts import Layout

DECODER_INPUTS = {"image_embeddings", "point_coords", "point_labels", "mask_input", "has_mask_input", "orig_im_size"}


def is_sam_export(folder: Path) -> bool:
    """True when the folder has one ``*encoder*.onnx`` and one ``*decoder*.onnx``."""
    return len(list(folder.glob("*encoder*.onnx"))) == 1 and len(list(folder.glob("*decoder*.onnx"))) == 1


def read_sam_export(folder: Path) -> Layout:
    """The bundle: the two graphs, the encoder's input side as the longest edge."""
    import onnx

    (encoder,), (decoder,) = folder.glob("*encoder*.onnx"), folder.glob("*decoder*.onnx")
    inputs = {i.name for i in onnx.load(str(decoder), load_external_data=False).graph.input}
    if not DECODER_INPUTS <= inputs:
        raise InvalidInputError(f"{decoder.name} is not segment_anything's SamOnnxModel decoder: it lacks "
                                f"{', '.join(sorted(DECODER_INPUTS - inputs))}.")
    shape = onnx.load(str(encoder), load_external_data=False).graph.input[0].type.tensor_type.shape.dim
    if len(shape) != 4 or not shape[-1].dim_value:
        raise InvalidInputError(f"{encoder.name} does not take a fixed-size NCHW image (an encoder exported with its "
                                "preprocessing inside is not supported; export it without).")
    manifest = BundleManifest(kind=BundleKind.SAM, files={"encoder": encoder.name, "decoder": decoder.name},
                              config={"layout": "segment-anything", "longest_edge": int(shape[-1].dim_value)},
                              source=str(folder))
    return Layout(manifest, {encoder.name: encoder, decoder.name: decoder})
