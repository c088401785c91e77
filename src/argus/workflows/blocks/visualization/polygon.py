"""Polygon Visualization (``roboflow_core/polygon_visualization@v1``): mask outlines, ``sv.PolygonAnnotator``."""

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
from argus.workflows.kinds import INTEGER_KIND


class PolygonManifest(ColorableVisualizationManifest):
    """Outline thickness."""

    model_config = visualization_config("Polygon Visualization", "Draw a polygon around detected objects.")
    type: Literal["roboflow_core/polygon_visualization@v1", "PolygonVisualization"]
    thickness: int | Selector(kind=[INTEGER_KIND]) = Field(  # type: ignore[valid-type]
        default=2, description="Thickness of the outline in pixels.")


class PolygonVisualizationBlockV1(AnnotatorBlock):
    """Outlines of instance masks."""

    manifest_class = PolygonManifest
    colorable = True

    def annotator(self, thickness: int, **colors: Any) -> Any:
        return sv.PolygonAnnotator(thickness=int(thickness), **colors)


class PolygonManifestV2(PolygonManifest):
    """v2 of the reference also takes RLE-encoded masks; Argus's masks are dense either way, so it draws alike."""

    model_config = visualization_config("Polygon Visualization", "Draw a polygon around detected objects.", "v2")
    type: Literal["roboflow_core/polygon_visualization@v2"]  # type: ignore[assignment]


class PolygonVisualizationBlockV2(PolygonVisualizationBlockV1):
    manifest_class = PolygonManifestV2  # type: ignore[assignment]  # (a v2 manifest is its v1 one plus fields)
