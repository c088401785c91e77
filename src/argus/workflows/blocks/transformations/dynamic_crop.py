# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Dynamic Crop: one crop per detection (a nested batch aligned with the detections)."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import supervision as sv
from pydantic import AliasChoices, Field

from argus.workflows.blocks.base import (
    Block,
    BlockManifest,
    FloatZeroToOne,
    ImageSelector,
    OutputDefinition,
    Selector,
    block_config,
)
from argus.workflows.data import DETECTION_ID_KEY, KEYPOINTS_XY_KEY, POLYGON_KEY, WorkflowImageData, pick
from argus.workflows.kinds import (
    DETECTION_KINDS,
    FLOAT_ZERO_TO_ONE_KIND,
    IMAGE_KIND,
    RGB_COLOR_KIND,
    STRING_KIND,
)


class DynamicCropManifest(BlockManifest):
    model_config = block_config(name="Dynamic Crop", category="transformation",
                                description="Crop an image using bounding boxes from a detection model.")
    type: Literal["roboflow_core/dynamic_crop@v1", "DynamicCrop", "Crop"]
    images: ImageSelector() = Field(validation_alias=AliasChoices("images", "image"))
    predictions: Selector(kind=list(DETECTION_KINDS)) = Field(
        validation_alias=AliasChoices("predictions", "detections"))
    mask_opacity: FloatZeroToOne | Selector(kind=[FLOAT_ZERO_TO_ONE_KIND]) = 0.0
    background_color: str | tuple[int, int, int] | Selector(kind=[STRING_KIND, RGB_COLOR_KIND]) = (0, 0, 0)

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="crops", kind=[IMAGE_KIND]),
                OutputDefinition(name="predictions", kind=list(DETECTION_KINDS))]


def parse_color(value: str | tuple[int, int, int] | list[int]) -> tuple[int, int, int]:
    """A BGR colour from ``(r, g, b)``, ``"#rrggbb"``, ``"(r, g, b)"`` or a supervision colour name."""
    if isinstance(value, (tuple, list)):
        r, g, b = (int(v) for v in value)
        return b, g, r
    text = value.strip()
    if text.startswith("#"):
        color = sv.Color.from_hex(text)
    elif text.startswith("(") and text.endswith(")"):
        r, g, b = (int(v) for v in text[1:-1].split(","))
        return b, g, r
    else:
        color = getattr(sv.Color, text.upper(), None) or sv.Color.BLACK
    return color.as_bgr()


def _crop(image: WorkflowImageData, detections: sv.Detections, i: int, opacity: float,
          background: tuple[int, int, int]) -> WorkflowImageData:
    x1, y1, x2, y2 = np.round(detections.xyxy[i]).astype(int)
    crop = image.crop(x1, y1, x2, y2, crop_id=str(detections.data[DETECTION_ID_KEY][i]))
    if opacity > 0 and detections.mask is not None:
        origin = crop.parent_metadata.origin_coordinates
        mask = detections.mask[i][origin.left_top_y:origin.left_top_y + crop.height,
                                  origin.left_top_x:origin.left_top_x + crop.width]
        pixels = crop.numpy_image.astype(np.float32)
        fill = np.array(background, dtype=np.float32)
        pixels[~mask] = pixels[~mask] * (1 - opacity) + fill * opacity
        crop = crop.with_image(pixels.astype(np.uint8))
    return crop


def in_crop(detections: sv.Detections, i: int) -> sv.Detections:
    """Detection ``i`` in its own crop's coordinates: box, mask, polygon and keypoints moved to the crop's origin."""
    x1, y1, x2, y2 = np.round(detections.xyxy[i]).astype(int)
    row = pick(detections, [i])
    row.xyxy = row.xyxy - np.array([x1, y1, x1, y1], dtype=row.xyxy.dtype)
    if row.mask is not None:
        row.mask = np.asarray(row.mask, dtype=bool)[:, max(y1, 0):max(y2, 0), max(x1, 0):max(x2, 0)]
    for key in (POLYGON_KEY, KEYPOINTS_XY_KEY):
        if key in row.data:
            moved = np.empty(1, dtype=object)
            moved[0] = np.asarray(row.data[key][0], dtype=np.float64) - np.array([x1, y1])
            row.data[key] = moved
    return row


class DynamicCropBlock(Block):
    manifest_class = DynamicCropManifest
    output_dimensionality_offset = 1

    def run(self, images: WorkflowImageData, predictions: sv.Detections, mask_opacity: float,
            background_color: Any) -> list[dict[str, Any]]:
        background = parse_color(background_color)
        return [{"crops": _crop(images, predictions, i, mask_opacity, background),
                 "predictions": in_crop(predictions, i)} for i in range(len(predictions))]
