# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Image filters of the reference's classical-CV section: grayscale, blur, threshold, contours, pixel colour count.

Each does what the reference's block does, with the same OpenCV call and parameters: the grayscale image is one
channel (H×W), as the reference's is; thresholds take a grayscale image; contours are found on the grayscale of
the image (RETR_EXTERNAL) and drawn in magenta.
"""

from __future__ import annotations

from typing import Any, Literal

import cv2
import numpy as np
from pydantic import AliasChoices, Field

from argus.errors import InvalidInputError
from argus.workflows.blocks.base import Block, BlockManifest, OutputDefinition, Selector, block_config
from argus.workflows.data import WorkflowImageData
from argus.workflows.kinds import (
    CONTOURS_KIND,
    IMAGE_KIND,
    INTEGER_KIND,
    NUMPY_ARRAY_KIND,
    RGB_COLOR_KIND,
    STRING_KIND,
)

ImageField = Field(validation_alias=AliasChoices("image", "images"), description="The input image")


def _image_output() -> list[OutputDefinition]:
    return [OutputDefinition(name="image", kind=[IMAGE_KIND])]


def image_pixels(image: Any, field: str = "image") -> np.ndarray:
    """The pixels of a workflow image; a 400 naming ``field`` for anything else."""
    if not isinstance(image, WorkflowImageData):
        raise InvalidInputError(f"field '{field}' needs an image, got {type(image).__name__}")
    return image.numpy_image


def grayscale(pixels: np.ndarray) -> np.ndarray:
    """A BGR image's grayscale; one-channel images as they are."""
    return cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY) if pixels.ndim == 3 and pixels.shape[2] == 3 else pixels


class ConvertGrayscaleManifest(BlockManifest):
    model_config = block_config(name="Image Convert Grayscale", category="classical_computer_vision",
                                description="Convert an RGB image to grayscale.")
    type: Literal["roboflow_core/convert_grayscale@v1"]
    image: Selector(kind=[IMAGE_KIND]) = ImageField

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return _image_output()


class ConvertGrayscaleBlockV1(Block):
    manifest_class = ConvertGrayscaleManifest

    def run(self, image: Any) -> dict[str, Any]:
        return {"image": image.with_image(cv2.cvtColor(image_pixels(image), cv2.COLOR_BGR2GRAY))}


class ImageBlurManifest(BlockManifest):
    model_config = block_config(name="Image Blur", category="classical_computer_vision",
                                description="Apply a blur to an image.")
    type: Literal["roboflow_core/image_blur@v1"]
    image: Selector(kind=[IMAGE_KIND]) = ImageField
    blur_type: Selector(kind=[STRING_KIND]) | Literal["average", "gaussian", "median", "bilateral"] = "gaussian"
    kernel_size: Selector(kind=[INTEGER_KIND]) | int = 5

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return _image_output()


class ImageBlurBlockV1(Block):
    manifest_class = ImageBlurManifest

    def run(self, image: Any, blur_type: str = "gaussian", kernel_size: int = 5) -> dict[str, Any]:
        return {"image": image.with_image(blur(image_pixels(image), blur_type, kernel_size))}


def blur(pixels: np.ndarray, blur_type: str, kernel_size: int) -> np.ndarray:
    """The reference's blurs; Gaussian and median kernels are made odd and positive, as there."""
    if not isinstance(kernel_size, int) or isinstance(kernel_size, bool) or not 0 < kernel_size <= 255:
        raise InvalidInputError(f"'kernel_size' must be an integer from 1 to 255, not {kernel_size!r}")
    odd = kernel_size if kernel_size % 2 else kernel_size + 1
    if blur_type == "average":
        return cv2.blur(pixels, (kernel_size, kernel_size))
    if blur_type == "gaussian":
        return cv2.GaussianBlur(pixels, (odd, odd), 0)
    if blur_type == "median":
        return cv2.medianBlur(pixels, odd)
    if blur_type == "bilateral":
        return cv2.bilateralFilter(pixels, kernel_size, 75, 75)
    raise InvalidInputError(f"Unknown blur type {blur_type!r}: average, gaussian, median or bilateral")


ThresholdType = Literal["binary", "binary_inv", "trunc", "tozero", "tozero_inv", "adaptive_mean",
                        "adaptive_gaussian", "otsu"]
_FIXED = {"binary": cv2.THRESH_BINARY, "binary_inv": cv2.THRESH_BINARY_INV, "trunc": cv2.THRESH_TRUNC,
          "tozero": cv2.THRESH_TOZERO, "tozero_inv": cv2.THRESH_TOZERO_INV}
_ADAPTIVE = {"adaptive_mean": cv2.ADAPTIVE_THRESH_MEAN_C, "adaptive_gaussian": cv2.ADAPTIVE_THRESH_GAUSSIAN_C}


class ThresholdManifest(BlockManifest):
    model_config = block_config(name="Image Threshold", category="classical_computer_vision",
                                description="Apply a threshold to an image.")
    type: Literal["roboflow_core/threshold@v1"]
    image: Selector(kind=[IMAGE_KIND]) = ImageField
    threshold_type: Selector(kind=[STRING_KIND]) | ThresholdType = "binary"
    thresh_value: Selector(kind=[INTEGER_KIND]) | int
    max_value: Selector(kind=[INTEGER_KIND]) | int = 255

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return _image_output()


