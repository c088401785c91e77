# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Camera Calibration: undo lens distortion from the camera's intrinsics, as the reference's block does.

The pinhole model goes through OpenCV (``getOptimalNewCameraMatrix`` keeping every pixel, then ``undistort``); the
fisheye option is the reference's one-parameter division model, inverted in closed form and applied by ``remap``.
"""

from __future__ import annotations

from typing import Any, Literal

import cv2
import numpy as np
from pydantic import AliasChoices, Field

from argus.errors import InvalidInputError
from argus.workflows.blocks.base import Block, BlockManifest, OutputDefinition, Selector, block_config
from argus.workflows.data import WorkflowImageData
from argus.workflows.kinds import BOOLEAN_KIND, FLOAT_KIND, IMAGE_KIND

_Float = float | None | Selector(kind=[FLOAT_KIND])


class CameraCalibrationManifest(BlockManifest):
    model_config = block_config(name="Camera Calibration", category="transformation",
                                description="Remove lens distortion with the camera's calibration parameters.")
    type: Literal["roboflow_core/camera-calibration@v1"]
    image: Selector(kind=[IMAGE_KIND]) = Field(validation_alias=AliasChoices("image", "images"))
    fx: _Float
    fy: _Float
    cx: _Float
    cy: _Float
    k1: _Float
    k2: _Float
    k3: _Float
    p1: _Float
    p2: _Float
    use_fisheye_model: bool | None | Selector(kind=[BOOLEAN_KIND]) = False

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="calibrated_image", kind=[IMAGE_KIND])]


def undistort(pixels: np.ndarray, fx: float, fy: float, cx: float, cy: float, k1: float, k2: float, k3: float,
              p1: float, p2: float, fisheye: bool) -> np.ndarray:
    """The image with its distortion removed (pinhole with radial and tangential terms, or the fisheye option)."""
    h, w = pixels.shape[:2]
    if fisheye:
        grid_y, grid_x = np.mgrid[0:h, 0:w].astype(np.float32)
        x, y = (grid_x - cx) / fx, (grid_y - cy) / fy
        r2 = x ** 2 + y ** 2
        scale: Any = 1.0
        if abs(k1) >= 1e-8:
            discriminant = np.clip(1 - 4 * k1 * r2, 0, None)
            with np.errstate(divide="ignore", invalid="ignore"):
                scale = (1 - np.sqrt(discriminant)) / (2 * k1 * r2)
            scale[np.abs(r2) < 1e-8] = 1.0
        map_x = (x * scale * fx + cx).astype(np.float32)
        map_y = (y * scale * fy + cy).astype(np.float32)
        return cv2.remap(pixels, map_x, map_y, cv2.INTER_LINEAR)
    camera = np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]], dtype=np.float32)
    coefficients = np.array([k1, k2, p1, p2, k3], dtype=np.float32)
    new_camera, _ = cv2.getOptimalNewCameraMatrix(camera, coefficients, (w, h), 1, (w, h))
    return cv2.undistort(pixels, camera, coefficients, None, new_camera)


class CameraCalibrationBlockV1(Block):
    manifest_class = CameraCalibrationManifest

    def run(self, image: WorkflowImageData, fx: float, fy: float, cx: float, cy: float, k1: float, k2: float,
            k3: float, p1: float, p2: float, use_fisheye_model: bool = False) -> dict[str, Any]:
        values = {"fx": fx, "fy": fy, "cx": cx, "cy": cy, "k1": k1, "k2": k2, "k3": k3, "p1": p1, "p2": p2}
        missing = [name for name, value in values.items() if not isinstance(value, (int, float))
                   or not np.isfinite(value)]
        if missing:
            raise InvalidInputError(f"camera parameters {', '.join(missing)} must be finite numbers")
        if fx == 0 or fy == 0:
            raise InvalidInputError("the focal lengths fx and fy must not be zero")
        pixels = undistort(image.numpy_image, fx, fy, cx, cy, k1, k2, k3, p1, p2, bool(use_fisheye_model))
        return {"calibrated_image": image.with_image(pixels)}
