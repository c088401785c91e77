"""Crop Visualization (``roboflow_core/crop_visualization@v1``): scaled crops beside boxes, ``sv.CropAnnotator``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import supervision as sv
from pydantic import Field

from argus.workflows.blocks.analytics.common import AnchorField
from argus.workflows.blocks.analytics.common import position as anchor_position
from argus.workflows.blocks.base import Selector
from argus.workflows.blocks.visualization.common import (
    AnnotatorBlock,
    ColorableVisualizationManifest,
    visualization_config,
)
from argus.workflows.kinds import FLOAT_KIND, INTEGER_KIND


class CropManifest(ColorableVisualizationManifest):
    """Where the enlarged crop goes, its scale and border."""

    model_config = visualization_config("Crop Visualization", "Draw scaled up crops of detections on the scene.")
    type: Literal["roboflow_core/crop_visualization@v1", "CropVisualization"]
    position: AnchorField = Field(default="TOP_CENTER", description="Anchor of the box where the crop goes.")
    scale_factor: Annotated[float, Field(gt=0)] | Selector(kind=[FLOAT_KIND]) = Field(  # type: ignore[valid-type]
        default=2.0, description="How much the crop is enlarged.")
    border_thickness: int | Selector(kind=[INTEGER_KIND]) = Field(  # type: ignore[valid-type]
        default=2, description="Thickness of the crop's border in pixels.")


class CropVisualizationBlockV1(AnnotatorBlock):
    """An enlarged copy of each detection drawn at its anchor."""

    manifest_class = CropManifest
    colorable = True

    def annotator(self, position: str, scale_factor: float, border_thickness: int, color: Any,
                  color_lookup: Any) -> Any:
        return sv.CropAnnotator(position=anchor_position(position, "position"), scale_factor=float(scale_factor),
                                border_thickness=int(border_thickness), border_color=color,
                                border_color_lookup=color_lookup)

