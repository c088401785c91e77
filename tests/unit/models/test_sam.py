"""SAM on a tiny random model exported by optimum, against transformers' SamModel forward and
``post_process_masks`` on the same weights: the masks must be identical."""

from __future__ import annotations

import numpy as np
import pytest

from argus.errors import InvalidInputError
from argus.models.foundation.sam import SamModel
from argus.runtime.manager import ModelManager
from argus.settings import Settings
from argus.store.importers import import_model
from foundation_fixtures import FIXTURES, clip_images, sam_expected, sam_exporter_expected


@pytest.fixture(scope="module")
def manager(tmp_path_factory: pytest.TempPathFactory) -> ModelManager:
    manager = ModelManager(Settings(home=tmp_path_factory.mktemp("sam-home"), sam_cached_images=2))
    import_model(FIXTURES / "sam-optimum", "sam/tiny", manager.repository)
    return manager


@pytest.fixture(scope="module")
def sam(manager: ModelManager) -> SamModel:
    model = manager.foundation("sam/tiny", SamModel)
    assert isinstance(model, SamModel)
    return model


@pytest.mark.parametrize("index", [0, 1, 2])
def test_masks_are_identical_to_transformers(sam: SamModel, index: int) -> None:
    expected, points, labels = sam_expected()
    _, embedding = sam.embed(clip_images()[index])
    result = sam.segment(embedding, [(x, y) for x, y in points[index]], labels[index])
    assert result.mask.shape == clip_images()[index].shape[:2]
    assert np.array_equal(result.mask, expected[f"mask{index}"])
    assert result.score == pytest.approx(float(expected[f"score{index}"]), abs=1e-6)


def test_embeddings_are_cached_by_image_id_within_the_bound(sam: SamModel) -> None:
    images = clip_images()
    image_id, first = sam.embed(images[0], "first")
    assert image_id == "first" and sam.cached("first") is first
    assert sam.embed(images[1], "first")[1] is first  # a known id does not run the encoder again
    sam.embed(images[1], "second")
    sam.embed(images[2], "third")
    assert sam.cached("first") is None and sam.cached("third") is not None  # two entries at most


def test_the_cache_counts_in_the_models_memory(manager: ModelManager, sam: SamModel) -> None:
    per_image = 2 * 16 * 8 * 8 * 4  # embeddings and positional embeddings, float32
    assert sam.reserved_bytes == 2 * per_image
    assert manager.loaded()["sam/tiny"].memory_bytes >= sam.reserved_bytes


@pytest.mark.parametrize("point", [(-1.0, 5.0), (65.0, 5.0), (5.0, 49.0)])
def test_a_point_outside_the_image_is_refused(sam: SamModel, point: tuple[float, float]) -> None:
    _, embedding = sam.embed(clip_images()[0])  # 64 x 48
    with pytest.raises(InvalidInputError, match="outside the 64x48 image"):
        sam.segment(embedding, [point], [1])


@pytest.mark.parametrize("index", [0, 1, 2])
def test_segment_anything_exports_take_boxes_and_match_sam_predictor(manager: ModelManager, index: int) -> None:
    if not manager.repository.is_bundle("sam/exporter"):
        import_model(FIXTURES / "sam-exporter", "sam/exporter", manager.repository)
    model = manager.foundation("sam/exporter", SamModel)
    assert isinstance(model, SamModel) and model.takes_boxes
    expected, prompts = sam_exporter_expected()
    prompt = prompts[index]
    _, embedding = model.embed(clip_images()[index])
    result = model.segment(embedding, [(x, y) for x, y in prompt["points"]], prompt["labels"],
                           tuple(prompt["box"]) if prompt["box"] else None)
    assert np.array_equal(result.mask, expected[f"mask{index}"])
    assert result.score == pytest.approx(float(expected[f"score{index}"]), abs=1e-5)


def test_a_box_outside_the_image_is_refused(manager: ModelManager) -> None:
    if not manager.repository.is_bundle("sam/exporter"):
        import_model(FIXTURES / "sam-exporter", "sam/exporter", manager.repository)
    model = manager.foundation("sam/exporter", SamModel)
    _, embedding = model.embed(clip_images()[0])  # type: ignore[attr-defined]
    with pytest.raises(InvalidInputError, match="outside"):
        model.segment(embedding, [], [], (10.0, 10.0, 70.0, 20.0))  # type: ignore[attr-defined]