class ThresholdBlockV1(Block):
    manifest_class = ThresholdManifest

    def run(self, image: Any, thresh_value: int, threshold_type: str = "binary", max_value: int = 255
            ) -> dict[str, Any]:
        return {"image": image.with_image(threshold(image_pixels(image), threshold_type, thresh_value, max_value))}


def threshold(pixels: np.ndarray, threshold_type: str, thresh_value: int, max_value: int) -> np.ndarray:
    """The reference's thresholds (adaptive ones on 11×11 neighbourhoods, C = 2; Otsu picks its own value).

    The reference expects a grayscale image; a colour one is converted first (OpenCV's adaptive and Otsu
    thresholds refuse three channels)."""
    gray = grayscale(pixels) if threshold_type in (*_ADAPTIVE, "otsu") else pixels
    if threshold_type in _FIXED:
        return cv2.threshold(pixels, thresh_value, max_value, _FIXED[threshold_type])[1]
    if threshold_type in _ADAPTIVE:
        return cv2.adaptiveThreshold(gray, max_value, _ADAPTIVE[threshold_type], cv2.THRESH_BINARY, 11, 2)
    if threshold_type == "otsu":
        return cv2.threshold(gray, 0, max_value, cv2.THRESH_BINARY + cv2.THRESH_OTSU)[1]
    raise InvalidInputError(f"Unknown threshold type {threshold_type!r}: one of "
                            f"{', '.join([*_FIXED, *_ADAPTIVE, 'otsu'])}")


class ContoursManifest(BlockManifest):
    model_config = block_config(name="Image Contours", category="classical_computer_vision",
                                description="Find and count the contours on an image.")
    type: Literal["roboflow_core/contours_detection@v1"]
    image: Selector(kind=[IMAGE_KIND]) = ImageField
    line_thickness: Selector(kind=[INTEGER_KIND]) | int = 3

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="image", kind=[IMAGE_KIND]),
                OutputDefinition(name="contours", kind=[CONTOURS_KIND]),
                OutputDefinition(name="hierarchy", kind=[NUMPY_ARRAY_KIND]),
                OutputDefinition(name="number_contours", kind=[INTEGER_KIND])]


class ContoursBlockV1(Block):
    manifest_class = ContoursManifest

    def run(self, image: Any, line_thickness: int = 3) -> dict[str, Any]:
        gray = grayscale(image_pixels(image))
        contours, hierarchy = cv2.findContours(gray, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        drawn = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
        cv2.drawContours(drawn, contours, -1, (255, 0, 255), max(1, min(int(line_thickness), 100)))
        return {"image": image.with_image(drawn), "contours": list(contours), "hierarchy": hierarchy,
                "number_contours": len(contours)}


class PixelColorCountManifest(BlockManifest):
    model_config = block_config(name="Pixel Color Count", category="classical_computer_vision",
                                description="Count the number of pixels that match a specific color within a "
                                            "given tolerance.")
    type: Literal["roboflow_core/pixel_color_count@v1"]
    image: Selector(kind=[IMAGE_KIND]) = ImageField
    target_color: Selector(kind=[STRING_KIND]) | Selector(kind=[RGB_COLOR_KIND]) | str | tuple[int, int, int]
    tolerance: Selector(kind=[INTEGER_KIND]) | int = 10

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="matching_pixels_count", kind=[INTEGER_KIND])]


class PixelColorCountBlockV1(Block):
    manifest_class = PixelColorCountManifest

    def run(self, image: Any, target_color: Any, tolerance: int = 10) -> dict[str, Any]:
        bgr = np.array(rgb_to_bgr(target_color))
        mask = cv2.inRange(image_pixels(image), bgr - tolerance, bgr + tolerance)
        return {"matching_pixels_count": int(cv2.countNonZero(mask))}


def rgb_to_bgr(color: Any) -> tuple[int, int, int]:
    """``#RRGGBB``, ``#RGB``, ``(R, G, B)`` text or an (R, G, B) tuple, as BGR (the reference's formats)."""
    if isinstance(color, (tuple, list)) and len(color) == 3:
        return int(color[2]), int(color[1]), int(color[0])
    if isinstance(color, str):
        text = color.strip()
        try:
            if text.startswith("#") and len(text) == 7:
                return int(text[5:7], 16), int(text[3:5], 16), int(text[1:3], 16)
            if text.startswith("#") and len(text) == 4:
                return int(text[3] * 2, 16), int(text[2] * 2, 16), int(text[1] * 2, 16)
            if text.startswith("(") and text.endswith(")"):
                r, g, b = (int(part) for part in text[1:-1].split(","))
                return b, g, r
        except ValueError:
            pass
    raise InvalidInputError(f"Invalid colour {str(color)[:40]!r}: use '#RRGGBB', '#RGB', '(R, G, B)' or an "
                            "(R, G, B) tuple")
