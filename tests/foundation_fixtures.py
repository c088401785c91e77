"""The tiny foundation-model fixtures (scripts/make_foundation_fixtures.py) and transformers' outputs on them."""

from __future__ import annotations

import base64
from pathlib import Path

import cv2
import numpy as np

from argus.settings import Settings
from argus.store.importers import import_model
from argus.store.repository import ModelRepository

FIXTURES = Path(__file__).parent / "fixtures" / "foundation"
CLIP_LAYOUTS = ("clip-optimum", "clip-transformers-js")


def clip_expected() -> dict[str, np.ndarray]:
    """transformers' normalised image and text features and their similarities (image × text)."""
    with np.load(FIXTURES / "clip-expected" / "expected.npz") as data:
        return {key: data[key] for key in data.files}


def clip_images() -> list[np.ndarray]:
    """The three images the CLIP features were computed on, as BGR arrays."""
    images = [cv2.imread(str(FIXTURES / "clip-expected" / f"image{index}.png")) for index in range(3)]
    assert all(image is not None for image in images)
    return images


def clip_image_paths() -> list[Path]:
    """The same images as PNG files."""
    return [FIXTURES / "clip-expected" / f"image{index}.png" for index in range(3)]


def wire_images() -> list[dict[str, str]]:
    """The same images as the wire's base64 image objects."""
    return [{"type": "base64", "value": base64.b64encode(path.read_bytes()).decode()} for path in clip_image_paths()]


def settings_with(home: Path, bundles: dict[str, str]) -> Settings:
    """Settings over ``home`` whose model store holds the named fixture bundles (model id → fixture layout)."""
    settings = Settings(home=home)
    repository = ModelRepository(settings.model_store_dir)
    for model_id, layout in bundles.items():
        import_model(FIXTURES / layout, model_id, repository)
    return settings


def sam_expected() -> tuple[dict[str, np.ndarray], list[list[list[float]]], list[list[int]]]:
    """transformers' best masks and scores for the fixture images, and the point prompts that made them."""
    import json

    prompts = json.loads((FIXTURES / "sam-expected" / "prompts.json").read_text())
    with np.load(FIXTURES / "sam-expected" / "expected.npz") as data:
        return {key: data[key] for key in data.files}, prompts["points"], prompts["labels"]


def owl_expected() -> tuple[dict[str, np.ndarray], list[str]]:
    """transformers' post-processed OWL-ViT detections (threshold 0) of the fixture images, and the queries; and
    (``guided_*``) the reference's image-guided detections from the examples in :func:`owl_examples`."""
    with np.load(FIXTURES / "owlvit-expected" / "expected.npz") as data:
        values = {key: data[key] for key in data.files}
    return values, [str(q) for q in values.pop("queries")]


def owl_examples() -> dict:
    """The image-guided prompt of the OWL fixture: boxes on one fixture image and the thresholds."""
    import json

    return json.loads((FIXTURES / "owlvit-expected" / "examples.json").read_text())


def sam_exporter_expected() -> tuple[dict[str, np.ndarray], list[dict]]:
    """SamPredictor's best masks for the segment-anything export fixture, and the prompts (points, labels, an
    x1, y1, x2, y2 box or None) per fixture image."""
    import json

    prompts = json.loads((FIXTURES / "sam-exporter-expected" / "prompts.json").read_text())
    with np.load(FIXTURES / "sam-exporter-expected" / "expected.npz") as data:
        return {key: data[key] for key in data.files}, prompts
