"""Time in Zone (``roboflow_core/time_in_zone@v1|v2|v3``): seconds each tracked object has spent in a zone.

``sv.PolygonZone`` says which anchors are inside; per video the block remembers when each
tracker id entered. A detection in the zone gets ``time_in_zone`` = frame time - entry time
(frame time is ``frame_number / fps`` for video files, else the frame timestamp). Leaving the
zone resets the clock when ``reset_out_of_zone_detections``; detections outside are dropped when
``remove_out_of_zone_detections`` (else they carry 0). v3 takes a list of polygons too (inside
any of them is inside). When the zone changes between frames the entry times are kept.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import supervision as sv
from pydantic import Field

from argus.workflows.blocks.analytics.common import (
    AnchorField,
    TrackedDetectionsManifest,
    frame_metadata,
    frame_time,
    parse_polygon,
    parse_polygons,
    position,
    require_tracked,
    subset,
)
from argus.workflows.blocks.base import (
    Block,
    BlockManifest,
    ImageSelector,
    Selector,
    VideoMetadataSelector,
    block_config,
)
from argus.workflows.data import TIME_IN_ZONE_KEY, VideoMetadata, WorkflowImageData
from argus.workflows.kinds import (
    BOOLEAN_KIND,
    LIST_OF_VALUES_KIND,
)

OUTPUT_KEY = "timed_detections"

class _TimeInZoneFields(TrackedDetectionsManifest):
    output_name = OUTPUT_KEY
    image: ImageSelector()  # type: ignore[valid-type]
    zone: list | Selector(kind=[LIST_OF_VALUES_KIND]) = Field(  # type: ignore[valid-type]
        description="The zone polygon [[x1, y1], [x2, y2], [x3, y3], ...] (at least 3 points).")
    triggering_anchor: AnchorField = Field(default="CENTER", description="Box point that must be inside.")
    remove_out_of_zone_detections: bool | Selector(kind=[BOOLEAN_KIND]) = Field(  # type: ignore[valid-type]
        default=True, description="Drop detections outside the zone.")
    reset_out_of_zone_detections: bool | Selector(kind=[BOOLEAN_KIND]) = Field(  # type: ignore[valid-type]
        default=True, description="Restart the clock of objects that leave the zone.")


class TimeInZoneV1Manifest(_TimeInZoneFields):
    """v1: frames identified by a ``WorkflowVideoMetadata`` input."""

    model_config = block_config(name="Time in Zone", category="analytics", version="v1",
                                description="Track duration of time spent by objects in zone.")
    type: Literal["roboflow_core/time_in_zone@v1"]
    metadata: VideoMetadataSelector()  # type: ignore[valid-type]


class TimeInZoneV2Manifest(_TimeInZoneFields):
    """v2: video metadata from the image."""

    model_config = block_config(name="Time in Zone", category="analytics", version="v2",
                                description="Track duration of time spent by objects in zone.")
    type: Literal["roboflow_core/time_in_zone@v2"]


class TimeInZoneV3Manifest(_TimeInZoneFields):
    """v3: ``zone`` is one polygon or a list of polygons; in any of them counts as in the zone."""

    model_config = block_config(name="Time in Zone", category="analytics", version="v3",
                                description="Track object time in zone (one or more polygons).")
    type: Literal["roboflow_core/time_in_zone@v3"]


class _ZoneClock:
    """One video's zones and the entry time of each tracker id inside any of them."""

    def __init__(self) -> None:
        self.entered: dict[int, float] = {}
        self._key: str = ""
        self._zones: list[sv.PolygonZone] = []

    def set_zones(self, polygons: list[np.ndarray], anchor: str) -> None:
        """Use these zones (rebuilt only when they or the anchor change; entry times are kept)."""
        key = repr(([p.tolist() for p in polygons], anchor))
        if key != self._key:
            anchors = (position(anchor),)
            self._zones = [sv.PolygonZone(polygon=p, triggering_anchors=anchors) for p in polygons]
            self._key = key

    def timed(self, detections: sv.Detections, tracker_ids: np.ndarray, now: float, remove_out: bool,
              reset_out: bool) -> sv.Detections:
        inside = np.zeros(len(detections), dtype=bool)
        for zone in self._zones if len(detections) else []:
            inside |= zone.trigger(detections)
        durations = np.zeros(len(detections), dtype=np.float64)
        keep = np.ones(len(detections), dtype=bool)
        for i, (is_in, tracker_id) in enumerate(zip(inside, tracker_ids)):
            tracker_id = int(tracker_id)
            if is_in:
                durations[i] = now - self.entered.setdefault(tracker_id, now)
                continue
            if reset_out or not remove_out:  # the reference restarts the clock of kept outsiders too
                self.entered.pop(tracker_id, None)
            keep[i] = not remove_out
        result = subset(detections, keep)
        result.data[TIME_IN_ZONE_KEY] = durations[keep]
        return result


class _TimeInZoneBase(Block):
    stateful = True

    many_zones = False  # v3: ``zone`` may be a list of polygons (an object is in if it is in any)

    def run(self, image: WorkflowImageData, detections: sv.Detections, zone: Any, triggering_anchor: str,
            remove_out_of_zone_detections: bool, reset_out_of_zone_detections: bool,
            metadata: VideoMetadata | None = None) -> dict[str, Any]:
        """Per video: the ``WorkflowVideoMetadata`` input's (v1), else the image's."""
        metadata = frame_metadata(self, image, metadata)
        tracker_ids = require_tracked(detections, "Time in Zone")
        polygons = parse_polygons(zone) if self.many_zones else [parse_polygon(zone)]
        clock = self.video_state(metadata.video_identifier, _ZoneClock)
        clock.set_zones(polygons, triggering_anchor)
        timed = clock.timed(detections, tracker_ids, frame_time(metadata), bool(remove_out_of_zone_detections),
                            bool(reset_out_of_zone_detections))
        return {OUTPUT_KEY: timed}


class TimeInZoneBlockV1(_TimeInZoneBase):
    """Per ``WorkflowVideoMetadata`` video."""

    manifest_class = TimeInZoneV1Manifest


class TimeInZoneBlockV2(_TimeInZoneBase):
    """Per the image's video."""

    manifest_class: ClassVar[type[BlockManifest]] = TimeInZoneV2Manifest


class TimeInZoneBlockV3(TimeInZoneBlockV2):
    """Per the image's video, over one or more zones."""

    manifest_class = TimeInZoneV3Manifest
    many_zones = True
