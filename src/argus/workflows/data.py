"""The data blocks exchange: images with their lineage, video metadata, and ``sv.Detections`` keys.

Images travel as :class:`WorkflowImageData`: a BGR numpy image, the metadata of its parent (the
image it was cut from and where) and of its root ancestor (the workflow input it descends from),
and the video metadata of the frame. Detections travel as ``supervision.Detections`` carrying, in
``data``, the same fields as the reference (``class_name``, ``detection_id``, ``parent_id``,
``image_dimensions`` ...); :func:`detections_from_result` builds them from a model result.

Example:
    >>> import numpy as np
    >>> image = WorkflowImageData.root(np.zeros((40, 60, 3), np.uint8), parent_id="image")
    >>> crop = image.crop(10, 5, 30, 25, crop_id="det-1")
    >>> (crop.numpy_image.shape, crop.parent_metadata.origin_coordinates.left_top_x)
    ((20, 20, 3), 10)
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, cast

import numpy as np

if TYPE_CHECKING:
    import supervision as sv

    from argus.core.predictions import DetectionResult

# Keys of ``sv.Detections.data`` (the reference's names).
CLASS_NAME_KEY = "class_name"
DETECTION_ID_KEY = "detection_id"
PARENT_ID_KEY = "parent_id"
ROOT_PARENT_ID_KEY = "root_parent_id"
INFERENCE_ID_KEY = "inference_id"
PREDICTION_TYPE_KEY = "prediction_type"
IMAGE_DIMENSIONS_KEY = "image_dimensions"  # (N, 2): height, width of the image the boxes are on
PARENT_COORDINATES_KEY = "parent_coordinates"  # (N, 2): x, y of that image inside its parent
PARENT_DIMENSIONS_KEY = "parent_dimensions"  # (N, 2): height, width of the parent
ROOT_PARENT_COORDINATES_KEY = "root_parent_coordinates"
ROOT_PARENT_DIMENSIONS_KEY = "root_parent_dimensions"
KEYPOINTS_XY_KEY = "keypoints_xy"
KEYPOINTS_CONFIDENCE_KEY = "keypoints_confidence"
KEYPOINTS_CLASS_NAME_KEY = "keypoints_class_name"
KEYPOINTS_CLASS_ID_KEY = "keypoints_class_id"
POLYGON_KEY = "polygon"
TIME_IN_ZONE_KEY = "time_in_zone"
PATH_DEVIATION_KEY = "path_deviation"
VELOCITY_KEY = "velocity"
SPEED_KEY = "speed"
SMOOTHED_VELOCITY_KEY = "smoothed_velocity"
SMOOTHED_SPEED_KEY = "smoothed_speed"
DEFAULT_VIDEO_IDENTIFIER = "default"


@dataclass(frozen=True)
class OriginCoordinates:
    """Where an image sits inside another: top-left offset and the size of the other image."""

    left_top_x: int
    left_top_y: int
    origin_width: int
    origin_height: int

    def origin(self) -> dict[str, int]:
        """As the reference's ``parent_origin`` JSON."""
        return {"offset_x": self.left_top_x, "offset_y": self.left_top_y,
                "width": self.origin_width, "height": self.origin_height}


@dataclass(frozen=True)
class ImageParentMetadata:
    """The id of an image's parent and the image's place in it."""

    parent_id: str
    origin_coordinates: OriginCoordinates


