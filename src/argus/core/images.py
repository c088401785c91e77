"""Image loading: any supported input → a BGR ``uint8`` array of shape ``(H, W, 3)``.

Accepted inputs: encoded bytes (JPEG, PNG, WebP, BMP, TIFF), base64 text with or without a data-URI
prefix, a file path, a numpy array (BGR, grayscale or BGRA) and a PIL image (RGB order, as PIL
keeps it). EXIF orientation is applied, grayscale and alpha are converted, and the header is read
before decoding so a decompression bomb is refused without allocating it.

Example:
    >>> import numpy as np
    >>> load_image(np.zeros((2, 3), dtype=np.uint8)).shape
    (2, 3, 3)
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from argus.errors import ImageDecodeError, ImageTooLargeError

logger = logging.getLogger(__name__)

# PIL's own bomb check warns at 89M pixels and raises at twice that; Argus enforces its own limit.
Image.MAX_IMAGE_PIXELS = None

ImageInput = bytes | bytearray | memoryview | str | Path | np.ndarray | Image.Image

DEFAULT_MAX_PIXELS = 80_000_000
_DATA_URI = re.compile(r"^data:[\w/+.-]*;base64,", re.IGNORECASE)
_JPEG_MAGIC = b"\xff\xd8\xff"


def load_image(source: ImageInput, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Load any supported image input as a contiguous BGR ``uint8`` array.

    Args:
        source: encoded bytes, base64 text, a path, a numpy array or a PIL image.
        max_pixels: images whose width × height exceeds this are refused.

    Raises:
        ImageDecodeError: the input is not a decodable image.
        ImageTooLargeError: the image declares more than ``max_pixels`` pixels.
    """
    if isinstance(source, np.ndarray):
        return _from_array(source, max_pixels)
    if isinstance(source, Image.Image):
        check_pixels(source.width, source.height, max_pixels)
        return _from_array(np.asarray(source.convert("RGB"))[:, :, ::-1], max_pixels)
    if isinstance(source, Path):
        return decode_image_bytes(_read_file(source), max_pixels)
    if isinstance(source, str):
        return decode_image_bytes(_text_to_bytes(source), max_pixels)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return decode_image_bytes(bytes(source), max_pixels)
    raise ImageDecodeError(f"unsupported image input of type {type(source).__name__}")


def decode_base64(text: str | bytes) -> bytes:
    """Decode base64 (standard or URL-safe, with or without a data-URI prefix or padding)."""
    if isinstance(text, bytes):
        text = text.decode("ascii", errors="replace")
    text = _DATA_URI.sub("", text.strip(), count=1)
    text = "".join(text.split())
    text += "=" * (-len(text) % 4)
    try:
        if "-" in text or "_" in text:
            return base64.urlsafe_b64decode(text)
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ImageDecodeError(f"malformed base64 ({error})") from None


@dataclass(frozen=True)
class DecodeHint:
    """The network input an image is decoded for, so a JPEG can decode straight to a smaller size.

    libjpeg scales by 1/2, 1/4 or 1/8 inside its inverse DCT, several times faster than a full decode
    followed by a resize; the factor is chosen so the decoded image is never smaller than what the
    model's resize would make of it.
    """

    width: int
    height: int
    cover: bool  # the resize covers the box (stretch, centre crop) rather than fitting inside it (letterbox)

    def reduction(self, width: int, height: int) -> int:
        """The largest of 8, 4, 2 (else 1) that keeps a ``width`` x ``height`` image at least as large as
        the model needs, in either orientation (EXIF may rotate it)."""
        gains = [(max if self.cover else min)(self.width / w, self.height / h) for w, h in
                 ((width, height), (height, width))]
        return next((factor for factor in (8, 4, 2) if max(gains) * factor <= 1.0), 1)


class ReducedImage(np.ndarray):
    """A JPEG decoded at reduced scale; ``full_size`` is its ``(width, height)`` at full scale (after EXIF
    orientation). Model preprocessing maps boxes to full-scale coordinates with it."""

    full_size: tuple[int, int] | None = None

    def __array_finalize__(self, obj: Any) -> None:
        # A slice or a derived array is not the whole picture: it gets its own (shape) geometry.
        self.full_size = None


_REDUCED_FLAGS = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}


@dataclass(frozen=True)
class ImageHeader:
    """What an encoded image's header declares: its size, and whether OpenCV cannot decode it faithfully."""

    width: int
    height: int
    needs_pil: bool


