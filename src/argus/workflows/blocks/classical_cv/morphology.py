# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Morphological Transformation v1 and v2: erosion, dilation, opening, closing, gradient, top hat, black hat with
a square kernel of ones, as the reference. v1 works on the grayscale image (H×W×1 out, as the reference); v2 keeps
the colours and adds "Opening then Closing"."""

from __future__ import annotations

from typing import Any, Literal

import cv2
import numpy as np

from argus.errors import InvalidInputError
from argus.workflows.blocks.base import Block, BlockManifest, OutputDefinition, Selector, block_config
from argus.workflows.blocks.classical_cv.filters import ImageField, _image_output, image_pixels
from argus.workflows.kinds import IMAGE_KIND, INTEGER_KIND, STRING_KIND

_OPERATIONS: dict[str, int] = {"Erosion": cv2.MORPH_ERODE, "Dilation": cv2.MORPH_DILATE, "Opening": cv2.MORPH_OPEN,
                               "Closing": cv2.MORPH_CLOSE, "Gradient": cv2.MORPH_GRADIENT,
                               "Top Hat": cv2.MORPH_TOPHAT, "Black Hat": cv2.MORPH_BLACKHAT}
OperationV1 = Literal["Erosion", "Dilation", "Opening", "Closing", "Gradient", "Top Hat", "Black Hat"]
OperationV2 = Literal["Erosion", "Dilation", "Opening", "Closing", "Opening then Closing", "Gradient", "Top Hat",
                      "Black Hat"]
_CONFIG = block_config(name="Morphological Transformation", category="classical_computer_vision",
                       description="Apply a morphological transformation to an image.")


class MorphologyManifestV1(BlockManifest):
    model_config = _CONFIG
    type: Literal["roboflow_core/morphological_transformation@v1"]
    image: Selector(kind=[IMAGE_KIND]) = ImageField
    kernel_size: int | Selector(kind=[INTEGER_KIND]) = 5
    operation: Selector(kind=[STRING_KIND]) | OperationV1 = "Closing"

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return _image_output()


class MorphologyManifestV2(MorphologyManifestV1):
    type: Literal["roboflow_core/morphological_transformation@v2"]  # type: ignore[assignment]
    operation: Selector(kind=[STRING_KIND]) | OperationV2 = "Opening then Closing"  # type: ignore[assignment]


class MorphologicalTransformationBlockV1(Block):
    manifest_class = MorphologyManifestV1

    def run(self, image: Any, kernel_size: int = 5, operation: str = "Closing") -> dict[str, Any]:
        pixels = image_pixels(image)
        gray = cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY) if pixels.ndim == 3 and pixels.shape[2] == 3 else pixels
        return {"image": image.with_image(morph(gray, kernel_size, operation)[..., None])}


class MorphologicalTransformationBlockV2(Block):
    manifest_class = MorphologyManifestV2

    def run(self, image: Any, kernel_size: int = 5, operation: str = "Opening then Closing") -> dict[str, Any]:
        pixels = image_pixels(image)
        alpha = None
        if pixels.ndim == 2 or pixels.shape[2] == 1:
            pixels = cv2.cvtColor(pixels, cv2.COLOR_GRAY2BGR)
        elif pixels.shape[2] == 4:
            alpha, pixels = pixels[:, :, 3:4], cv2.cvtColor(pixels, cv2.COLOR_BGRA2BGR)
        if operation == "Opening then Closing":
            result = morph(morph(pixels, kernel_size, "Opening"), kernel_size, "Closing")
        else:
            result = morph(pixels, kernel_size, operation)
        if alpha is not None:
            result = np.concatenate([result, alpha], axis=2)
        return {"image": image.with_image(result)}


def morph(pixels: np.ndarray, kernel_size: int, operation: str) -> np.ndarray:
    """One morphological operation with a ``kernel_size`` square kernel of ones."""
    if not isinstance(kernel_size, int) or isinstance(kernel_size, bool) or not 0 < kernel_size <= 255:
        raise InvalidInputError(f"'kernel_size' must be an integer from 1 to 255, not {kernel_size!r}")
    if operation not in _OPERATIONS:
        raise InvalidInputError(f"Invalid operation {operation!r}: one of {', '.join(_OPERATIONS)}")
    kernel = np.ones((kernel_size, kernel_size), np.uint8)
    if operation == "Erosion":
        return cv2.erode(pixels, kernel, iterations=1)
    if operation == "Dilation":
        return cv2.dilate(pixels, kernel, iterations=1)
    return cv2.morphologyEx(pixels, _OPERATIONS[operation], kernel)
