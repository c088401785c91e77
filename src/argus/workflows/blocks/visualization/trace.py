"""Trace Visualization (``roboflow_core/trace_visualization@v1``): paths of tracked objects, ``sv.TraceAnnotator``.

The annotator remembers past positions, so one lives per video (a stateful block): frames of
different videos never mix their traces.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import supervision as sv
from pydantic import Field

from argus.workflows.blocks.analytics.common import (
    AnchorField,
    frame_metadata,
    require_tracked,
)
from argus.workflows.blocks.analytics.common import position as anchor_position
from argus.workflows.blocks.base import Selector
from argus.workflows.blocks.visualization.common import (
    AnnotatorBlock,
    ColorableVisualizationManifest,
    visualization_config,
)
from argus.workflows.data import WorkflowImageData
from argus.workflows.kinds import INTEGER_KIND


class TraceManifest(ColorableVisualizationManifest):
    """Which point is followed, how many frames, line thickness."""

    model_config = visualization_config("Trace Visualization", "Draw the path of tracked objects.")
    type: Literal["roboflow_core/trace_visualization@v1"]
    position: AnchorField = Field(default="CENTER", description="Anchor of the box that is followed.")
    trace_length: Annotated[int, Field(ge=1)] | Selector(kind=[INTEGER_KIND]) = Field(  # type: ignore[valid-type]
        default=30, description="Frames of history drawn.")
    thickness: int | Selector(kind=[INTEGER_KIND]) = Field(  # type: ignore[valid-type]
        default=1, description="Thickness of the trace in pixels.")


class TraceVisualizationBlockV1(AnnotatorBlock):
    """Traces of tracked detections, one history per video."""

    manifest_class = TraceManifest
    colorable = True
    stateful = True

    def run(self, image: WorkflowImageData, predictions: sv.Detections, copy_image: bool = True,
            **params: Any) -> dict[str, Any]:
        require_tracked(predictions, "Trace Visualization")
        self._video = frame_metadata(self, image).video_identifier
        return super().run(image, predictions, copy_image, **params)

    def annotator(self, position: str, trace_length: int, thickness: int, **colors: Any) -> Any:
        return self.video_state(self._video, lambda: sv.TraceAnnotator(
            position=anchor_position(position, "position"), trace_length=int(trace_length),
            thickness=int(thickness), **colors))
