"""Polygon Zone Visualization (``roboflow_core/polygon_zone_visualization@v1``): zones filled at an opacity.

``zone`` is one polygon ``[[x, y], ...]`` or a list of them. As in the reference, the zones' colour times the
opacity is added onto the image (saturating), so pixels outside every polygon keep their values.
"""

from __future__ import annotations

from typing import Any, Literal

import cv2
import numpy as np
from pydantic import Field

from argus.workflows.blocks.analytics.common import parse_polygons
from argus.workflows.blocks.base import Block, Selector
from argus.workflows.blocks.visualization.common import (
    ZoneVisualizationManifest,
    canvas,
    drawn,
    str_to_color,
    visualization_config,
)
from argus.workflows.data import WorkflowImageData
from argus.workflows.kinds import (
    LIST_OF_VALUES_KIND,
)


class PolygonZoneManifest(ZoneVisualizationManifest):
    """The zone(s), colour and opacity."""

    model_config = visualization_config("Polygon Zone Visualization", "Paint a mask over polygon zones.")
    type: Literal["roboflow_core/polygon_zone_visualization@v1"]
    zone: list | Selector(kind=[LIST_OF_VALUES_KIND]) = Field(  # type: ignore[valid-type]
        description="A polygon [[x1, y1], [x2, y2], [x3, y3], ...] or a list of such polygons.")


class PolygonZoneVisualizationBlockV1(Block):
    """Filled zones; nothing else changes."""

    manifest_class = PolygonZoneManifest

    def run(self, image: WorkflowImageData, zone: Any, copy_image: bool = True, color: str = "#5bb573",
            opacity: float = 0.3) -> dict[str, Any]:
        scene = canvas(image, copy_image)
        polygons = parse_polygons(zone) if zone else []
        if not polygons:
            return drawn(image, scene)
        # as the reference: the zones' colour, scaled by opacity, is added onto the image (saturating), so the
        # zone brightens towards its colour rather than being blended with it
        tint = cv2.fillPoly(np.zeros_like(scene), [np.asarray(p, dtype=np.int32) for p in polygons],
                            str_to_color(color).as_bgr())
        scene[:] = cv2.addWeighted(tint, float(opacity), scene, 1.0, 0.0)
        return drawn(image, scene)
