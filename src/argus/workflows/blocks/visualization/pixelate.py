"""Pixelate Visualization (``roboflow_core/pixelate_visualization@v1``): boxes pixelated, ``sv.PixelateAnnotator``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import supervision as sv
from pydantic import Field

from argus.workflows.blocks.base import Selector
from argus.workflows.blocks.visualization.common import (
    AnnotatorBlock,
    PredictionsVisualizationManifest,
    visualization_config,
)
from argus.workflows.kinds import INTEGER_KIND


class PixelateManifest(PredictionsVisualizationManifest):
    """Pixel block size."""

    model_config = visualization_config("Pixelate Visualization", "Pixelate the area inside detected objects.")
    type: Literal["roboflow_core/pixelate_visualization@v1", "PixelateVisualization"]
    pixel_size: Annotated[int, Field(ge=1)] | Selector(kind=[INTEGER_KIND]) = Field(  # type: ignore[valid-type]
        default=20, description="Size of the pixel blocks in pixels.")


class PixelateVisualizationBlockV1(AnnotatorBlock):
    """Only pixels inside boxes change."""

    manifest_class = PixelateManifest

    def annotator(self, pixel_size: int) -> Any:
        return sv.PixelateAnnotator(pixel_size=int(pixel_size))