@dataclass(frozen=True)
class VideoMetadata:
    """Where a frame comes from; stateful blocks key their state by ``video_identifier``."""

    video_identifier: str = DEFAULT_VIDEO_IDENTIFIER
    frame_number: int = 0
    frame_timestamp: float | None = None
    fps: float | None = None
    measured_fps: float | None = None
    comes_from_video_file: bool | None = None
    total_frames: int | None = None

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> VideoMetadata:
        """From the request JSON; unknown keys are ignored, the timestamp may be a number or ISO text."""
        known = {key: value[key] for key in cls.__dataclass_fields__ if key in value and value[key] is not None}
        stamp = known.get("frame_timestamp")
        if isinstance(stamp, str):
            from datetime import datetime

            known["frame_timestamp"] = datetime.fromisoformat(stamp).timestamp()
        if "video_identifier" in known:
            known["video_identifier"] = str(known["video_identifier"])
        return cls(**known)

    def to_dict(self) -> dict[str, Any]:
        """As the reference serialises it."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True, eq=False)
class WorkflowImageData:
    """An image in a workflow: pixels (BGR, HxWx3 uint8) plus lineage and video metadata."""

    numpy_image: np.ndarray
    parent_metadata: ImageParentMetadata
    workflow_root_ancestor_metadata: ImageParentMetadata
    video_metadata: VideoMetadata = field(default_factory=VideoMetadata)

    @classmethod
    def root(cls, image: np.ndarray, parent_id: str = "image",
             video_metadata: VideoMetadata | None = None) -> WorkflowImageData:
        """A workflow input image (its own root)."""
        height, width = image.shape[:2]
        meta = ImageParentMetadata(parent_id, OriginCoordinates(0, 0, width, height))
        return cls(image, meta, meta, video_metadata or VideoMetadata())

    @property
    def height(self) -> int:
        """Rows."""
        return int(self.numpy_image.shape[0])

    @property
    def width(self) -> int:
        """Columns."""
        return int(self.numpy_image.shape[1])

    @property
    def base64_image(self) -> str:
        """JPEG bytes, base64 encoded (the wire form of image outputs)."""
        from argus.core.images import encode_jpeg

        return base64.b64encode(encode_jpeg(self.numpy_image)).decode("ascii")

    def is_root(self) -> bool:
        """Whether this is a workflow input rather than a crop of one."""
        return self.parent_metadata.parent_id == self.workflow_root_ancestor_metadata.parent_id

    def crop(self, x1: int, y1: int, x2: int, y2: int, crop_id: str) -> WorkflowImageData:
        """The region ``[x1, x2) x [y1, y2)`` (clipped to the image) as a child image named ``crop_id``."""
        x1, x2 = _span(x1, x2, self.width)
        y1, y2 = _span(y1, y2, self.height)
        return self.child(self.numpy_image[y1:y2, x1:x2].copy(), crop_id, x1, y1)

    def child(self, image: np.ndarray, child_id: str, offset_x: int = 0, offset_y: int = 0) -> WorkflowImageData:
        """A new image derived from this one, placed at ``(offset_x, offset_y)`` in it."""
        parent = ImageParentMetadata(child_id, OriginCoordinates(offset_x, offset_y, self.width, self.height))
        root_origin = self.workflow_root_ancestor_metadata.origin_coordinates
        base_x, base_y = (0, 0) if self.is_root() else (root_origin.left_top_x, root_origin.left_top_y)
        root = ImageParentMetadata(
            self.workflow_root_ancestor_metadata.parent_id,
            OriginCoordinates(base_x + offset_x, base_y + offset_y, root_origin.origin_width,
                              root_origin.origin_height),
        )
        return WorkflowImageData(image, parent, root, self.video_metadata)

    def with_image(self, image: np.ndarray) -> WorkflowImageData:
        """The same lineage with other pixels (for blocks that draw on or filter an image)."""
        return replace(self, numpy_image=image)


def _span(start: float, end: float, size: int) -> tuple[int, int]:
    """``[start, end)`` clipped to ``[0, size)``, at least one pixel wide (a box on the edge still crops)."""
    low, high = sorted((max(0, min(int(start), size)), max(0, min(int(end), size))))
    if high <= low:
        low, high = min(low, size - 1), min(low, size - 1) + 1
    return max(0, low), max(1, high)


def pick(detections: sv.Detections, index: Any) -> sv.Detections:
    """``detections[index]`` typed as Detections (a mask, index array or slice; supervision types it loosely)."""
    return cast("sv.Detections", detections[index])


def copy_detections(detections: sv.Detections) -> sv.Detections:
    """A copy whose arrays can be changed without touching ``detections``."""
    return pick(detections, np.arange(len(detections)))


def detections_from_result(result: DetectionResult, image: WorkflowImageData, prediction_type: str
                           ) -> sv.Detections:
    """A model's detections on ``image`` as ``sv.Detections`` with the reference's ``data`` fields."""
    detections = result.detections.to_supervision()
    attach_lineage(detections, image)
    n = len(detections)
    detections.data[INFERENCE_ID_KEY] = np.array([result.inference_id] * n, dtype=object)
    detections.data[PREDICTION_TYPE_KEY] = np.array([prediction_type] * n, dtype=object)
    dets = result.detections
    if dets.keypoints is not None:
        detections.data.pop("keypoints", None)
        detections.data.pop("keypoint_confidence", None)
        k = dets.keypoints.shape[1]
        names = [dets.keypoint_names[i] if i < len(dets.keypoint_names) else str(i) for i in range(k)]
        detections.data[KEYPOINTS_XY_KEY] = object_rows([row for row in dets.keypoints.astype(np.float64)])
        confidence = dets.keypoint_confidence if dets.keypoint_confidence is not None else np.ones((n, k))
        detections.data[KEYPOINTS_CONFIDENCE_KEY] = object_rows([row for row in confidence.astype(np.float64)])
        detections.data[KEYPOINTS_CLASS_NAME_KEY] = object_rows([np.array(names, dtype=object)] * n)
        detections.data[KEYPOINTS_CLASS_ID_KEY] = object_rows([np.arange(k)] * n)
    if dets.polygons is not None:
        detections.data[POLYGON_KEY] = object_rows([np.asarray(p, dtype=np.float64) for p in dets.polygons])
    return detections


def object_rows(rows: list[np.ndarray]) -> np.ndarray:
    """An (N,) object array of per-detection arrays (so supervision can index and merge it)."""
    out = np.empty(len(rows), dtype=object)
    for i, row in enumerate(rows):
        out[i] = row
    return out


def attach_lineage(detections: sv.Detections, image: WorkflowImageData) -> sv.Detections:
    """Set ``parent_id``, ``image_dimensions`` and parent/root coordinates of ``detections`` made on ``image``."""
    n = len(detections)
    parent = image.parent_metadata
    root = image.workflow_root_ancestor_metadata
    detections.data[PARENT_ID_KEY] = np.array([parent.parent_id] * n, dtype=object)
    detections.data[ROOT_PARENT_ID_KEY] = np.array([root.parent_id] * n, dtype=object)
    detections.data[IMAGE_DIMENSIONS_KEY] = np.array([[image.height, image.width]] * n, dtype=int).reshape(n, 2)
    origin = parent.origin_coordinates
    detections.data[PARENT_COORDINATES_KEY] = np.array([[origin.left_top_x, origin.left_top_y]] * n,
                                                       dtype=int).reshape(n, 2)
    detections.data[PARENT_DIMENSIONS_KEY] = np.array([[origin.origin_height, origin.origin_width]] * n,
                                                      dtype=int).reshape(n, 2)
    root_origin = root.origin_coordinates
    detections.data[ROOT_PARENT_COORDINATES_KEY] = np.array([[root_origin.left_top_x, root_origin.left_top_y]] * n,
                                                            dtype=int).reshape(n, 2)
    detections.data[ROOT_PARENT_DIMENSIONS_KEY] = np.array(
        [[root_origin.origin_height, root_origin.origin_width]] * n, dtype=int).reshape(n, 2)
    if DETECTION_ID_KEY not in detections.data:
        detections.data[DETECTION_ID_KEY] = np.array([str(uuid.uuid4()) for _ in range(n)], dtype=object)
    return detections
