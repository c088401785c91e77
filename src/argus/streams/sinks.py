"""Sinks: what to do with each prediction. Every sink takes ``(predictions, video_frames)``.

In a single-source pipeline those are one prediction and one :class:`VideoFrame`; with several
sources they are lists aligned by ``source_id`` (``None`` where a source had no frame). Every sink
here accepts both.

Example:
    >>> writer = VideoFileSink("out.mp4")  # doctest: +SKIP
    >>> buffer = InMemoryBufferSink(queue_size=64)  # doctest: +SKIP
    >>> on_prediction = partial(multi_sink, sinks=[writer.on_prediction, buffer.on_prediction])  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import queue
import socket
import threading
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import supervision as sv

from argus.errors import NotImplementedFeatureError
from argus.streams.entities import VideoFrame

logger = logging.getLogger(__name__)

Sink = Callable[[Any, Any], None]


def pairs(predictions: Any, frames: Any) -> list[tuple[Any, VideoFrame]]:
    """``(prediction, frame)`` pairs from a single call or an aligned batch (``None`` entries skipped)."""
    if isinstance(frames, VideoFrame):
        return [(predictions, frames)]
    return [(p, f) for p, f in zip(predictions, frames) if f is not None]


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, sv.Detections):
        return {"xyxy": value.xyxy.tolist(), "confidence": _plain(value.confidence),
                "class_id": _plain(value.class_id)}
    return value


def serialize_prediction(prediction: Any, excluded_fields: Sequence[str] | None = None) -> Any:
    """JSON-ready form of one prediction: model responses as they are, workflow outputs through the
    workflow engine's serializer (the reference wire shape)."""
    if prediction is None:
        return None
    excluded = set(excluded_fields or ())
    if isinstance(prediction, dict) and any(not _is_json_scalar_tree(v) for v in prediction.values()):
        try:
            from argus.workflows import serialize_outputs

            return serialize_outputs([prediction], excluded_fields=list(excluded) or None)[0]
        except ImportError:
            pass
    if isinstance(prediction, dict):
        return {k: _plain(v) for k, v in prediction.items() if k not in excluded}
    return _plain(prediction)


