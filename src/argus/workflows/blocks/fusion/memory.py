# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Blocks that remember across frames: Buffer, Frame Delay, Image Stack, Cache Set and Cache Get.

As in the reference, except where memory is concerned:

- every store is bounded (the buffer's length, 256 frames of delay, 64 stacked frames, 1,024 cache keys per video
  and 64 videos), so a stream cannot grow a step's memory without end;
- the cache lives with the compiled workflow, shared by its ``cache_set`` and ``cache_get`` steps. The
  reference's is one dictionary for the whole process, so any workflow (another tenant's too) could read what
  another wrote under the same video name; Argus's cannot.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Literal

import cv2
import numpy as np
from cachetools import LRUCache
from pydantic import Field, field_validator

from argus.core.images import encode_jpeg
from argus.errors import InvalidInputError
from argus.workflows.blocks.base import Block, BlockManifest, ImageSelector, OutputDefinition, Selector, block_config
from argus.workflows.data import WorkflowImageData
from argus.workflows.kinds import (
    BOOLEAN_KIND,
    DETECTION_KINDS,
    IMAGE_KIND,
    INTEGER_KIND,
    LIST_OF_VALUES_KIND,
    STRING_KIND,
    WILDCARD_KIND,
)

MAX_BUFFER_LENGTH = 1_000
MAX_FRAME_DELAY = 256
MAX_TRACKED_VIDEOS = 16
MAX_STACK_SIZE = 64
MAX_STACK_WIDTH, MAX_STACK_HEIGHT = 1920, 1080
STACK_JPEG_QUALITY = 75
CACHE_KEYS_PER_VIDEO = 1_024
CACHE_VIDEOS = 64


def _video(image: Any) -> tuple[str, int]:
    metadata = image.video_metadata if isinstance(image, WorkflowImageData) else None
    if metadata is None:
        raise InvalidInputError("'image' must be an image (its video metadata keys the state)")
    return metadata.video_identifier or "default", metadata.frame_number


class BufferManifest(BlockManifest):
    model_config = block_config(name="Buffer", category="fusion",
                                description="Keep the last N values, newest first.")
    type: Literal["roboflow_core/buffer@v1", "Buffer"]
    data: Selector(kind=[WILDCARD_KIND, LIST_OF_VALUES_KIND, IMAGE_KIND])
    length: int = Field(ge=1, le=MAX_BUFFER_LENGTH)
    pad: bool = False

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="output", kind=[LIST_OF_VALUES_KIND])]


class BufferBlockV1(Block):
    manifest_class = BufferManifest
    stateful = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._values: deque[Any] = deque()

    def run(self, data: Any, length: int, pad: bool = False) -> dict[str, Any]:
        self._values.appendleft(data)
        while len(self._values) > length:
            self._values.pop()
        values = list(self._values)
        return {"output": values + [None] * (length - len(values)) if pad else values}


class FrameDelayManifest(BlockManifest):
    model_config = block_config(name="Frame Delay", category="fusion",
                                description="The value a step had some frames ago.")
    type: Literal["roboflow_core/frame_delay@v1", "FrameDelay", "roboflow_core/time_travel@v1", "TimeTravel"]
    image: Selector(kind=[IMAGE_KIND])
    data: Selector(kind=[WILDCARD_KIND, LIST_OF_VALUES_KIND, IMAGE_KIND, *DETECTION_KINDS])
    offset: int | Selector(kind=[INTEGER_KIND])
    default_value: bool | int | float | str | None = None

    @field_validator("offset")
    @classmethod
    def _past_and_bounded(cls, value: Any) -> Any:
        problem = _offset_problem(value) if isinstance(value, int) else None
        if problem:
            raise ValueError(problem)
        return value

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="output", kind=[WILDCARD_KIND]),
                OutputDefinition(name="is_available", kind=[BOOLEAN_KIND]),
                OutputDefinition(name="reference_frame_number", kind=[INTEGER_KIND])]


def _offset_problem(offset: int) -> str | None:
    if offset > 0:
        return f"'offset' must be 0 or negative (a past frame), not {offset}"
    if offset < -MAX_FRAME_DELAY:
        return f"'offset' may reach back at most {MAX_FRAME_DELAY} frames, not {-offset}"
    return None


@dataclass
class _DelayedFrames:
    """One video's recent values by frame number, and how far back any step has asked."""

    values: OrderedDict[int, Any] = field(default_factory=OrderedDict)
    reach: int = 0


class FrameDelayBlockV1(Block):
    manifest_class = FrameDelayManifest
    stateful = True
    max_videos = MAX_TRACKED_VIDEOS

    def run(self, image: Any, data: Any, offset: int, default_value: Any = None) -> dict[str, Any]:
        offset = int(offset)
        problem = _offset_problem(offset)
        if problem:
            raise InvalidInputError(problem)
        video, frame = _video(image)
        delayed: _DelayedFrames = self.video_state(video, _DelayedFrames)
        frames = delayed.values
        if frames and frame < next(reversed(frames)):  # the video restarted
            frames.clear()
            delayed.reach = 0
        delayed.reach = max(delayed.reach, -offset)
        frames[frame] = data
        available = frame + offset in frames
        value = frames[frame + offset] if available else default_value
        while frames and next(iter(frames)) < frame - delayed.reach:
            frames.popitem(last=False)
        return {"output": value, "is_available": available, "reference_frame_number": frame}


