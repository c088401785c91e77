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
    """Counts per video: the ``WorkflowVideoMetadata`` input's (v1) or the image's (v2)."""

    stateful = True
    crossed_outputs = True  # v2 also returns the detections that crossed in this frame

    def run(self, detections: sv.Detections, line_segment: Any, triggering_anchor: str | None = None,
            image: WorkflowImageData | None = None, metadata: VideoMetadata | None = None) -> dict[str, Any]:
        require_tracked(detections, "Line Counter")

        def new_zone() -> sv.LineZone:
            start, end = parse_points(line_segment, "line_segment", exactly=2)
            if triggering_anchor is None:
                return sv.LineZone(start=sv.Point(*start), end=sv.Point(*end))
            return sv.LineZone(start=sv.Point(*start), end=sv.Point(*end),
                               triggering_anchors=[position(triggering_anchor)])

        zone = self.video_state(frame_metadata(self, image, metadata).video_identifier, new_zone)
        crossed_in, crossed_out = zone.trigger(detections=detections)
        counts: dict[str, Any] = {"count_in": zone.in_count, "count_out": zone.out_count}
        if self.crossed_outputs:
            counts.update(detections_in=subset(detections, crossed_in), detections_out=subset(detections, crossed_out))
        return counts


class LineCounterBlockV1(_LineCounterBase):
    """Counts only."""

    manifest_class = LineCounterV1Manifest
    crossed_outputs = False


class LineCounterBlockV2(_LineCounterBase):
    """Counts and this frame's crossings."""

    manifest_class = LineCounterV2Manifest