def read_header(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageHeader:
    """The header of encoded image bytes, without decoding the pixels; the pixel limit applied.

    Raises:
        ImageDecodeError: empty data, an unknown format or a damaged header.
        ImageTooLargeError: more pixels than ``max_pixels``.
    """
    if not data:
        raise ImageDecodeError("the image is empty (0 bytes)")
    header = ImageHeader(*_read_header(data))
    check_pixels(header.width, header.height, max_pixels)
    return header


def decode_image_bytes(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS, hint: DecodeHint | None = None,
                       header: ImageHeader | None = None) -> np.ndarray:
    """Decode encoded image bytes to BGR, applying EXIF orientation and the pixel limit.

    With a ``hint``, a large JPEG may come back as a :class:`ReducedImage` decoded at 1/2 to 1/8 scale.
    ``header`` is :func:`read_header`'s answer when the caller already has it (it is not read twice).
    """
    header = header or read_header(data, max_pixels)
    width, height = header.width, header.height
    if not header.needs_pil:
        if hint is not None and data.startswith(_JPEG_MAGIC):
            factor = hint.reduction(width, height)
            reduced = _decode_reduced(data, width, height, factor) if factor > 1 else None
            if reduced is not None:
                return reduced
        decoded = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
        if decoded is not None:
            return decoded
    return _decode_with_pil(data)


def _decode_reduced(data: bytes, width: int, height: int, factor: int) -> ReducedImage | None:
    decoded = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), _REDUCED_FLAGS[factor])
    if decoded is None:
        return None
    scaled = (-(-width // factor), -(-height // factor))  # libjpeg rounds scaled sizes up
    shape = (decoded.shape[1], decoded.shape[0])
    if shape not in (scaled, scaled[::-1]):
        return None
    reduced = decoded.view(ReducedImage)
    reduced.full_size = (width, height) if shape == scaled else (height, width)
    return reduced


def _read_header(data: bytes) -> tuple[int, int, bool]:
    """Size from the header; the flag says OpenCV cannot decode this format faithfully."""
    try:
        with Image.open(io.BytesIO(data)) as probe:
            width, height = probe.size
            # OpenCV decodes only the first frame of a GIF and no palette transparency; PIL does both.
            needs_pil = probe.format in {"GIF", "ICO", "MPO"} and not data.startswith(_JPEG_MAGIC)
            return width, height, needs_pil
    except UnidentifiedImageError:
        raise ImageDecodeError("the data is not an image in a supported format (JPEG, PNG, WebP, BMP, TIFF)") from None
    except Exception as error:  # noqa: BLE001 - PIL raises many types for damaged headers
        raise ImageDecodeError(f"the image header is damaged ({error})") from None


def _decode_with_pil(data: bytes) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as opened:
            rgb = np.asarray(ImageOps.exif_transpose(opened).convert("RGB"))
    except Exception as error:  # noqa: BLE001 - any decoder failure is the image's fault
        raise ImageDecodeError(f"the image data is damaged or truncated ({error})") from None
    return np.ascontiguousarray(rgb[:, :, ::-1])


def check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise ImageDecodeError(f"the image has an invalid size {width}x{height}")
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"Image of {width}x{height} = {width * height} pixels exceeds the limit of {max_pixels} pixels "
            "(setting ARGUS_MAX_IMAGE_PIXELS). Downscale the image before sending it."
        )


def _from_array(array: np.ndarray, max_pixels: int) -> np.ndarray:
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
        raise ImageDecodeError(f"an image array must be HxW, HxWx1, HxWx3 or HxWx4, got shape {array.shape}")
    check_pixels(array.shape[1], array.shape[0], max_pixels)
    if array.dtype != np.uint8:
        array = _to_uint8(array)
    if array.ndim == 2 or array.shape[2] == 1:
        return cv2.cvtColor(array, cv2.COLOR_GRAY2BGR)
    if array.shape[2] == 4:
        return cv2.cvtColor(array, cv2.COLOR_BGRA2BGR)
    return array if array.flags.c_contiguous else np.ascontiguousarray(array)  # keeps a ReducedImage's size


def _to_uint8(array: np.ndarray) -> np.ndarray:
    if np.issubdtype(array.dtype, np.floating):
        scale = 255.0 if float(np.nanmax(array, initial=0.0)) <= 1.0 else 1.0
        return np.clip(np.nan_to_num(array) * scale, 0, 255).astype(np.uint8)
    if array.dtype == np.uint16:
        return (array >> 8).astype(np.uint8)
    return np.clip(array, 0, 255).astype(np.uint8)


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise ImageDecodeError(f"cannot read file {str(path)!r} ({error.strerror})") from None


def _text_to_bytes(text: str) -> bytes:
    """A string is a path when such a file exists, otherwise base64."""
    stripped = text.strip()
    if len(stripped) < 4096 and not _DATA_URI.match(stripped):
        candidate = Path(stripped).expanduser()
        try:
            if candidate.is_file():
                return _read_file(candidate)
        except OSError:
            pass
    return decode_base64(stripped)


def encode_jpeg(image_bgr: np.ndarray, quality: int = 90) -> bytes:
    """Encode a BGR image as JPEG bytes."""
    ok, buffer = cv2.imencode(".jpg", image_bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buffer.tobytes()


def describe(source: Any) -> str:
    """A short human description of an image input, for error messages and logs."""
    if isinstance(source, np.ndarray):
        return f"array{source.shape}"
    if isinstance(source, (str, Path)) and len(str(source)) < 200:
        return str(source)
    return type(source).__name__