class ImageStackManifest(BlockManifest):
    model_config = block_config(name="Image Stack", category="fusion",
                                description="The last N frames as JPEG bytes, newest first.")
    type: Literal["roboflow_core/image_stack@v1"]
    image: Selector(kind=[IMAGE_KIND])
    stack_size: int | Selector(kind=[INTEGER_KIND]) = Field(default=10)
    resolution_width: int | Selector(kind=[INTEGER_KIND]) = MAX_STACK_WIDTH
    resolution_height: int | Selector(kind=[INTEGER_KIND]) = MAX_STACK_HEIGHT
    clear: bool | Selector(kind=[BOOLEAN_KIND]) = False

    @field_validator("stack_size", "resolution_width", "resolution_height")
    @classmethod
    def _in_range(cls, value: Any, info: Any) -> Any:
        low, high = {"stack_size": (1, MAX_STACK_SIZE), "resolution_width": (64, MAX_STACK_WIDTH),
                     "resolution_height": (64, MAX_STACK_HEIGHT)}[info.field_name]
        if isinstance(value, int) and not low <= value <= high:
            raise ValueError(f"'{info.field_name}' must be between {low} and {high}")
        return value

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="frames", kind=[LIST_OF_VALUES_KIND]),
                OutputDefinition(name="frames_count", kind=[INTEGER_KIND])]


class ImageStackBlockV1(Block):
    manifest_class = ImageStackManifest
    stateful = True

    def run(self, image: Any, stack_size: int = 10, resolution_width: int = MAX_STACK_WIDTH,
            resolution_height: int = MAX_STACK_HEIGHT, clear: bool = False) -> dict[str, Any]:
        size = max(1, min(int(stack_size), MAX_STACK_SIZE))
        width = max(64, min(int(resolution_width), MAX_STACK_WIDTH))
        height = max(64, min(int(resolution_height), MAX_STACK_HEIGHT))
        video, _ = _video(image)
        holder: dict[str, deque[bytes]] = self.video_state(video, lambda: {"frames": deque(maxlen=size)})
        if holder["frames"].maxlen != size:
            holder["frames"] = deque(holder["frames"], maxlen=size)
        if clear:
            holder["frames"].clear()
        holder["frames"].appendleft(encode_jpeg(_fit(image.numpy_image, width, height), STACK_JPEG_QUALITY))
        return {"frames": list(holder["frames"]), "frames_count": len(holder["frames"])}


def _fit(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    h, w = pixels.shape[:2]
    if w <= width and h <= height:
        return pixels
    scale = min(width / w, height / h)
    return cv2.resize(pixels, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_AREA)


class _WorkflowCache:
    """Key → value per video, shared by one compiled workflow's cache steps; LRU-bounded on both levels."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.videos: LRUCache[str, LRUCache[str, Any]] = LRUCache(maxsize=CACHE_VIDEOS)

    def for_video(self, video: str) -> LRUCache[str, Any]:
        store = self.videos.get(video)
        if store is None:
            store = self.videos[video] = LRUCache(maxsize=CACHE_KEYS_PER_VIDEO)
        return store


def _workflow_cache(block: Block) -> _WorkflowCache:
    cache: _WorkflowCache = block.context.extras.setdefault("workflow_memory_cache", _WorkflowCache())
    return cache


class CacheSetManifest(BlockManifest):
    model_config = block_config(name="Cache Set", category="fusion",
                                description="Remember a value under a key, for this video.")
    type: Literal["roboflow_core/cache_set@v1"]
    image: ImageSelector()
    key: Selector(kind=[STRING_KIND]) | str
    value: Selector(kind=[WILDCARD_KIND, LIST_OF_VALUES_KIND])

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="output", kind=[WILDCARD_KIND])]


class CacheSetBlockV1(Block):
    manifest_class = CacheSetManifest
    stateful = True

    def run(self, image: Any, key: str, value: Any) -> dict[str, Any]:
        cache = _workflow_cache(self)
        with cache.lock:
            cache.for_video(_video(image)[0])[str(key)] = value
        return {"output": value}


class CacheGetManifest(BlockManifest):
    model_config = block_config(name="Cache Get", category="fusion",
                                description="The value remembered under a key for this video (false if none).")
    type: Literal["roboflow_core/cache_get@v1"]
    image: ImageSelector()
    key: Selector(kind=[STRING_KIND]) | str

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="output", kind=[WILDCARD_KIND])]


class CacheGetBlockV1(Block):
    manifest_class = CacheGetManifest
    stateful = True

    def run(self, image: Any, key: str) -> dict[str, Any]:
        cache = _workflow_cache(self)
        with cache.lock:
            return {"output": cache.for_video(_video(image)[0]).get(str(key), False)}
