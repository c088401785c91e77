"""CLIP on tiny random models of the real architecture, against transformers' own forward on the same weights.

Both layouts people have (optimum's one-graph export and transformers.js's two towers) must give transformers'
normalised features within 1e-4.
"""

from __future__ import annotations

import numpy as np
import pytest

from argus.errors import InvalidInputError
from argus.models.foundation.clip import ClipModel
from argus.models.foundation.image_processor import ImageProcessor
from argus.runtime.manager import ModelManager
from argus.settings import Settings
from argus.store.importers import import_model
from foundation_fixtures import CLIP_LAYOUTS, FIXTURES, clip_expected, clip_images


@pytest.fixture(scope="module", params=CLIP_LAYOUTS)
def clip(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> ClipModel:
    manager = ModelManager(Settings(home=tmp_path_factory.mktemp("clip-home")))
    import_model(FIXTURES / request.param, "clip/tiny", manager.repository)
    model = manager.foundation("clip/tiny", ClipModel)
    assert isinstance(model, ClipModel)
    return model


def test_image_embeddings_match_transformers(clip: ClipModel) -> None:
    batch = np.stack([clip.processor(image) for image in clip_images()])
    embeddings = clip.run_batch(batch)[0]
    np.testing.assert_allclose(embeddings, clip_expected()["image_embeds"], atol=1e-4)


def test_text_embeddings_match_transformers_and_long_prompts_are_cut(clip: ClipModel) -> None:
    expected = clip_expected()
    tokens = [clip.tokenizer(str(text)) for text in expected["texts"]]
    embeddings = np.stack([clip.embed_text(t) for t in tokens])
    np.testing.assert_allclose(embeddings, expected["text_embeds"], atol=1e-4)
    assert [t.truncated for t in tokens] == [False] * 6 + [True]
    assert len(tokens[-1].ids) == 16 and tokens[-1].ids[-1] == tokens[0].ids[-1]  # the end token is kept


def test_the_bundle_records_the_layout_and_context(clip: ClipModel) -> None:
    assert clip.clip_config.context == 16
    assert clip.clip_config.layout in ("joint", "towers")


def test_a_prompt_that_is_not_a_string_is_refused(clip: ClipModel) -> None:
    with pytest.raises(InvalidInputError, match="must be a string"):
        clip.tokenizer(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(("config", "size", "expected"), [
    ({"size": {"shortest_edge": 224}}, (640, 480), (298, 224)),
    ({"size": {"shortest_edge": 224}}, (480, 640), (224, 298)),
    ({"size": 32}, (32, 32), (32, 32)),
    ({"size": {"height": 384, "width": 512}}, (100, 50), (512, 384)),
])
def test_the_resize_follows_transformers_rules(config: dict, size: tuple[int, int], expected: tuple[int, int]
                                               ) -> None:
    assert ImageProcessor.from_config(config).target_size(*size) == expected


def test_a_centre_crop_larger_than_the_image_pads_with_zeros() -> None:
    processor = ImageProcessor.from_config({"do_resize": False, "crop_size": 4, "do_normalize": False,
                                            "rescale_factor": 1.0})
    tensor = processor(np.full((2, 2, 3), 200, np.uint8))
    assert tensor.shape == (3, 4, 4)
    assert tensor[0, 1:3, 1:3].tolist() == [[200, 200], [200, 200]] and tensor[0, 0].tolist() == [0, 0, 0, 0]
