"""Image loading: formats, orientation, colour conversions, base64 forms and the bomb guard."""

from __future__ import annotations

import base64
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from argus.core.images import decode_base64, load_image
from argus.errors import ImageDecodeError, ImageTooLargeError


def _encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def _quadrants() -> Image.Image:
    """40x20 RGB image: left half red, right half blue."""
    array = np.zeros((20, 40, 3), dtype=np.uint8)
    array[:, :20] = (255, 0, 0)
    array[:, 20:] = (0, 0, 255)
    return Image.fromarray(array)


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "TIFF", "WEBP", "JPEG"])
def test_formats_decode_to_bgr(fmt: str) -> None:
    kwargs = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
    image = load_image(_encode(_quadrants(), fmt, **kwargs))
    assert image.shape == (20, 40, 3) and image.dtype == np.uint8
    left, right = image[10, 5].astype(int), image[10, 35].astype(int)
    assert left[2] > 200 and left[0] < 60  # red is the last channel in BGR
    assert right[0] > 200 and right[2] < 60


def test_exif_orientation_is_applied() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    data = _encode(_quadrants(), "JPEG", quality=95, exif=exif)
    image = load_image(data)
    assert image.shape == (40, 20, 3)
    top, bottom = image[5, 10].astype(int), image[35, 10].astype(int)
    assert top[2] > 200 and bottom[0] > 200  # red (was left) is now on top


def test_grayscale_and_rgba_become_three_channels() -> None:
    gray = load_image(_encode(Image.new("L", (7, 5), 128), "PNG"))
    assert gray.shape == (5, 7, 3) and int(gray[0, 0, 0]) == 128
    rgba = load_image(_encode(Image.new("RGBA", (3, 2), (10, 20, 30, 0)), "PNG"))
    assert rgba.shape == (2, 3, 3) and rgba[0, 0].tolist() == [30, 20, 10]


def test_base64_forms() -> None:
    data = _encode(_quadrants(), "PNG")
    text = base64.b64encode(data).decode()
    for form in (text, f"data:image/png;base64,{text}", text.rstrip("="), base64.urlsafe_b64encode(data).decode()):
        assert load_image(form).shape == (20, 40, 3)


def test_path_array_and_pil_inputs(tmp_path) -> None:
    path = tmp_path / "img.png"
    path.write_bytes(_encode(_quadrants(), "PNG"))
    from_path = load_image(path)
    from_str = load_image(str(path))
    from_pil = load_image(_quadrants())
    assert np.array_equal(from_path, from_str) and np.array_equal(from_path, from_pil)
    assert load_image(np.zeros((4, 4, 4), dtype=np.uint8)).shape == (4, 4, 3)
    assert load_image(np.ones((4, 4), dtype=np.float32)).max() == 255


def test_one_pixel_image_is_valid() -> None:
    assert load_image(_encode(Image.new("RGB", (1, 1), (1, 2, 3)), "PNG")).shape == (1, 1, 3)


@pytest.mark.parametrize("payload", [b"", b"hello, this is text", b"\x89PNG\r\n\x1a\n" + b"\x00" * 10])
def test_garbage_is_a_decode_error(payload: bytes) -> None:
    with pytest.raises(ImageDecodeError, match="Could not load input image"):
        load_image(payload)


def test_malformed_base64_is_a_decode_error() -> None:
    with pytest.raises(ImageDecodeError, match="base64|image"):
        load_image("this is not base64 !!!")
    with pytest.raises(ImageDecodeError):
        decode_base64("a$b")


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose IHDR declares width x height, followed by a tiny IDAT: a decompression bomb's header."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def test_bomb_is_refused_before_decoding() -> None:
    with pytest.raises(ImageTooLargeError, match="30000x30000"):
        load_image(_png_header(30000, 30000), max_pixels=80_000_000)


def test_pixel_limit_is_configurable() -> None:
    data = _encode(Image.new("RGB", (100, 100)), "PNG")
    assert load_image(data, max_pixels=10_000).shape == (100, 100, 3)
    with pytest.raises(ImageTooLargeError):
        load_image(data, max_pixels=9_999)


def test_truncated_jpeg_is_a_decode_error_or_partial_image() -> None:
    data = _encode(_quadrants(), "JPEG")
    with pytest.raises(ImageDecodeError):
        load_image(data[:20])
