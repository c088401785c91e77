"""Image preprocessing as a Hugging Face ``preprocessor_config.json`` describes it (CLIP, OWL-ViT, DPT, SAM).

transformers' image processors resize with PIL, so this does too: the same resampling filter on the same pixels
gives the same tensor, which is what keeps Argus's embeddings within 1e-4 of transformers' own.

Example:
    >>> processor = ImageProcessor.from_config({"size": {"shortest_edge": 224}, "crop_size": 224})
    >>> processor.target_size(640, 480)
    (298, 224)
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from argus.errors import ModelArtifactError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class ImageProcessor:
    """Resize (shortest edge, or to a fixed size), centre-crop, rescale and normalise to an NCHW float32 tensor."""

    shortest_edge: int | None = None
    size: tuple[int, int] | None = None
    """(height, width) to resize to exactly, when the config gives ``size`` as height and width."""
    crop: tuple[int, int] | None = None
    """(height, width) of the centre crop, when ``do_center_crop``."""
    resample: int = Image.Resampling.BICUBIC
    rescale_factor: float = 1 / 255
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    do_normalize: bool = True
    keep_aspect_ratio: bool = False
    """DPT's rule: scale both sides by the factor nearer 1, then round each to ``ensure_multiple_of``."""
    ensure_multiple_of: int = 1

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ImageProcessor:
        """Read a ``preprocessor_config.json`` (the fields transformers' image processors share)."""
        try:
            size = config.get("size")
            shortest = exact = None
            if isinstance(size, int):
                shortest = size
            elif isinstance(size, dict) and "shortest_edge" in size:
                shortest = int(size["shortest_edge"])
            elif isinstance(size, dict) and {"height", "width"} <= size.keys():
                exact = (int(size["height"]), int(size["width"]))
            crop_size = config.get("crop_size")
            crop = None
            if config.get("do_center_crop", crop_size is not None) and crop_size is not None:
                crop = (crop_size, crop_size) if isinstance(crop_size, int) else (
                    int(crop_size["height"]), int(crop_size["width"]))
            return cls(shortest_edge=shortest if config.get("do_resize", True) else None,
                       size=exact if config.get("do_resize", True) else None, crop=crop,
                       resample=int(config.get("resample", Image.Resampling.BICUBIC)),
                       rescale_factor=float(config.get("rescale_factor", 1 / 255)) if config.get("do_rescale", True)
                       else 1.0,
                       mean=tuple(config.get("image_mean", IMAGENET_MEAN)),
                       std=tuple(config.get("image_std", IMAGENET_STD)),
                       do_normalize=bool(config.get("do_normalize", True)),
                       keep_aspect_ratio=bool(config.get("keep_aspect_ratio", False)),
                       ensure_multiple_of=max(1, int(config.get("ensure_multiple_of", 1))))
        except (TypeError, ValueError, KeyError) as error:
            raise ModelArtifactError(f"preprocessor_config.json is not one Argus can read: {error}") from None

    def target_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) after the resize step (transformers' shortest-edge rule truncates the long side)."""
        if self.size is not None and (self.keep_aspect_ratio or self.ensure_multiple_of > 1):
            return _dpt_size(width, height, self.size, self.keep_aspect_ratio, self.ensure_multiple_of)
        if self.size is not None:
            return self.size[1], self.size[0]
        if self.shortest_edge is None:
            return width, height
        short, long = (width, height) if width <= height else (height, width)
        scaled_long = int(self.shortest_edge * long / short)
        return (self.shortest_edge, scaled_long) if width <= height else (scaled_long, self.shortest_edge)

    def __call__(self, image_bgr: np.ndarray) -> np.ndarray:
        """One BGR uint8 image → a ``(3, H, W)`` float32 tensor in RGB order.

        Resizing works per channel, so the image is resized and cropped in BGR order and the channels are swapped
        in the final transpose (one copy fewer than converting first). Rescale and normalise are one multiply-add.
        """
        width, height = self.target_size(image_bgr.shape[1], image_bgr.shape[0])
        pixels = image_bgr
        if (width, height) != (image_bgr.shape[1], image_bgr.shape[0]):
            pixels = np.asarray(Image.fromarray(image_bgr).resize((width, height), resample=self.resample,
                                                                   reducing_gap=None))
        if self.crop is not None:
            pixels = _center_crop(pixels, *self.crop)
        scale, offset = self._affine
        return np.ascontiguousarray((pixels[:, :, ::-1] * scale + offset).transpose(2, 0, 1), dtype=np.float32)

    @functools.cached_property
    def _affine(self) -> tuple[np.ndarray, np.ndarray]:
        """``pixel * scale + offset`` equal to rescaling then normalising, per RGB channel."""
        if not self.do_normalize:
            return np.full(3, self.rescale_factor, np.float32), np.zeros(3, np.float32)
        std = np.array(self.std, np.float32)
        return (np.float32(self.rescale_factor) / std).astype(np.float32), (-np.array(self.mean, np.float32) / std)


def _dpt_size(width: int, height: int, size: tuple[int, int], keep_aspect_ratio: bool, multiple: int
              ) -> tuple[int, int]:
    """transformers' DPT ``get_resize_output_image_size`` (Python's round, as there)."""
    scale_height, scale_width = size[0] / height, size[1] / width
    if keep_aspect_ratio:
        if abs(1 - scale_width) < abs(1 - scale_height):
            scale_height = scale_width
        else:
            scale_width = scale_height

    def constrain(value: float) -> int:
        rounded = round(value / multiple) * multiple
        return rounded if rounded >= 1 else math.ceil(value / multiple) * multiple

    return constrain(scale_width * width), constrain(scale_height * height)


def _center_crop(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """transformers' ``center_crop``: pads with zeros when the image is smaller than the crop."""
    h, w = image.shape[:2]
    top, left = (h - height) // 2, (w - width) // 2
    if top >= 0 and left >= 0:
        return image[top:top + height, left:left + width]
    padded = np.zeros((max(h, height), max(w, width), image.shape[2]), image.dtype)
    pad_top, pad_left = max(0, -top), max(0, -left)
    padded[pad_top:pad_top + h, pad_left:pad_left + w] = image
    top, left = (padded.shape[0] - height) // 2, (padded.shape[1] - width) // 2
    return padded[top:top + height, left:left + width]
