"""Path Deviation (``roboflow_core/path_deviation_analytics@v1|v2``): Fréchet distance to a reference path.

Per video and tracker id the block accumulates the anchor points of the object; each detection
gets ``path_deviation``, the discrete Fréchet distance between that trajectory and
``reference_path`` (pixels). Neither supervision nor numpy/scipy computes a discrete Fréchet
distance, so it is written here: the Eiter–Mannila dynamic programme, row by row (iterative,
where the reference recursed and could hit Python's recursion limit on long tracks).
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
    parse_points,
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
from argus.workflows.data import PATH_DEVIATION_KEY, VideoMetadata, WorkflowImageData
from argus.workflows.kinds import (
    LIST_OF_VALUES_KIND,
)

OUTPUT_KEY = "path_deviation_detections"


def frechet_distance(path: np.ndarray, reference: np.ndarray) -> float:
    """Discrete Fréchet distance between two polylines given as (N, 2) and (M, 2) arrays.

    Example:
        >>> frechet_distance(np.array([[0, 1], [1, 1], [2, 1]]), np.array([[0, 0], [2, 0]]))
        1.4142135623730951
    """
    distances = np.linalg.norm(path[:, None, :] - reference[None, :, :], axis=2)
    row = np.maximum.accumulate(distances[0])
    for i in range(1, len(path)):
        current = np.empty_like(row)
        current[0] = max(row[0], distances[i, 0])
        for j in range(1, len(reference)):
            current[j] = max(min(row[j], row[j - 1], current[j - 1]), distances[i, j])
        row = current
    return float(row[-1])


class _PathDeviationFields(TrackedDetectionsManifest):
    output_name = OUTPUT_KEY
    triggering_anchor: AnchorField = Field(default="CENTER", description="Box point whose path is followed.")
    reference_path: list | Selector(kind=[LIST_OF_VALUES_KIND]) = Field(  # type: ignore[valid-type]
        description="The expected path [[x1, y1], [x2, y2], ...] (at least 2 points).")


class PathDeviationV1Manifest(_PathDeviationFields):
    """v1: frames identified by a ``WorkflowVideoMetadata`` input."""

    model_config = block_config(name="Path Deviation", category="analytics", version="v1",
                                description="Calculate Fréchet distance of object from the reference path.")
    type: Literal["roboflow_core/path_deviation_analytics@v1"]
    metadata: VideoMetadataSelector()  # type: ignore[valid-type]


class PathDeviationV2Manifest(_PathDeviationFields):
    """v2: video metadata from the image."""

    model_config = block_config(name="Path Deviation", category="analytics", version="v2",
                                description="Calculate Fréchet distance of object from the reference path.")
    type: Literal["roboflow_core/path_deviation_analytics@v2"]
    image: ImageSelector()  # type: ignore[valid-type]


class PathDeviationBlockV1(Block):
    """Per video: the ``WorkflowVideoMetadata`` input's (v1) or the image's (v2)."""

    manifest_class: ClassVar[type[BlockManifest]] = PathDeviationV1Manifest
    stateful = True

    def run(self, detections: sv.Detections, triggering_anchor: str = "CENTER", reference_path: Any = None,
            image: WorkflowImageData | None = None, metadata: VideoMetadata | None = None) -> dict[str, Any]:
        metadata = frame_metadata(self, image, metadata)
        tracker_ids = require_tracked(detections, "Path Deviation")
        reference = np.array(parse_points(reference_path, "reference_path", at_least=2))
        paths: dict[int, list[np.ndarray]] = self.video_state(metadata.video_identifier, dict)
        anchors = detections.get_anchors_coordinates(position(triggering_anchor)).astype(np.float64)
        deviation = np.zeros(len(detections), dtype=np.float64)
        for i, tracker_id in enumerate(int(t) for t in tracker_ids):
            path = paths.setdefault(tracker_id, [])
            path.append(anchors[i])
            deviation[i] = frechet_distance(np.array(path), reference)
        result = subset(detections, np.arange(len(detections)))
        result.data[PATH_DEVIATION_KEY] = deviation
        return {OUTPUT_KEY: result}


class PathDeviationBlockV2(PathDeviationBlockV1):
    """Per the image's video."""

    manifest_class = PathDeviationV2Manifest
