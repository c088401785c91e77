"""Depth estimation on tiny random DPT and Depth Anything models, against transformers' forward and
``post_process_depth_estimation`` on the same weights, min-max normalised as the reference server does."""

from __future__ import annotations

import numpy as np
import pytest

from argus.models.foundation.depth import DepthModel, normalise
from argus.models.foundation.image_processor import ImageProcessor
from argus.runtime.manager import ModelManager
from argus.settings import Settings
from argus.store.importers import import_model
from foundation_fixtures import FIXTURES, clip_images

LAYOUTS = ("dpt-optimum", "depth-anything-onnx-community")


@pytest.fixture(scope="module", params=LAYOUTS)
def depth(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[DepthModel, str]:
    manager = ModelManager(Settings(home=tmp_path_factory.mktemp("depth-home")))
    import_model(FIXTURES / request.param, "depth/tiny", manager.repository)
    model = manager.foundation("depth/tiny", DepthModel)
    assert isinstance(model, DepthModel)
    return model, request.param


def test_depth_maps_match_transformers(depth: tuple[DepthModel, str]) -> None:
    model, layout = depth
    with np.load(FIXTURES / f"{layout}-expected" / "expected.npz") as expected:
        maps = model.estimate(3, clip_images())
        for index, depth_map in enumerate(maps):
            reference = expected[f"depth{index}"]
            assert depth_map.shape == reference.shape == clip_images()[index].shape[:2]
            np.testing.assert_allclose(depth_map, reference, atol=1e-4)


@pytest.mark.parametrize(("width", "height", "expected"), [(64, 48, (56, 42)), (40, 40, (56, 56)), (90, 30, (56, 14))])
def test_the_keep_aspect_resize_gives_transformers_sizes(width: int, height: int, expected: tuple[int, int]) -> None:
    # Sizes transformers' DPTImageProcessor gave for these images with Depth Anything V2's settings at 56.
    processor = ImageProcessor.from_config({"size": {"height": 56, "width": 56}, "keep_aspect_ratio": True,
                                            "ensure_multiple_of": 14})
    assert processor.target_size(width, height) == expected


def test_a_flat_map_normalises_to_zeros() -> None:
    assert normalise(np.full((3, 4), 7.0)).tolist() == np.zeros((3, 4)).tolist()
