"""Dot Visualization (``roboflow_core/dot_visualization@v1``): a dot at an anchor of each box, ``sv.DotAnnotator``."""

from __future__ import annotations

from typing import Any, Literal

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
from argus.workflows.kinds import INTEGER_KIND


class DotManifest(ColorableVisualizationManifest):
    """Where the dot goes, its radius and outline."""

    model_config = visualization_config("Dot Visualization", "Draw dots on an image at specific coordinates.")
    type: Literal["roboflow_core/dot_visualization@v1", "DotVisualization"]
    position: AnchorField = Field(default="CENTER", description="Anchor of the box where the dot goes.")
    radius: int | Selector(kind=[INTEGER_KIND]) = Field(  # type: ignore[valid-type]
        default=4, description="Radius of the dot in pixels.")
    outline_thickness: int | Selector(kind=[INTEGER_KIND]) = Field(  # type: ignore[valid-type]
        default=0, description="Thickness of the dot's outline in pixels (0: none).")


class DotVisualizationBlockV1(AnnotatorBlock):
    """One dot per detection."""

    manifest_class = DotManifest
    colorable = True

    def annotator(self, position: str, radius: int, outline_thickness: int, **colors: Any) -> Any:
        return sv.DotAnnotator(position=anchor_position(position, "position"), radius=int(radius),
                               outline_thickness=int(outline_thickness), **colors)

