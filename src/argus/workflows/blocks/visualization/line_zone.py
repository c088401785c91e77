"""Line Counter Visualization (``roboflow_core/line_counter_visualization@v1``): the counting line and its counts.

The line (``zone``: two points) is drawn with ``sv.draw_line`` on an overlay blended at
``opacity``; ``in: N, out: M`` (wired from a Line Counter's ``count_in`` / ``count_out``) is written
at the line's start with ``sv.draw_text`` on white, as in the reference.
"""

from __future__ import annotations

from typing import Any, Literal

import cv2
import numpy as np
import supervision as sv
from pydantic import Field

from argus.workflows.blocks.analytics.common import parse_points
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
    FLOAT_KIND,
    INTEGER_KIND,
    LIST_OF_VALUES_KIND,
)


class LineZoneManifest(ZoneVisualizationManifest):
    """The line, its look, and the counts to print."""

    model_config = visualization_config("Line Counter Visualization", "Draw a counting line and its counts.")
    type: Literal["roboflow_core/line_counter_visualization@v1"]
    zone: list | Selector(kind=[LIST_OF_VALUES_KIND]) = Field(  # type: ignore[valid-type]
        description="The line [[x1, y1], [x2, y2]].", examples=[[[0, 50], [500, 50]]])
    thickness: int | Selector(kind=[INTEGER_KIND]) = Field(  # type: ignore[valid-type]
        default=2, description="Thickness of the line in pixels.")
    text_thickness: int | Selector(kind=[INTEGER_KIND]) = Field(  # type: ignore[valid-type]
        default=1, description="Thickness of the text.")
    text_scale: float | Selector(kind=[FLOAT_KIND]) = Field(  # type: ignore[valid-type]
        default=1.0, description="Scale of the text.")
    count_in: int | Selector(kind=[INTEGER_KIND]) = Field(  # type: ignore[valid-type]
        default=0, description="Objects that crossed in ($steps.line_counter.count_in).")
    count_out: int | Selector(kind=[INTEGER_KIND]) = Field(  # type: ignore[valid-type]
        default=0, description="Objects that crossed out ($steps.line_counter.count_out).")


class LineCounterZoneVisualizationBlockV1(Block):
    """Line plus ``in: N, out: M``."""

    manifest_class = LineZoneManifest

    def run(self, image: WorkflowImageData, zone: Any, copy_image: bool = True, color: str = "#5bb573",
            thickness: int = 2, text_thickness: int = 1, text_scale: float = 1.0, count_in: int = 0,
            count_out: int = 0, opacity: float = 0.3) -> dict[str, Any]:
        (x1, y1), (x2, y2) = parse_points(zone, "zone", exactly=2)
        scene = canvas(image, copy_image)
        # as the reference: the line's colour, scaled by opacity, is added onto the image (not blended with it)
        line = cv2.line(np.zeros_like(scene), (int(x1), int(y1)), (int(x2), int(y2)), str_to_color(color).as_bgr(),
                        int(thickness))
        cv2.addWeighted(line, float(opacity), scene, 1.0, 0.0, dst=scene)
        sv.draw_text(scene=scene, text=f"in: {count_in}, out: {count_out}", text_anchor=sv.Point(x1, y1),
                     text_thickness=int(text_thickness), text_scale=float(text_scale),
                     background_color=sv.Color.WHITE, text_padding=0)
        return drawn(image, scene)