def _is_json_scalar_tree(value: Any) -> bool:
    if isinstance(value, dict):
        return all(_is_json_scalar_tree(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(_is_json_scalar_tree(v) for v in value)
    return value is None or isinstance(value, (str, int, float, bool))


def detections_of(prediction: Any) -> sv.Detections:
    """``sv.Detections`` from a model response dict or the first detections output of a workflow."""
    if isinstance(prediction, sv.Detections):
        return prediction
    if isinstance(prediction, dict):
        if isinstance(prediction.get("predictions"), list) and "image" in prediction:
            return sv.Detections.from_inference(prediction)
        for value in prediction.values():
            if isinstance(value, sv.Detections):
                return value
    return sv.Detections.empty()


def annotate_frame(prediction: Any, frame: VideoFrame) -> np.ndarray:
    """The frame with boxes and labels drawn (supervision annotators)."""
    detections = detections_of(prediction)
    canvas = sv.BoxAnnotator(thickness=2).annotate(frame.image.copy(), detections)
    if len(detections):
        names = detections.data.get("class_name")
        names = [str(n) for n in names] if names is not None else [""] * len(detections)
        scores = detections.confidence if detections.confidence is not None else [None] * len(detections)
        labels = [f"{name} {score:.2f}" if score is not None else name for name, score in zip(names, scores)]
        canvas = sv.LabelAnnotator(text_scale=0.4, text_padding=3).annotate(canvas, detections, labels=labels)
    return canvas


def display_image(image: np.ndarray, window: str = "argus") -> None:
    """Show a frame in a window (needs an OpenCV build with a GUI; the headless wheel has none)."""
    try:
        cv2.imshow(window, image)
        cv2.waitKey(1)
    except cv2.error as error:
        raise NotImplementedFeatureError(
            "this OpenCV build has no GUI (opencv-python-headless); write frames with VideoFileSink or pass "
            "your own on_frame_rendered") from error


class AnnotatedFramesSink:
    """Annotate each frame and hand it to ``on_frame_rendered(image, frame)`` (display by default)."""

    def __init__(self, on_frame_rendered: Callable[[np.ndarray, VideoFrame], None] | None = None) -> None:
        self._on_frame_rendered = on_frame_rendered or (lambda image, frame: display_image(image))

    def on_prediction(self, predictions: Any, frames: Any) -> None:
        for prediction, frame in pairs(predictions, frames):
            self._on_frame_rendered(annotate_frame(prediction, frame), frame)


def render_boxes(predictions: Any, video_frame: Any,
                 on_frame_rendered: Callable[[np.ndarray, VideoFrame], None] | None = None) -> None:
    """The reference's default sink: draw predictions and display the frame."""
    AnnotatedFramesSink(on_frame_rendered).on_prediction(predictions, video_frame)


class VideoFileSink:
    """Write (annotated) frames to a video file with PyAV; one file per source (``out.source1.mp4`` ...)."""

    def __init__(self, path: str | Path, fps: float | None = None, annotate: bool = True,
                 codec: str = "libx264") -> None:
        self.path = Path(path)
        self._fps = fps
        self._annotate = annotate
        self._codec = codec
        self._writers: dict[int, tuple[Any, Any]] = {}
        self._lock = threading.Lock()
        self.frames_written = 0

    def _path_for(self, source_id: int) -> Path:
        return self.path if source_id == 0 else self.path.with_suffix(f".source{source_id}{self.path.suffix}")

    def _writer(self, frame: VideoFrame, image: np.ndarray) -> tuple[Any, Any]:
        import av

        if frame.source_id not in self._writers:
            fps = self._fps or frame.fps or frame.measured_fps or 25.0
            container = av.open(str(self._path_for(frame.source_id)), mode="w")
            stream = container.add_stream(self._codec, rate=round(fps))
            assert isinstance(stream, av.VideoStream)
            stream.width, stream.height = image.shape[1] - image.shape[1] % 2, image.shape[0] - image.shape[0] % 2
            stream.pix_fmt = "yuv420p"
            if self._codec == "libx264":  # the encoder shares the CPU with the model: its fastest preset
                stream.options = {"preset": "ultrafast", "tune": "zerolatency"}
            self._writers[frame.source_id] = (container, stream)
        return self._writers[frame.source_id]

    def on_prediction(self, predictions: Any, frames: Any) -> None:
        import av

        with self._lock:
            for prediction, frame in pairs(predictions, frames):
                image = annotate_frame(prediction, frame) if self._annotate else frame.image
                container, stream = self._writer(frame, image)
                image = image[:stream.height, :stream.width]
                for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")):
                    container.mux(packet)
                self.frames_written += 1

    def close(self) -> None:
        """Flush and close the files."""
        with self._lock:
            for container, stream in self._writers.values():
                for packet in stream.encode():
                    container.mux(packet)
                container.close()
            self._writers.clear()


def _message(prediction: Any, frame: VideoFrame) -> dict[str, Any]:
    message = serialize_prediction(prediction)
    message = dict(message) if isinstance(message, dict) else {"predictions": message}
    message["inference_metadata"] = {**frame.metadata(), "emission_time": dt.datetime.now().isoformat()}
    return message


class UDPSink:
    """Send each prediction as one JSON datagram (with ``inference_metadata``: frame id, time, source)."""

    def __init__(self, host: str, port: int) -> None:
        self._address = (host, port)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    @classmethod
    def init(cls, ip_address: str, port: int) -> UDPSink:
        """The reference's spelling."""
        return cls(ip_address, port)

    def send_predictions(self, predictions: Any, frames: Any) -> None:
        for prediction, frame in pairs(predictions, frames):
            self._socket.sendto(json.dumps(_message(prediction, frame)).encode(), self._address)

    on_prediction = send_predictions

    def close(self) -> None:
        self._socket.close()


class WebhookSink:
    """POST each prediction as JSON to ``url`` from a background thread (a slow endpoint never stalls
    the pipeline: when ``queue_size`` messages wait, new ones are dropped and counted)."""

    def __init__(self, url: str, timeout: float = 5.0, queue_size: int = 64,
                 headers: dict[str, str] | None = None) -> None:
        import httpx

        self.url = url
        self.dropped = 0
        self.failed = 0
        self.sent = 0
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=queue_size)
        self._client = httpx.Client(timeout=timeout, headers=headers, trust_env=False)
        self._thread = threading.Thread(target=self._run, name="argus-webhook", daemon=True)
        self._thread.start()

    def on_prediction(self, predictions: Any, frames: Any) -> None:
        for prediction, frame in pairs(predictions, frames):
            try:
                self._queue.put_nowait(_message(prediction, frame))
            except queue.Full:
                self.dropped += 1

    def _run(self) -> None:
        while (message := self._queue.get()) is not None:
            try:
                self._client.post(self.url, json=message).raise_for_status()
                self.sent += 1
            except Exception as error:  # noqa: BLE001 - the endpoint's trouble is logged, not raised into the pipeline
                self.failed += 1
                logger.warning("webhook %s failed: %s", self.url, error)

    def close(self, timeout: float = 5.0) -> None:
        """Send what is queued (up to ``timeout``), then stop."""
        self._queue.put(None)
        self._thread.join(timeout)
        self._client.close()


class InMemoryBufferSink:
    """Keep the last ``queue_size`` results for a consumer that polls (the stream manager's sink)."""

    def __init__(self, queue_size: int = 64) -> None:
        self._buffer: deque[tuple[list[Any], list[VideoFrame | None]]] = deque(maxlen=queue_size)
        self._lock = threading.Lock()

    @classmethod
    def init(cls, queue_size: int = 64) -> InMemoryBufferSink:
        """The reference's spelling."""
        return cls(queue_size)

    def on_prediction(self, predictions: Any, frames: Any) -> None:
        if isinstance(frames, VideoFrame):
            predictions, frames = [predictions], [frames]
        with self._lock:
            self._buffer.append((list(predictions), list(frames)))

    def empty(self) -> bool:
        return not self._buffer

    def __len__(self) -> int:
        return len(self._buffer)

    def consume_prediction(self) -> tuple[list[Any], list[VideoFrame | None]]:
        """The oldest entry: predictions and frames of one ``on_prediction`` call."""
        with self._lock:
            return self._buffer.popleft()


def multi_sink(predictions: Any, video_frame: Any, sinks: Sequence[Sink]) -> None:
    """Call every sink; one that raises is logged and the others still run."""
    for sink in sinks:
        try:
            sink(predictions, video_frame)
        except Exception:
            logger.exception("sink %s failed", getattr(sink, "__qualname__", sink))
