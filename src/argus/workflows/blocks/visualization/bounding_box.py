"""Bounding Box Visualization (``roboflow_core/bounding_box_visualization@v1``): ``sv.BoxAnnotator``.

``roundness`` above 0 draws rounded corners with ``sv.RoundBoxAnnotator``.
"""

from __future__ import annotations

from typing import Any, Literal

import supervision as sv
from pydantic import Field

from argus.workflows.blocks.base import Selector
from argus.workflows.blocks.visualization.common import (
    AnnotatorBlock,
    ColorableVisualizationManifest,
    visualization_config,
)
from argus.workflows.kinds import FLOAT_ZERO_TO_ONE_KIND, INTEGER_KIND


class BoundingBoxManifest(ColorableVisualizationManifest):
    """Box outline thickness and corner roundness."""

    model_config = visualization_config("Bounding Box Visualization", "Draw a box around detected objects.")
    type: Literal["roboflow_core/bounding_box_visualization@v1", "BoundingBoxVisualization"]
    thickness: int | Selector(kind=[INTEGER_KIND]) = Field(  # type: ignore[valid-type]
        default=2, description="Thickness of the bounding box in pixels.")
    roundness: float | Selector(kind=[FLOAT_ZERO_TO_ONE_KIND]) = Field(  # type: ignore[valid-type]
        default=0.0, description="Roundness of the corners, 0 (square) to 1.")


class BoundingBoxVisualizationBlockV1(AnnotatorBlock):
    """Boxes in the palette's colours."""

    manifest_class = BoundingBoxManifest
    colorable = True

    def annotator(self, thickness: int, roundness: float, **colors: Any) -> Any:
        if roundness == 0:
            return sv.BoxAnnotator(thickness=int(thickness), **colors)
        return sv.RoundBoxAnnotator(thickness=int(thickness), roundness=float(roundness), **colors)
