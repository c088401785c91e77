"""Reduced-scale JPEG decoding: the factor chosen, full-size geometry kept, EXIF rotation respected."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from argus.core.images import DecodeHint, ReducedImage, decode_image_bytes
from argus.models.preprocess import fit_image
from argus.store.manifest import ResizeMode
from photos import collage


def jpeg(image: np.ndarray, quality: int = 95) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return data.tobytes()


@pytest.mark.parametrize(("hint", "size", "factor"), [
    (DecodeHint(416, 416, cover=False), (1280, 720), 2),  # letterbox gain 0.325: 1/2 keeps 640 >= 416
    (DecodeHint(416, 416, cover=True), (1280, 720), 1),  # stretch needs 720 -> 416 rows: 1/2 would give 360
    (DecodeHint(416, 416, cover=False), (4000, 3000), 8),  # gain 0.104: 500 >= 416
    (DecodeHint(640, 640, cover=False), (4000, 3000), 4),  # gain 0.16: 1/8 = 500 < 640, 1/4 = 1000
    (DecodeHint(416, 416, cover=False), (300, 200), 1),  # the model enlarges it: full scale
])
def test_reduction_never_goes_below_what_the_model_needs(hint: DecodeHint, size: tuple[int, int], factor: int
                                                         ) -> None:
    assert hint.reduction(*size) == factor


def test_a_reduced_decode_fits_with_full_size_geometry() -> None:
    photo = collage(width=1280, height=720)
    data = jpeg(photo)
    full = decode_image_bytes(data)
    reduced = decode_image_bytes(data, hint=DecodeHint(416, 416, cover=False))
    assert isinstance(reduced, ReducedImage) and not isinstance(full, ReducedImage)
    assert reduced.shape == (360, 640, 3) and reduced.full_size == (1280, 720)
    fitted_full, transform_full = fit_image(full, 416, 416, ResizeMode.LETTERBOX)
    fitted_reduced, transform_reduced = fit_image(reduced, 416, 416, ResizeMode.LETTERBOX)
    assert transform_reduced == transform_full  # boxes map back to the same full-size pixels
    assert fitted_reduced.shape == fitted_full.shape
    difference = np.abs(fitted_reduced.astype(np.int16) - fitted_full.astype(np.int16))
    assert difference.mean() < 3.0  # the same picture, resampled differently


def test_exif_rotation_swaps_the_full_size() -> None:
    photo = collage(width=1280, height=720)
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    Image.fromarray(photo[:, :, ::-1]).save(buffer, "JPEG", quality=95, exif=exif)
    data = buffer.getvalue()
    full = decode_image_bytes(data)
    reduced = decode_image_bytes(data, hint=DecodeHint(416, 416, cover=False))
    assert full.shape[:2] == (1280, 720)  # portrait after orientation
    assert isinstance(reduced, ReducedImage) and reduced.full_size == (720, 1280)
    assert reduced.shape[:2] == (640, 360)


def test_non_jpeg_and_small_images_decode_at_full_scale() -> None:
    photo = collage(width=1280, height=720)
    ok, png = cv2.imencode(".png", photo)
    assert ok
    hint = DecodeHint(416, 416, cover=False)
    assert not isinstance(decode_image_bytes(png.tobytes(), hint=hint), ReducedImage)
    tiny = decode_image_bytes(jpeg(np.full((1, 1, 3), 200, np.uint8)), hint=hint)
    assert tiny.shape == (1, 1, 3) and not isinstance(tiny, ReducedImage)


def test_loading_a_reduced_image_keeps_its_full_size() -> None:
    from argus.core.images import load_image

    reduced = decode_image_bytes(jpeg(collage(width=1280, height=720)), hint=DecodeHint(416, 416, cover=False))
    loaded = load_image(reduced)
    assert isinstance(loaded, ReducedImage) and loaded.full_size == (1280, 720)


def test_a_slice_of_a_reduced_image_has_its_own_geometry() -> None:
    reduced = decode_image_bytes(jpeg(collage(width=1280, height=720)), hint=DecodeHint(416, 416, cover=False))
    crop = reduced[10:110, 20:220]
    assert crop.full_size is None  # fit_image then maps to the crop's own pixels, not the photo's
    _, transform = fit_image(crop, 416, 416, ResizeMode.LETTERBOX)
    assert (transform.width, transform.height) == (200, 100)
