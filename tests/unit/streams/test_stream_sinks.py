"""Sinks against real receivers: a video file read back, a UDP socket, an HTTP server, the buffer."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import supervision as sv
from stream_videos import count_frames, moving_square, square_x

from argus.streams import (
    InMemoryBufferSink,
    UDPSink,
    VideoFileSink,
    VideoFrame,
    WebhookSink,
)
from argus.streams.sinks import annotate_frame, serialize_prediction

# A model response with one box around the square of frame 0 (centre 10, 50; 20 x 20).
RESPONSE = {"image": {"width": 160, "height": 120}, "predictions": [
    {"x": 10.0, "y": 50.0, "width": 20.0, "height": 20.0, "confidence": 0.9, "class": "square", "class_id": 0,
     "detection_id": "d0"}]}


def frames(count: int, source_id: int = 0) -> list[VideoFrame]:
    stamp = dt.datetime(2026, 1, 1, 12, 0, 0)
    return [VideoFrame(image=image, frame_id=i + 1, frame_timestamp=stamp + dt.timedelta(seconds=i / 10),
                       source_id=source_id, fps=10.0, comes_from_video_file=True)
            for i, image in enumerate(moving_square(count))]


def test_video_file_sink_writes_every_frame(tmp_path: Path) -> None:
    sink = VideoFileSink(tmp_path / "out.mp4", annotate=False)
    for frame in frames(15):
        sink.on_prediction(RESPONSE, frame)
    sink.close()
    assert sink.frames_written == 15
    assert count_frames(tmp_path / "out.mp4") == 15


def test_video_file_sink_one_file_per_source(tmp_path: Path) -> None:
    sink = VideoFileSink(tmp_path / "out.mp4")
    for first, second in zip(frames(6, 0), frames(6, 1)):
        sink.on_prediction([RESPONSE, None], [first, second])
    sink.close()
    assert count_frames(tmp_path / "out.mp4") == 6
    assert count_frames(tmp_path / "out.source1.mp4") == 6


def test_annotation_draws_the_box_edges() -> None:
    frame = frames(1)[0]
    canvas = annotate_frame(RESPONSE, frame)
    assert canvas.shape == frame.image.shape
    changed = np.any(canvas != frame.image, axis=2)
    assert changed[40, 0] or changed[40, 1]   # the box's top-left corner
    assert not changed[110, 150]              # far from the box


def test_udp_sink_sends_one_json_datagram_per_frame() -> None:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(10)
    sink = UDPSink.init("127.0.0.1", receiver.getsockname()[1])
    try:
        for frame in frames(3):
            sink.on_prediction(RESPONSE, frame)
        messages = [json.loads(receiver.recv(65536)) for _ in range(3)]
    finally:
        sink.close()
        receiver.close()
    assert [m["inference_metadata"]["frame_id"] for m in messages] == [1, 2, 3]
    assert messages[1]["inference_metadata"]["frame_timestamp"] == "2026-01-01T12:00:00.100000"
    assert messages[0]["predictions"] == RESPONSE["predictions"]


def test_webhook_sink_posts_json(tmp_path: Path) -> None:
    received: list[dict[str, Any]] = []
    got_all = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204 if len(received) != 2 else 500)  # one failure must not stop it
            self.end_headers()
            if len(received) == 4:
                got_all.set()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sink = WebhookSink(f"http://127.0.0.1:{server.server_address[1]}/hook")
    try:
        for frame in frames(4):
            sink.on_prediction(RESPONSE, frame)
        assert got_all.wait(20)
    finally:
        sink.close()
        server.shutdown()
    assert sorted(m["inference_metadata"]["frame_id"] for m in received) == [1, 2, 3, 4]
    assert (sink.sent, sink.failed, sink.dropped) == (3, 1, 0)


def test_memory_buffer_keeps_the_newest_entries() -> None:
    buffer = InMemoryBufferSink.init(queue_size=3)
    for frame in frames(5):
        buffer.on_prediction({"x": square_x(frame.image)}, frame)
    assert len(buffer) == 3
    consumed = [buffer.consume_prediction() for _ in range(3)]
    assert [f[0].frame_id for _, f in consumed] == [3, 4, 5]
    assert [p[0]["x"] for p, _ in consumed] == [6.0, 9.0, 12.0]
    assert buffer.empty()


def test_serialize_a_workflow_output_with_detections() -> None:
    detections = sv.Detections(xyxy=np.array([[0.0, 40.0, 20.0, 60.0]]), confidence=np.array([0.9]),
                               class_id=np.array([0]), data={"class_name": np.array(["square"])})
    serialized = serialize_prediction({"predictions": detections, "count": np.int64(1)}, excluded_fields=["count"])
    assert "count" not in serialized
    json.dumps(serialized)  # JSON-ready
    (box,) = serialized["predictions"]["predictions"]  # the reference wire shape: centre, size, class
    assert (box["x"], box["y"], box["width"], box["height"], box["class"]) == (10.0, 50.0, 20.0, 20.0, "square")


@pytest.mark.parametrize("prediction", [None, {"a": 1}])
def test_serialize_plain_values(prediction: Any) -> None:
    assert serialize_prediction(prediction) == prediction
