"""Bundles: models made of several files (graphs, tokenizer, configs) described by ``bundle.json``.

A foundation model (PP-OCR's three stages, CLIP's two towers, SAM's encoder and decoder) does not fit the
one-graph ``model.onnx`` + ``model.json`` layout, so it is stored as a folder of named files with a
manifest that says what each file is. ``config`` holds the model kind's own settings (detection thresholds,
image size and normalisation, the embedding size), validated by the kind's loader.

Example:
    >>> m = BundleManifest(kind=BundleKind.PP_OCR, files={"detection": "det.onnx", "recognition": "rec.onnx"})
    >>> m.kind.value, sorted(m.files)
    ('pp-ocr', ['detection', 'recognition'])
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

BUNDLE_FILE = "bundle.json"
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z")


class BundleKind(StrEnum):
    """What a bundle is, which decides its loader and the routes that serve it."""

    PP_OCR = "pp-ocr"
    CLIP = "clip"
    SAM = "sam"
    DEPTH = "depth"
    OWL = "owl"


OWL_CLASS_EMBEDDINGS = "image_class_embeds"
"""The output the importer adds to an OWL-ViT graph: each patch's normalised class embedding."""

KIND_TASK: dict[BundleKind, str] = {
    BundleKind.PP_OCR: "ocr", BundleKind.CLIP: "embed", BundleKind.SAM: "segment-anything",
    BundleKind.DEPTH: "depth-estimation", BundleKind.OWL: "object-detection",
}
"""The reference's ``task_type`` for each kind (``/model/registry``)."""


class BundleManifest(BaseModel):
    """Contents of ``bundle.json``: the kind, its files by role, and the kind's settings."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    schema_version: int = 1
    kind: BundleKind
    files: dict[str, str] = Field(min_length=1)
    """Role (``detection``, ``vision``, ``tokenizer``...) → file name inside the bundle's folder."""
    config: dict[str, Any] = Field(default_factory=dict)
    source: str | None = None
    license: str | None = None
    sha256: dict[str, str] = Field(default_factory=dict)
    """File name → sha256, written by the store."""

    @field_validator("files")
    @classmethod
    def _plain_names(cls, files: dict[str, str]) -> dict[str, str]:
        bad = [name for name in files.values() if not _FILE_NAME.match(name) or ".." in name]
        if bad:
            raise ValueError(f"bundle file names must be plain names inside the bundle's folder, not {bad}")
        return files
