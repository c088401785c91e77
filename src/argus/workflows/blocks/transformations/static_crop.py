# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Absolute and relative static crops: one fixed region of every image."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import AliasChoices, Field

from argus.errors import InvalidInputError
from argus.workflows.blocks.base import (
    Block,
    BlockManifest,
    FloatZeroToOne,
    ImageSelector,
    OutputDefinition,
    PositiveInt,
    Selector,
    block_config,
)
from argus.workflows.data import WorkflowImageData
from argus.workflows.kinds import FLOAT_ZERO_TO_ONE_KIND, IMAGE_KIND, INTEGER_KIND


class _StaticCropManifest(BlockManifest):
    images: ImageSelector() = Field(validation_alias=AliasChoices("images", "image"))

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="crops", kind=[IMAGE_KIND])]


class AbsoluteStaticCropManifest(_StaticCropManifest):
    model_config = block_config(name="Absolute Static Crop", category="transformation",
                                description="Crop an image using fixed pixel coordinates.")
    type: Literal["roboflow_core/absolute_static_crop@v1", "AbsoluteStaticCrop"]
    x_center: int | Selector(kind=[INTEGER_KIND])
    y_center: int | Selector(kind=[INTEGER_KIND])
    width: PositiveInt | Selector(kind=[INTEGER_KIND])
    height: PositiveInt | Selector(kind=[INTEGER_KIND])


class RelativeStaticCropManifest(_StaticCropManifest):
    model_config = block_config(name="Relative Static Crop", category="transformation",
                                description="Crop an image proportional (%) to its dimensions.")
    type: Literal["roboflow_core/relative_statoic_crop@v1", "RelativeStaticCrop"]
    x_center: FloatZeroToOne | Selector(kind=[FLOAT_ZERO_TO_ONE_KIND])
    y_center: FloatZeroToOne | Selector(kind=[FLOAT_ZERO_TO_ONE_KIND])
    width: FloatZeroToOne | Selector(kind=[FLOAT_ZERO_TO_ONE_KIND])
    height: FloatZeroToOne | Selector(kind=[FLOAT_ZERO_TO_ONE_KIND])


def centre_crop(image: WorkflowImageData, x_center: float, y_center: float, width: float, height: float
                ) -> dict[str, Any]:
    """The region of ``width x height`` pixels centred on ``(x_center, y_center)``, clipped to the image."""
    x1, y1 = round(x_center - width / 2), round(y_center - height / 2)
    x2, y2 = x1 + round(width), y1 + round(height)
    if x2 <= 0 or y2 <= 0 or x1 >= image.width or y1 >= image.height:
        raise InvalidInputError(f"the crop ({x1}, {y1})-({x2}, {y2}) lies outside the {image.width}x{image.height} "
                                "image")
    return {"crops": image.crop(x1, y1, x2, y2, crop_id=str(uuid.uuid4()))}


class AbsoluteStaticCropBlock(Block):
    manifest_class = AbsoluteStaticCropManifest

    def run(self, images: WorkflowImageData, x_center: int, y_center: int, width: int, height: int
            ) -> dict[str, Any]:
        return centre_crop(images, x_center, y_center, width, height)


class RelativeStaticCropBlock(Block):
    manifest_class = RelativeStaticCropManifest

    def run(self, images: WorkflowImageData, x_center: float, y_center: float, width: float, height: float
            ) -> dict[str, Any]:
        return centre_crop(images, x_center * images.width, y_center * images.height, width * images.width,
                           height * images.height)
