"""Frame readers: one per kind of video reference, each a grab / retrieve pair like OpenCV's.

``grab`` advances to the next frame (decoding it: codecs need every frame); ``retrieve`` converts
the grabbed frame to a BGR array, the step a dropped frame skips. PyAV reads files, image
sequences with a printf pattern and network streams; OpenCV opens webcams by index (PyAV's v4l2
input needs a device path and per-platform format names); image folders are read with OpenCV.
"""

from __future__ import annotations

import glob
import logging
import os
from pathlib import Path
from typing import Any, ClassVar, Protocol
from urllib.parse import urlparse

import cv2
import numpy as np

from argus.errors import InvalidInputError
from argus.streams.entities import SourceProperties

logger = logging.getLogger(__name__)

STREAM_SCHEMES = frozenset({"rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "udp", "tcp", "srt", "rtp"})
VIDEO_FILE_SUFFIXES = frozenset({".mp4", ".mkv", ".avi", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".ts", ".flv"})
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
DEFAULT_OPEN_TIMEOUT_S = 5.0
DEFAULT_READ_TIMEOUT_S = 5.0


class FrameReader(Protocol):
    """An opened video source."""

    properties: SourceProperties

    def grab(self) -> bool:
        """Decode the next frame; False at the end of the source."""

    def retrieve(self) -> np.ndarray:
        """The grabbed frame as BGR."""

    def media_time(self) -> float | None:
        """Presentation time (s) of the grabbed frame, when known."""

    def close(self) -> None:
        """Release the source."""


def describe_reference(reference: str | int) -> tuple[str, bool]:
    """``(kind, is_file)`` of a reference: ``webcam``, ``stream``, ``remote_file``, ``folder`` or ``file``.

    Raises:
        InvalidInputError: a local path that does not exist.
    """
    if isinstance(reference, int) or (isinstance(reference, str) and reference.strip().isdigit()):
        return "webcam", False
    if not isinstance(reference, str) or not reference.strip():
        raise InvalidInputError("video_reference must be a path, a stream URL or a webcam index")
    parsed = urlparse(reference)
    scheme = parsed.scheme.lower()
    if scheme in ("http", "https") and Path(parsed.path).suffix.lower() in VIDEO_FILE_SUFFIXES:
        return "remote_file", True  # a video file over HTTP: read once, every frame, no reconnecting
    if scheme in STREAM_SCHEMES:
        return "stream", False
    path = reference[len("file://"):] if scheme == "file" else reference
    if os.path.isdir(path) or any(char in path for char in "*?["):
        return "folder", True
    if "%" in path and os.path.isdir(os.path.dirname(path) or "."):
        return "file", True  # printf image-sequence pattern (img_%04d.png), FFmpeg's image2 demuxer
    if not os.path.isfile(path):
        raise InvalidInputError(f"video file not found: {path!r} (give a path, a stream URL such as "
                                "rtsp://host/path, or a webcam index)")
    return "file", True


def open_reader(reference: str | int, properties: dict[str, Any] | None = None,
                open_timeout: float = DEFAULT_OPEN_TIMEOUT_S, read_timeout: float = DEFAULT_READ_TIMEOUT_S
                ) -> FrameReader:
    """Open ``reference`` (blocks while connecting; network calls are bounded by the timeouts)."""
    kind, _ = describe_reference(reference)
    if kind == "webcam":
        return OpenCVCaptureReader(int(reference), properties or {})
    if kind == "folder":
        return ImageFolderReader(str(reference), properties or {})
    path = str(reference)
    path = path.removeprefix("file://")
    return PyAVReader(path, is_stream=kind == "stream", properties=properties or {},
                      open_timeout=open_timeout, read_timeout=read_timeout)


class PyAVReader:
    """Files, image sequences and network streams through PyAV (FFmpeg)."""

    def __init__(self, reference: str, *, is_stream: bool, properties: dict[str, Any],
                 open_timeout: float, read_timeout: float) -> None:
        import av

        options: dict[str, str] = {}
        if is_stream:
            scheme = urlparse(reference).scheme.lower()
            if scheme.startswith("rtsp"):
                options["rtsp_transport"] = str(properties.get("rtsp_transport", "tcp"))
            options["fflags"] = "nobuffer"
        self._container = av.open(reference, options=options, timeout=(open_timeout, read_timeout))
        try:
            if not self._container.streams.video:
                raise InvalidInputError(f"{reference!r} has no video stream")
            stream = self._container.streams.video[0]
            stream.thread_type = "AUTO"
            self._frames = self._container.decode(stream)
            fps = float(stream.average_rate or stream.guessed_rate or 0.0)
            self.properties = SourceProperties(
                width=int(stream.codec_context.width), height=int(stream.codec_context.height),
                total_frames=int(stream.frames or 0), is_file=not is_stream, fps=fps,
                is_reconnectable=is_stream)
        except BaseException:
            self._container.close()
            raise
        self._frame: Any = None

    def grab(self) -> bool:
        import av

        try:
            self._frame = next(self._frames)
        except (StopIteration, av.error.EOFError):
            return False
        return True

    def retrieve(self) -> np.ndarray:
        return self._frame.to_ndarray(format="bgr24")  # type: ignore[no-any-return]

    def media_time(self) -> float | None:
        time = getattr(self._frame, "time", None)
        return None if time is None else float(time)

    def close(self) -> None:
        try:
            self._container.close()
        except Exception:  # closing a broken connection may raise; nothing to do about it
            logger.debug("closing the container failed", exc_info=True)


class OpenCVCaptureReader:
    """A webcam by index through OpenCV (``video_source_properties``: frame_width, frame_height, fps)."""

    _PROPS: ClassVar[dict[str, int]] = {"frame_width": cv2.CAP_PROP_FRAME_WIDTH, "frame_height": cv2.CAP_PROP_FRAME_HEIGHT,
              "fps": cv2.CAP_PROP_FPS}

    def __init__(self, index: int, properties: dict[str, Any]) -> None:
        self._capture = cv2.VideoCapture(index)
        if not self._capture.isOpened():
            self._capture.release()
            raise ConnectionError(f"cannot open webcam {index}")
        for name, value in properties.items():
            if name in self._PROPS:
                self._capture.set(self._PROPS[name], float(value))
        self.properties = SourceProperties(
            width=int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            height=int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            total_frames=0, is_file=False, fps=float(self._capture.get(cv2.CAP_PROP_FPS) or 0.0),
            is_reconnectable=True)

    def grab(self) -> bool:
        return bool(self._capture.grab())

    def retrieve(self) -> np.ndarray:
        ok, frame = self._capture.retrieve()
        if not ok:
            raise ConnectionError("the webcam returned no frame")
        return frame  # type: ignore[no-any-return]

    def media_time(self) -> float | None:
        return None

    def close(self) -> None:
        self._capture.release()


class ImageFolderReader:
    """Images of a folder (or a glob pattern) in name order; ``fps`` from ``video_source_properties``."""

    def __init__(self, reference: str, properties: dict[str, Any]) -> None:
        pattern = os.path.join(reference, "*") if os.path.isdir(reference) else reference
        self._paths = [p for p in sorted(glob.glob(pattern)) if Path(p).suffix.lower() in IMAGE_SUFFIXES]
        if not self._paths:
            raise InvalidInputError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) under {reference!r}")
        first = cv2.imread(self._paths[0], cv2.IMREAD_COLOR)
        if first is None:
            raise InvalidInputError(f"cannot read image {self._paths[0]!r}")
        self._fps = float(properties.get("fps", 0.0))
        self.properties = SourceProperties(width=first.shape[1], height=first.shape[0],
                                           total_frames=len(self._paths), is_file=True, fps=self._fps,
                                           is_reconnectable=False)
        self._index = -1

    def grab(self) -> bool:
        self._index += 1
        return self._index < len(self._paths)

    def retrieve(self) -> np.ndarray:
        image = cv2.imread(self._paths[self._index], cv2.IMREAD_COLOR)
        if image is None:
            raise InvalidInputError(f"cannot read image {self._paths[self._index]!r}")
        return image  # type: ignore[no-any-return]

    def media_time(self) -> float | None:
        return self._index / self._fps if self._fps > 0 else None

    def close(self) -> None:
        self._paths = []
