"""Fit images to the network input (stretch, letterbox, centre crop) and map boxes back exactly.

Example:
    >>> import numpy as np
    >>> from argus.store.manifest import ResizeMode
    >>> image = np.zeros((100, 200, 3), dtype=np.uint8)
    >>> fitted, transform = fit_image(image, 64, 64, ResizeMode.LETTERBOX)
    >>> fitted.shape, transform.to_original(np.array([[0.0, 16.0, 64.0, 48.0]])).tolist()
    ((64, 64, 3), [[0.0, 0.0, 200.0, 100.0]])
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from argus.store.manifest import ColorOrder, Layout, ModelManifest, ResizeMode


@dataclass(frozen=True)
class Transform:
    """Affine map from network-input pixels to original-image pixels: ``(p - pad) / scale``."""

    scale_x: float
    scale_y: float
    pad_x: float
    pad_y: float
    width: int
    height: int

    def to_original(self, xyxy: np.ndarray, clip: bool = True) -> np.ndarray:
        """Map ``(N, 4)`` boxes (or any ``(..., 2k)`` x/y pairs) to the original image."""
        out = np.asarray(xyxy, dtype=np.float32).copy()
        out[..., 0::2] = (out[..., 0::2] - self.pad_x) / self.scale_x
        out[..., 1::2] = (out[..., 1::2] - self.pad_y) / self.scale_y
        if clip:
            np.clip(out[..., 0::2], 0, self.width, out=out[..., 0::2])
            np.clip(out[..., 1::2], 0, self.height, out=out[..., 1::2])
        return out

    def points_to_original(self, xy: np.ndarray) -> np.ndarray:
        """Map ``(..., 2)`` points to the original image (not clipped)."""
        return self.to_original(xy, clip=False)


def fit_image(image: np.ndarray, width: int, height: int, mode: ResizeMode, pad_value: int = 114
              ) -> tuple[np.ndarray, Transform]:
    """Resize ``image`` (H, W, 3) to ``(height, width)`` and return the inverse transform.

    Letterbox follows the ultralytics convention (centred, pads split with the 0.1 rounding rule),
    so boxes map back exactly as the exporter's own tooling maps them. A
    :class:`~argus.core.images.ReducedImage` is fitted with the geometry of its full size, so the
    transform maps to full-scale pixels.
    """
    h, w = image.shape[:2]
    full_size = getattr(image, "full_size", None)
    if full_size is not None:
        w, h = full_size
    if mode == ResizeMode.STRETCH:
        fitted = _resize(image, width, height)
        return fitted, Transform(width / w, height / h, 0.0, 0.0, w, h)
    if mode == ResizeMode.LETTERBOX:
        gain = min(width / w, height / h)
        new_w, new_h = max(1, round(w * gain)), max(1, round(h * gain))
        dw, dh = (width - new_w) / 2, (height - new_h) / 2
        top, left = round(dh - 0.1), round(dw - 0.1)  # bottom/right take the remainder: exact output size
        resized = _resize(image, new_w, new_h)
        fitted = cv2.copyMakeBorder(resized, top, height - new_h - top, left, width - new_w - left,
                                    cv2.BORDER_CONSTANT, value=(pad_value, pad_value, pad_value))
        return fitted, Transform(gain, gain, float(left), float(top), w, h)
    # centre crop: scale the short side to fit, crop the centre
    gain = max(width / w, height / h)
    new_w, new_h = max(width, round(w * gain)), max(height, round(h * gain))
    resized = _resize(image, new_w, new_h)
    x0, y0 = (new_w - width) // 2, (new_h - height) // 2
    fitted = resized[y0:y0 + height, x0:x0 + width]
    return fitted, Transform(gain, gain, float(-x0), float(-y0), w, h)


def _resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    if image.shape[1] == width and image.shape[0] == height:
        return image
    # Bilinear, as the exporters' own pipelines and the reference server resize.
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)


def to_tensor(fitted: list[np.ndarray], manifest: ModelManifest, dtype: np.dtype = np.dtype(np.float32)
              ) -> np.ndarray:
    """Stack fitted BGR images into the network's tensor: color order, normalisation, layout.

    OpenCV's ``blobFromImages`` does the channel swap, the scaling and the NCHW transpose in one
    C++ pass; a per-channel mean/std, when the manifest has one, is applied in place after it.
    """
    norm = manifest.normalization
    blob: np.ndarray = cv2.dnn.blobFromImages(fitted, scalefactor=norm.scale,
                                              swapRB=manifest.color == ColorOrder.RGB)
    if any(norm.mean) or any(s != 1.0 for s in norm.std):
        np.subtract(blob, np.asarray(norm.mean, dtype=np.float32)[:, None, None], out=blob)
        np.divide(blob, np.asarray(norm.std, dtype=np.float32)[:, None, None], out=blob)
    if manifest.layout == Layout.NHWC:
        blob = np.ascontiguousarray(blob.transpose(0, 2, 3, 1))
    return blob if blob.dtype == dtype else blob.astype(dtype)
