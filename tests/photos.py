"""Test photos composed from scikit-image's package data."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest


def sample_photo(name: str) -> Path:
    """A photo from scikit-image's package data (astronaut.png, chelsea.png, coffee.png, ...)."""
    import skimage

    path = Path(skimage.__file__).parent / "data" / name
    if not path.is_file():
        pytest.skip(f"scikit-image does not ship {name}")
    return path

def read_bgr(name: str) -> np.ndarray:
    """A sample photo as a BGR array."""

    image = cv2.imread(str(sample_photo(name)), cv2.IMREAD_COLOR)
    assert image is not None
    return image

def collage(names: tuple[str, ...] = ("astronaut.png", "chelsea.png", "motorcycle_left.png", "coffee.png"),
            width: int = 1280, height: int = 720) -> np.ndarray:
    """A 2x2 grid of sample photos on grey, each fitted into its cell: several objects per image."""
    canvas = np.full((height, width, 3), 127, np.uint8)
    cell_w, cell_h = width // 2, height // 2
    for index, name in enumerate(names[:4]):
        image = read_bgr(name)
        h, w = image.shape[:2]
        scale = min((cell_w - 40) / w, (cell_h - 30) / h)
        small = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        x0 = (index % 2) * cell_w + (cell_w - small.shape[1]) // 2
        y0 = (index // 2) * cell_h + (cell_h - small.shape[0]) // 2
        canvas[y0:y0 + small.shape[0], x0:x0 + small.shape[1]] = small
    return canvas
