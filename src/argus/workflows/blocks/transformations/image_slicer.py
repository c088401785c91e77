# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Image Slicer (SAHI-style): overlapping tiles of every image, as a nested batch."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import AliasChoices, Field
from supervision.detection.tools.inference_slicer import InferenceSlicer

from argus.errors import InvalidInputError
from argus.workflows.blocks.base import (
    Block,
    BlockManifest,
    ImageSelector,
    OutputDefinition,
    PositiveInt,
    Selector,
    block_config,
)
from argus.workflows.data import WorkflowImageData
from argus.workflows.kinds import FLOAT_ZERO_TO_ONE_KIND, IMAGE_KIND, INTEGER_KIND

_CONFIG = block_config(name="Image Slicer", category="transformation",
                       description="Tile the input image into a list of smaller images to perform small object "
                                   "detection.")
Ratio = Annotated[float, Field(ge=0.0, lt=1.0)]
MAX_SLICES = 4096
"""More tiles than this per image is refused (a 1-pixel slice size would otherwise exhaust memory)."""


class ImageSlicerManifestV1(BlockManifest):
    model_config = _CONFIG
    type: Literal["roboflow_core/image_slicer@v1", "ImageSlicer"]
    image: ImageSelector() = Field(validation_alias=AliasChoices("image", "images"))
    slice_width: PositiveInt | Selector(kind=[INTEGER_KIND]) = 640
    slice_height: PositiveInt | Selector(kind=[INTEGER_KIND]) = 640
    overlap_ratio_width: Ratio | Selector(kind=[FLOAT_ZERO_TO_ONE_KIND]) = 0.2
    overlap_ratio_height: Ratio | Selector(kind=[FLOAT_ZERO_TO_ONE_KIND]) = 0.2

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="slices", kind=[IMAGE_KIND])]


class ImageSlicerManifestV2(ImageSlicerManifestV1):
    model_config = _CONFIG
    type: Literal["roboflow_core/image_slicer@v2"]  # type: ignore[assignment]


def slice_offsets(width: int, height: int, slice_width: int, slice_height: int, overlap_w: float,
                  overlap_h: float) -> np.ndarray:
    """v2's tiles ``(N, 4)`` xyxy covering the image; the last row/column is pulled in to end at the edge."""
    overlap = (int(slice_width * overlap_w), int(slice_height * overlap_h))
    # supervision's own tiling (the one its InferenceSlicer uses), so tiles match sv's SAHI
    return InferenceSlicer._generate_offset((width, height), (slice_width, slice_height), overlap)


def clipped_offsets(width: int, height: int, slice_width: int, slice_height: int, overlap_w: float,
                    overlap_h: float) -> np.ndarray:
    """v1's tiles, as the reference's v1 cuts them: a grid from the top-left corner, the last row and column
    clipped at the edge (so smaller)."""
    stride_w = slice_width - int(overlap_w * slice_width)
    stride_h = slice_height - int(overlap_h * slice_height)
    xmin, ymin = np.meshgrid(np.arange(0, width, stride_w), np.arange(0, height, stride_h))
    xmax, ymax = np.clip(xmin + slice_width, 0, width), np.clip(ymin + slice_height, 0, height)
    offsets: np.ndarray = np.stack([xmin, ymin, xmax, ymax], axis=-1).reshape(-1, 4)
    return offsets


class ImageSlicerV1(Block):
    manifest_class: ClassVar[type[BlockManifest]] = ImageSlicerManifestV1
    output_dimensionality_offset = 1
    tiling = staticmethod(clipped_offsets)

    def run(self, image: WorkflowImageData, slice_width: int, slice_height: int, overlap_ratio_width: float,
            overlap_ratio_height: float) -> list[dict[str, Any]]:
        offsets = self.tiling(image.width, image.height, slice_width, slice_height, overlap_ratio_width,
                              overlap_ratio_height)
        unique = {tuple(int(v) for v in row): None for row in offsets}
        if len(unique) > MAX_SLICES:
            raise InvalidInputError(f"slices of {slice_width}x{slice_height} cut this {image.width}x{image.height} "
                                    f"image into {len(unique)} tiles (at most {MAX_SLICES}); use larger slices")
        return [{"slices": image.crop(x1, y1, x2, y2, crop_id=str(uuid.uuid4()))} for x1, y1, x2, y2 in unique
                if x2 > x1 and y2 > y1]


class ImageSlicerV2(ImageSlicerV1):
    manifest_class = ImageSlicerManifestV2
    tiling = staticmethod(slice_offsets)
