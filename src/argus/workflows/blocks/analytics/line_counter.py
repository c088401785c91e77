"""Line Counter (``roboflow_core/line_counter@v1|v2``): tracked objects crossing a line, on ``sv.LineZone``.

One ``sv.LineZone`` per video counts crossings of its tracked detections in each direction
(supervision decides the direction from which side of the start→end vector the anchors were on).
``count_in`` / ``count_out`` are totals for the video; v2 also returns the detections that crossed
in this frame. The Line Counter Visualization block draws the line and these counts.
"""

from __future__ import annotations

from typing import Any, Literal

import supervision as sv
from pydantic import Field

from argus.workflows.blocks.analytics.common import (
    BOX_KINDS,
    AnchorField,
    TrackedDetectionsManifest,
    frame_metadata,
    parse_points,
    position,
    require_tracked,
    subset,
)
from argus.workflows.blocks.base import (
    Block,
    ImageSelector,
    OutputDefinition,
    Selector,
    VideoMetadataSelector,
    block_config,
)
from argus.workflows.data import VideoMetadata, WorkflowImageData
from argus.workflows.kinds import (
    INTEGER_KIND,
    LIST_OF_VALUES_KIND,
)


class _LineCounterFields(TrackedDetectionsManifest):
    line_segment: list | Selector(kind=[LIST_OF_VALUES_KIND]) = Field(  # type: ignore[valid-type]
        description="The line as two points [[x1, y1], [x2, y2]].", examples=[[[0, 50], [500, 50]]])


class LineCounterV1Manifest(_LineCounterFields):
    """v1: frames identified by a ``WorkflowVideoMetadata`` input; the anchor is required."""

    model_config = block_config(name="Line Counter", category="analytics", version="v1",
                                description="Count detections passing a line.")
    type: Literal["roboflow_core/line_counter@v1"]
    metadata: VideoMetadataSelector()  # type: ignore[valid-type]
    triggering_anchor: AnchorField = Field(default="CENTER", description="Box point that must cross the line.")

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="count_in", kind=[INTEGER_KIND]),
                OutputDefinition(name="count_out", kind=[INTEGER_KIND])]


class LineCounterV2Manifest(_LineCounterFields):
    """v2: video metadata from the image; also the detections that crossed in this frame."""

    model_config = block_config(name="Line Counter", category="analytics", version="v2",
                                description="Count detections passing a line.")
    type: Literal["roboflow_core/line_counter@v2"]
    image: ImageSelector()  # type: ignore[valid-type]
    triggering_anchor: AnchorField | None = Field(  # type: ignore[valid-type]
        default=None, description="Box point that must cross the line (default: all four corners, as supervision).")

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="count_in", kind=[INTEGER_KIND]),
                OutputDefinition(name="count_out", kind=[INTEGER_KIND]),
                OutputDefinition(name="detections_in", kind=BOX_KINDS),
                OutputDefinition(name="detections_out", kind=BOX_KINDS)]


class _LineCounterBase(Block):
    stateful = True

    def _count(self, metadata: VideoMetadata, detections: sv.Detections, line_segment: Any,
               triggering_anchor: str | None) -> tuple[sv.LineZone, sv.Detections, sv.Detections]:
        require_tracked(detections, "Line Counter")

        def new_zone() -> sv.LineZone:
            start, end = parse_points(line_segment, "line_segment", exactly=2)
            if triggering_anchor is None:
                return sv.LineZone(start=sv.Point(*start), end=sv.Point(*end))
            return sv.LineZone(start=sv.Point(*start), end=sv.Point(*end),
                               triggering_anchors=[position(triggering_anchor)])

        zone = self.video_state(metadata.video_identifier, new_zone)
        crossed_in, crossed_out = zone.trigger(detections=detections)
        return zone, subset(detections, crossed_in), subset(detections, crossed_out)


class LineCounterBlockV1(_LineCounterBase):
    """Counts per ``WorkflowVideoMetadata`` video."""

    manifest_class = LineCounterV1Manifest

    def run(self, metadata: VideoMetadata, detections: sv.Detections, line_segment: Any,
            triggering_anchor: str = "CENTER") -> dict[str, Any]:
        zone, _, _ = self._count(frame_metadata(self, metadata=metadata), detections, line_segment,
                                 triggering_anchor)
        return {"count_in": zone.in_count, "count_out": zone.out_count}


class LineCounterBlockV2(_LineCounterBase):
    """Counts per the image's video."""

    manifest_class = LineCounterV2Manifest

    def run(self, image: WorkflowImageData, detections: sv.Detections, line_segment: Any,
            triggering_anchor: str | None = None) -> dict[str, Any]:
        zone, crossed_in, crossed_out = self._count(frame_metadata(self, image), detections, line_segment,
                                                    triggering_anchor)
        return {"count_in": zone.in_count, "count_out": zone.out_count,
                "detections_in": crossed_in, "detections_out": crossed_out}
