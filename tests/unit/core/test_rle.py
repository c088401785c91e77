"""COCO RLE matches pycocotools, the reference implementation, byte for byte."""

from __future__ import annotations

import numpy as np
import pytest

from argus.core.rle import mask_to_rle

mask_utils = pytest.importorskip("pycocotools.mask")


@pytest.mark.parametrize("seed", range(5))
def test_rle_equals_pycocotools(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(40):
        height, width = (int(v) for v in rng.integers(1, 50, 2))
        mask = rng.random((height, width)) < rng.random()
        expected = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
        ours = mask_to_rle(mask)
        assert ours["counts"] == expected["counts"].decode()
        assert ours["size"] == [height, width]
        assert np.array_equal(mask_utils.decode({"size": ours["size"], "counts": ours["counts"].encode()}), mask)
