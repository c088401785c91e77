"""Background Color Visualization (``roboflow_core/background_color_visualization@v1``).

Everything outside the detections is overlaid with ``color`` at ``opacity``
(``sv.BackgroundOverlayAnnotator``; masks when present, else boxes).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import supervision as sv
from pydantic import Field

from argus.workflows.blocks.base import Selector
from argus.workflows.blocks.visualization.common import (
    AnnotatorBlock,
    PredictionsVisualizationManifest,
    str_to_color,
    visualization_config,
)
from argus.workflows.kinds import FLOAT_ZERO_TO_ONE_KIND, STRING_KIND


class BackgroundColorManifest(PredictionsVisualizationManifest):
    """Background colour and opacity."""

    model_config = visualization_config("Background Color Visualization",
                                        "Apply a mask to cover all areas outside the detected regions.")
    type: Literal["roboflow_core/background_color_visualization@v1", "BackgroundColorVisualization"]
    color: str | Selector(kind=[STRING_KIND]) = Field(  # type: ignore[valid-type]
        default="BLACK", description="Color of the background: #RRGGBB, rgb(...), bgr(...) or a name.")
    opacity: Annotated[float, Field(ge=0, le=1)] | Selector(kind=[FLOAT_ZERO_TO_ONE_KIND]) = Field(  # type: ignore[valid-type]
        default=0.5, description="Transparency of the background overlay.")


class BackgroundColorVisualizationBlockV1(AnnotatorBlock):
    """Only pixels outside the detections change."""

    manifest_class = BackgroundColorManifest
    skip_empty = False

    def annotator(self, color: str, opacity: float) -> Any:
        return sv.BackgroundOverlayAnnotator(color=str_to_color(color), opacity=float(opacity))
