"""Mask Visualization (``roboflow_core/mask_visualization@v1``): filled instance masks, ``sv.MaskAnnotator``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import supervision as sv
from pydantic import Field

from argus.workflows.blocks.base import Selector
from argus.workflows.blocks.visualization.common import (
    AnnotatorBlock,
    ColorableVisualizationManifest,
    visualization_config,
)
from argus.workflows.kinds import FLOAT_ZERO_TO_ONE_KIND


class MaskManifest(ColorableVisualizationManifest):
    """Mask opacity."""

    model_config = visualization_config("Mask Visualization", "Paint a mask over detected objects.")
    type: Literal["roboflow_core/mask_visualization@v1", "MaskVisualization"]
    opacity: Annotated[float, Field(ge=0, le=1)] | Selector(kind=[FLOAT_ZERO_TO_ONE_KIND]) = Field(  # type: ignore[valid-type]
        default=0.5, description="Transparency of the mask overlay.")


class MaskVisualizationBlockV1(AnnotatorBlock):
    """Instance masks blended over the image."""

    manifest_class = MaskManifest
    colorable = True

    def annotator(self, opacity: float, **colors: Any) -> Any:
        return sv.MaskAnnotator(opacity=float(opacity), **colors)
