# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Image Preprocessing v1: resize (area interpolation; one missing side keeps the aspect ratio), rotate (about the
centre, the canvas grown to hold the whole image) or flip, as the reference. A resize is bounded by the server's
``ARGUS_MAX_IMAGE_PIXELS``, so a step cannot make an image no request could have sent."""

from __future__ import annotations

from typing import Any, Literal

import cv2
import numpy as np
from pydantic import Field, PositiveInt

from argus.errors import ImageTooLargeError, InvalidInputError
from argus.workflows.blocks.base import Block, BlockManifest, OutputDefinition, Selector, block_config
from argus.workflows.blocks.classical_cv.filters import ImageField, _image_output, image_pixels
from argus.workflows.kinds import IMAGE_KIND, INTEGER_KIND, STRING_KIND


class ImagePreprocessingManifest(BlockManifest):
    model_config = block_config(name="Image Preprocessing", category="classical_computer_vision",
                                description="Resize, flip, or rotate an image.")
    type: Literal["roboflow_core/image_preprocessing@v1"]
    image: Selector(kind=[IMAGE_KIND]) = ImageField
    task_type: Literal["resize", "rotate", "flip"]
    width: PositiveInt | Selector(kind=[INTEGER_KIND]) | None = Field(default=640)
    height: PositiveInt | Selector(kind=[INTEGER_KIND]) | None = Field(default=640)
    rotation_degrees: int | Selector(kind=[INTEGER_KIND]) | None = 90
    flip_type: Selector(kind=[STRING_KIND]) | Literal["vertical", "horizontal", "both"] | None = "vertical"

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return _image_output()


class ImagePreprocessingBlockV1(Block):
    manifest_class = ImagePreprocessingManifest

    def run(self, image: Any, task_type: str, width: int | None = 640, height: int | None = 640,
            rotation_degrees: int | None = 90, flip_type: str | None = "vertical") -> dict[str, Any]:
        pixels = image_pixels(image)
        if task_type == "resize":
            out = self._resize(pixels, width, height)
        elif task_type == "rotate":
            if rotation_degrees is not None and not -360 <= rotation_degrees <= 360:
                raise InvalidInputError("'rotation_degrees' must be between -360 and 360")
            out = rotate(pixels, rotation_degrees)
        elif task_type == "flip":
            codes = {"vertical": 0, "horizontal": 1, "both": -1}
            if flip_type is not None and flip_type not in codes:
                raise InvalidInputError("'flip_type' must be 'vertical', 'horizontal' or 'both'")
            out = cv2.flip(pixels, codes[flip_type]) if flip_type else pixels
        else:
            raise InvalidInputError(f"Invalid task type {task_type!r}: resize, rotate or flip")
        return {"image": image.with_image(out)}

    def _resize(self, pixels: np.ndarray, width: int | None, height: int | None) -> np.ndarray:
        if any(side is not None and (not isinstance(side, int) or side <= 0) for side in (width, height)):
            raise InvalidInputError("'width' and 'height' must be positive integers")
        if width is None and height is None:
            return pixels.copy()
        rows, columns = pixels.shape[:2]
        if width is None:
            assert height is not None
            width = int(columns * height / rows)
        elif height is None:
            height = int(rows * width / columns)
        limit = self.context.settings.max_image_pixels
        if width * height > limit or not width or not height:
            raise ImageTooLargeError(f"A resize to {width}x{height} is over the {limit} pixels an image may have "
                                     "(ARGUS_MAX_IMAGE_PIXELS), or empty.")
        return cv2.resize(pixels, (width, height), interpolation=cv2.INTER_AREA)


def rotate(pixels: np.ndarray, degrees: int | None) -> np.ndarray:
    """Rotate about the centre (``cv2.getRotationMatrix2D``), on a canvas that holds the whole rotated image."""
    if not degrees:
        return pixels.copy()
    height, width = pixels.shape[:2]
    centre = (width // 2, height // 2)
    matrix = cv2.getRotationMatrix2D(centre, degrees, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    new_width, new_height = int(height * sin + width * cos), int(height * cos + width * sin)
    matrix[0, 2] += new_width / 2 - centre[0]
    matrix[1, 2] += new_height / 2 - centre[1]
    return cv2.warpAffine(pixels, matrix, (new_width, new_height))
