"""Helpers the analytics blocks share: which video a frame is from, its time, geometry checks.

Example:
    >>> parse_points([[0, 10], [50, 10]], field="line_segment", exactly=2)
    [(0.0, 10.0), (50.0, 10.0)]
    >>> frame_time(VideoMetadata(frame_number=30, fps=15.0, comes_from_video_file=True))
    2.0
"""

from __future__ import annotations

import time
from typing import Any, ClassVar, Literal, cast

import numpy as np
import supervision as sv
from pydantic import Field

from argus.errors import InvalidInputError
from argus.workflows.blocks.base import Block, BlockManifest, OutputDefinition, Selector
from argus.workflows.data import VideoMetadata, WorkflowImageData
from argus.workflows.kinds import BOX_DETECTION_KINDS, STRING_KIND

POSITIONS = tuple(sv.Position.list())
AnchorField = Literal[POSITIONS] | Selector(kind=[STRING_KIND])  # type: ignore[valid-type]
BOX_KINDS = list(BOX_DETECTION_KINDS)


class TrackedDetectionsManifest(BlockManifest):
    """Fields of blocks that read tracked boxes; their one output (``output_name``) is detections too."""

    output_name: ClassVar[str] = ""
    detections: Selector(kind=BOX_KINDS) = Field(  # type: ignore[valid-type]
        description="Tracked detections (from a Byte Tracker step).")

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name=cls.output_name, kind=BOX_KINDS)]


def frame_metadata(block: Block, image: WorkflowImageData | None = None,
                   metadata: VideoMetadata | None = None) -> VideoMetadata:
    """The video metadata of the frame being processed.

    An explicit ``WorkflowVideoMetadata`` input wins; then the image's own metadata when it carries
    any; then what the engine recorded for the element (``default`` video when nothing is known).
    """
    if metadata is not None:
        return metadata
    if image is not None and image.video_metadata != VideoMetadata():
        return image.video_metadata
    return block.element.video_metadata


def frame_time(metadata: VideoMetadata) -> float:
    """Seconds of the frame: ``frame_number / fps`` for video files, else its timestamp (else now)."""
    if metadata.comes_from_video_file and metadata.fps:
        return metadata.frame_number / metadata.fps
    if metadata.frame_timestamp is not None:
        return float(metadata.frame_timestamp)
    if metadata.fps:
        return metadata.frame_number / metadata.fps
    return time.time()


def subset(detections: sv.Detections, index: Any) -> sv.Detections:
    """``detections[index]`` for an index array or mask (a copy), typed as detections."""
    return cast(sv.Detections, detections[index])


def require_tracked(detections: sv.Detections, block_name: str) -> np.ndarray:
    """The detections' tracker ids; refuses detections without them (they must come through a tracker first)."""
    if detections.tracker_id is None:
        raise InvalidInputError(
            f"{block_name} needs tracked detections (with tracker_id): put a Byte Tracker step "
            "(roboflow_core/byte_tracker@v3) before it and pass its tracked_detections."
        )
    return detections.tracker_id


def parse_points(value: Any, field: str, exactly: int | None = None, at_least: int | None = None
                 ) -> list[tuple[float, float]]:
    """``[[x, y], ...]`` as float pairs, checked; the message names ``field`` and the expected shape."""
    shape = f"exactly {exactly}" if exactly is not None else f"at least {at_least}"
    if not isinstance(value, (list, tuple)):
        raise InvalidInputError(f"{field} must be a list of {shape} [x, y] points, got {type(value).__name__}.")
    points: list[tuple[float, float]] = []
    for point in value:
        if (not isinstance(point, (list, tuple)) or len(point) != 2
                or not all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in point)):
            raise InvalidInputError(f"{field} must be a list of [x, y] points with numeric coordinates; "
                                    f"got the point {point!r}.")
        points.append((float(point[0]), float(point[1])))
    if (exactly is not None and len(points) != exactly) or (at_least is not None and len(points) < at_least):
        raise InvalidInputError(f"{field} must have {shape} points, it has {len(points)}.")
    return points


def parse_polygon(value: Any, field: str = "zone") -> np.ndarray:
    """One polygon ``[[x, y], ...]`` of at least 3 points, rounded to a (K, 2) int64 array."""
    return np.array(parse_points(value, field, at_least=3)).round().astype(np.int64)


def parse_polygons(value: Any, field: str = "zone") -> list[np.ndarray]:
    """One polygon ``[[x, y], ...]`` or a list of them, as (K, 2) int64 arrays of at least 3 points.

    Example:
        >>> [p.shape for p in parse_polygons([[[0, 0], [4, 0], [4, 4]], [[9, 9], [12, 9], [9, 12]]])]
        [(3, 2), (3, 2)]
    """
    nested = (isinstance(value, (list, tuple)) and bool(value) and isinstance(value[0], (list, tuple))
              and bool(value[0]) and isinstance(value[0][0], (list, tuple)))
    shapes = value if nested else [value]
    return [parse_polygon(shape, field) for shape in shapes]


def position(name: str, field: str = "triggering_anchor") -> sv.Position:
    """The ``sv.Position`` called ``name``; a clear error listing the choices otherwise."""
    try:
        return sv.Position(name)
    except ValueError:
        raise InvalidInputError(f"{field} must be one of {', '.join(POSITIONS)}; got {name!r}.") from None
