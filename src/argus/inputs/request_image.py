"""Resolve the protocol's image object ``{"type": ..., "value": ...}`` to a decoded BGR array."""

from __future__ import annotations

import io
import pickle
from typing import Any

import numpy as np

from argus.core.images import DecodeHint, decode_base64, decode_image_bytes, load_image
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


def resolve_image(image: Any, settings: Settings, hint: DecodeHint | None = None) -> np.ndarray:
    """Decode one image object of the wire protocol (base64, url, numpy) to BGR.

    A bare string is taken as base64, as the reference's legacy route does. ``hint`` lets a JPEG decode
    at reduced scale for the model it is meant for (see :class:`~argus.core.images.DecodeHint`).
    """
    if isinstance(image, str):
        return decode_image_bytes(decode_base64(image), settings.max_image_pixels, hint)
    if not isinstance(image, dict):
        raise InvalidInputError("'image' must be an object {\"type\": ..., \"value\": ...} or a list of them.")
    kind = str(image.get("type", "")).lower()
    value = image.get("value")
    if value is None or value == "":
        raise InvalidInputError("'image.value' is missing or empty.")
    if kind == "base64":
        if not isinstance(value, str):
            raise InvalidInputError("'image.value' must be a base64 string for type 'base64'.")
        return decode_image_bytes(decode_base64(value), settings.max_image_pixels, hint)
    if kind == "url":
        if not settings.allow_url_input:
            raise ForbiddenError("URL image inputs are disabled on this server (ARGUS_ALLOW_URL_INPUT=false).")
        data = fetch_url(str(value), allow_private=settings.allow_private_urls, timeout=settings.url_fetch_timeout,
                         max_bytes=settings.url_max_bytes)
        return decode_image_bytes(data, settings.max_image_pixels, hint)
    if kind in ("numpy", "numpy_object"):
        if not settings.allow_numpy_input:
            raise ForbiddenError("numpy image inputs are disabled on this server; send base64 instead "
                                 "(or set ARGUS_ALLOW_NUMPY_INPUT=true for trusted clients).")
        return load_image(_numpy_image(value), settings.max_image_pixels)
    if kind in ("multipart", "bytes") and isinstance(value, (bytes, bytearray)):
        return decode_image_bytes(bytes(value), settings.max_image_pixels, hint)
    raise InvalidInputError(
        f"image type {kind!r} is not accepted over HTTP; use 'base64', 'url' or (when enabled) 'numpy'."
    )
