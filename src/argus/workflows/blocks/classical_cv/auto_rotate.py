# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Auto Rotate on Edges: straighten an image by the dominant direction of its strong edges, as the reference does.

On a grayscale copy at most ``internal_resolution`` pixels across, contrast-equalised (CLAHE) and blurred, the
strongest fifth of the Sobel gradients vote for an orientation (a magnitude-weighted histogram, smoothed); a clear
peak is refined by the doubled-angle mean of the votes near it, and the image is rotated by it on a canvas that
holds the whole rotated image. Flat images, weak peaks and angles outside the limits leave the image as it is.
"""

from __future__ import annotations

from typing import Any, Literal

import cv2
import numpy as np
from pydantic import AliasChoices, Field, PositiveInt

from argus.errors import InvalidInputError
from argus.workflows.blocks.base import Block, BlockManifest, OutputDefinition, Selector, block_config
from argus.workflows.data import WorkflowImageData
from argus.workflows.kinds import FLOAT_KIND, IMAGE_KIND, INTEGER_KIND, STRING_KIND

MAX_RESOLUTION = 8_192


class AutoRotateManifest(BlockManifest):
    model_config = block_config(name="Auto Rotate on Edges", category="classical_computer_vision",
                                description="Rotate an image so its dominant edges are vertical or horizontal.")
    type: Literal["roboflow_core/auto_rotate_on_edges@v1"]
    image: Selector(kind=[IMAGE_KIND]) = Field(validation_alias=AliasChoices("image", "images"))
    target_orientation: Selector(kind=[STRING_KIND]) | Literal["vertical", "horizontal", "either"] = "vertical"
    skip_below_degrees: float | Selector(kind=[FLOAT_KIND]) = 0.4
    max_correction_degrees: float | Selector(kind=[FLOAT_KIND]) = 90.0
    internal_resolution: PositiveInt | Selector(kind=[INTEGER_KIND]) = 1000

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="image", kind=[IMAGE_KIND]), OutputDefinition(name="angle", kind=[FLOAT_KIND])]


def rotation_matrix(width: int, height: int, angle: float) -> tuple[np.ndarray, tuple[int, int]]:
    """The affine rotation about the centre, shifted so the whole rotated image fits; and that canvas's size."""
    centre = (width // 2, height // 2)
    matrix = cv2.getRotationMatrix2D(centre, angle, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    size = (int(height * sin + width * cos), int(height * cos + width * sin))
    matrix[0, 2] += size[0] / 2 - centre[0]
    matrix[1, 2] += size[1] / 2 - centre[1]
    return matrix, size


def edge_angle(gray: np.ndarray, orientation: str) -> float | None:
    """The correction that makes the dominant edges upright (or level); None without a clear dominant direction."""
    prepared = cv2.GaussianBlur(cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8)).apply(gray), (5, 5), 0)
    prepared = prepared.astype(np.float32)
    gx, gy = cv2.Sobel(prepared, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(prepared, cv2.CV_32F, 0, 1, ksize=3)
    magnitude = np.hypot(gx, gy)
    strong = magnitude >= max(float(np.percentile(magnitude, 80.0)), 1e-6)
    if not strong.any():
        return None
    theta = np.mod(np.degrees(np.arctan2(gy[strong], gx[strong])), 180.0)
    weights = magnitude[strong].astype(np.float64)
    histogram, _ = np.histogram(theta, bins=180, range=(0.0, 180.0), weights=weights)
    smoothed = np.convolve(np.concatenate([histogram[-2:], histogram, histogram[:2]]), np.ones(5) / 5.0,
                           mode="same")[2:-2]
    if (float(smoothed.max()) - float(np.median(smoothed))) / (float(smoothed.std()) + 1e-9) < 1.5:
        return None
    peak = float(np.argmax(smoothed)) + 0.5
    distance = np.abs(theta - peak)
    near = np.minimum(distance, 180.0 - distance) <= 3.0
    angle = peak
    if near.any():
        doubled = np.radians(2.0 * theta[near])
        angle = 0.5 * np.degrees(np.arctan2(float((weights[near] * np.sin(doubled)).sum()),
                                            float((weights[near] * np.cos(doubled)).sum())))
    return angle - 90.0 if orientation == "horizontal" else angle


def _wrapped(angle: float, period: float) -> float:
    folded = angle % period
    return folded - period if folded > period / 2 else folded


class AutoRotateOnEdgesBlockV1(Block):
    manifest_class = AutoRotateManifest

    def run(self, image: WorkflowImageData, target_orientation: str = "vertical", skip_below_degrees: float = 0.4,
            max_correction_degrees: float = 90.0, internal_resolution: int = 1000) -> dict[str, Any]:
        if target_orientation not in ("vertical", "horizontal", "either"):
            raise InvalidInputError(f"target_orientation must be vertical, horizontal or either, not "
                                    f"{target_orientation!r}")
        if not 0 < int(internal_resolution) <= MAX_RESOLUTION:
            raise InvalidInputError(f"internal_resolution must be from 1 to {MAX_RESOLUTION}")
        pixels = image.numpy_image
        gray = cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY) if pixels.ndim == 3 and pixels.shape[2] == 3 else pixels.copy()
        height, width = gray.shape[:2]
        if max(height, width) > internal_resolution:
            scale = internal_resolution / float(max(height, width))
            gray = cv2.resize(gray, (max(1, int(round(width * scale))), max(1, int(round(height * scale)))),
                              interpolation=cv2.INTER_AREA)
        if float(gray.std()) < 3.0:
            return {"image": image, "angle": 0.0}
        angle = edge_angle(np.clip(gray, 0, 255).astype(np.uint8), target_orientation)
        if angle is None:
            return {"image": image, "angle": 0.0}
        angle = _wrapped(angle, 90.0 if target_orientation == "either" else 180.0)
        if abs(angle) < skip_below_degrees or abs(angle) > max_correction_degrees:
            return {"image": image, "angle": 0.0}
        matrix, size = rotation_matrix(pixels.shape[1], pixels.shape[0], angle)
        rotated = cv2.warpAffine(pixels, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                 borderValue=0)
        return {"image": image.with_image(rotated), "angle": float(angle)}
