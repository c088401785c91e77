"""Blur Visualization (``roboflow_core/blur_visualization@v1``): box interiors blurred, ``sv.BlurAnnotator``."""

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


class BlurManifest(PredictionsVisualizationManifest):
    """Blur kernel size."""

    model_config = visualization_config("Blur Visualization", "Blur the area inside detected objects.")
    type: Literal["roboflow_core/blur_visualization@v1", "BlurVisualization"]
    kernel_size: Annotated[int, Field(ge=1)] | Selector(kind=[INTEGER_KIND]) = Field(  # type: ignore[valid-type]
        default=15, description="Size of the average-blur kernel in pixels.")


class BlurVisualizationBlockV1(AnnotatorBlock):
    """Only pixels inside boxes change."""

    manifest_class = BlurManifest

    def annotator(self, kernel_size: int) -> Any:
        return sv.BlurAnnotator(kernel_size=int(kernel_size))
