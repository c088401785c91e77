"""Read the protocol's image object ``{"type": ..., "value": ...}``, then decode it to a BGR array."""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass
from typing import Any

import numpy as np

from argus.core.images import DecodeHint, ImageHeader, decode_base64, decode_image_bytes, load_image, read_header
from argus.errors import ForbiddenError, ImageDecodeError, InvalidInputError
from argus.inputs.url import fetch_url
from argus.settings import Settings

_NUMPY_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"), ("builtins", "slice"),
}


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles ndarrays and nothing else: any other global is refused, so no code can run."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _NUMPY_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a numpy image")


def _numpy_image(value: Any) -> np.ndarray:
    data = decode_base64(value) if isinstance(value, str) else value
    try:
        array = _NumpyOnlyUnpickler(io.BytesIO(data)).load()
    except Exception as error:  # noqa: BLE001 - any unpickling failure is the payload's fault
        raise ImageDecodeError(f"the numpy payload is not a pickled array ({error})") from None
    if not isinstance(array, np.ndarray):
        raise ImageDecodeError("the numpy payload is not an array")
    return array


@dataclass(frozen=True)
class EncodedImage:
    """A request image read off the wire (bytes in hand, size from its header) and not decoded yet.

    Reading every image of a request first is cheap (the body is already in memory; URLs are fetched within
    their byte cap) and tells how many pixels the request would decode, so a request over its share is refused
    before any pixel is decoded, and images are decoded one batch at a time, as that batch is about to run.
    """

    data: bytes | None = None
    header: ImageHeader | None = None
    """The header read from ``data`` (decoding does not read it again)."""
    array: np.ndarray | None = None
    """Already an array (numpy input)."""

    @property
    def pixels(self) -> int:
        """Pixels it decodes to (at full scale)."""
        if self.array is not None:
            return int(self.array.shape[0] * self.array.shape[1])
        assert self.header is not None
        return self.header.width * self.header.height

    @property
    def decoded_bytes(self) -> int:
        """Upper bound of its decoded BGR array's size."""
        return self.pixels * 3

    def decode(self, settings: Settings, hint: DecodeHint | None = None) -> np.ndarray:
        """The BGR array (with ``hint``, a large JPEG may come back at reduced scale)."""
        if self.array is not None:
            return self.array
        assert self.data is not None
        return decode_image_bytes(self.data, settings.max_image_pixels, hint, self.header)


def _encoded(data: bytes, settings: Settings) -> EncodedImage:
    return EncodedImage(data=data, header=read_header(data, settings.max_image_pixels))


def read_image(image: Any, settings: Settings) -> EncodedImage:
    """Read one image object of the wire protocol (base64, url, numpy) without decoding its pixels.

    A bare string is taken as base64, as the reference's legacy route does.
    """
    if isinstance(image, str):
        return _encoded(decode_base64(image), settings)
    if not isinstance(image, dict):
        raise InvalidInputError("'image' must be an object {\"type\": ..., \"value\": ...} or a list of them.")
    kind = str(image.get("type", "")).lower()
    value = image.get("value")
    if value is None or value == "":
        raise InvalidInputError("'image.value' is missing or empty.")
    if kind == "base64":
        if not isinstance(value, str):
            raise InvalidInputError("'image.value' must be a base64 string for type 'base64'.")
        return _encoded(decode_base64(value), settings)
    if kind == "url":
        if not settings.allow_url_input:
            raise ForbiddenError("URL image inputs are disabled on this server (ARGUS_ALLOW_URL_INPUT=false).")
        data = fetch_url(str(value), allow_private=settings.allow_private_urls, timeout=settings.url_fetch_timeout,
                         max_bytes=settings.url_max_bytes)
        return _encoded(data, settings)
    if kind in ("numpy", "numpy_object"):
        if not settings.allow_numpy_input:
            raise ForbiddenError("numpy image inputs are disabled on this server; send base64 instead "
                                 "(or set ARGUS_ALLOW_NUMPY_INPUT=true for trusted clients).")
        array = load_image(_numpy_image(value), settings.max_image_pixels)
        return EncodedImage(array=array)
    if kind in ("multipart", "bytes") and isinstance(value, (bytes, bytearray)):
        return _encoded(bytes(value), settings)
    raise InvalidInputError(
        f"image type {kind!r} is not accepted over HTTP; use 'base64', 'url' or (when enabled) 'numpy'."
    )


def resolve_image(image: Any, settings: Settings, hint: DecodeHint | None = None) -> np.ndarray:
    """Read and decode one image object of the wire protocol to BGR (see :func:`read_image`)."""
    return read_image(image, settings).decode(settings, hint)
