"""A pipeline on a real RTSP server (aio-rtsp-toolkit, started here) that is stopped and restarted."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "unit" / "streams"))

from stream_videos import RtspServer, moving_square, square_x, write_video

from argus.streams import InferencePipeline, StreamState, VideoFrame
from argus.streams.entities import STATE_UPDATE_EVENT, StatusUpdate

SPEED, COUNT, FPS = 2, 50, 25


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("rtsp-media")
    write_video(folder / "square.mp4", moving_square(COUNT, speed=SPEED), fps=FPS)
    return folder


class Recorder:
    """What the pipeline delivered and which states its source went through."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.frames: list[tuple[int, float]] = []
        self.states: list[str] = []

    def on_prediction(self, prediction: float, frame: VideoFrame) -> None:
        with self.lock:
            self.frames.append((frame.frame_id, prediction))

    def on_status(self, update: StatusUpdate) -> None:
        if update.event_type == STATE_UPDATE_EVENT:
            with self.lock:
                self.states.append(update.payload["new_state"])

    def count(self) -> int:
        with self.lock:
            return len(self.frames)


def wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_pipeline_survives_the_rtsp_server_restarting(media: Path) -> None:
    server = RtspServer(media).start()
    recorder = Recorder()
    pipeline = InferencePipeline.init_with_custom_logic(
        server.url("square.mp4"), lambda frames: [square_x(f.image) for f in frames], recorder.on_prediction,
        status_update_handlers=[recorder.on_status], restart_attempt_delay=0.2)
    try:
        pipeline.start(use_main_thread=False)
        wait_until(lambda: recorder.count() >= 10, 60, "frames from the stream")
        source = pipeline.sources[0]
        assert source.get_state() is StreamState.RUNNING
        assert not source.is_file and source.properties.is_reconnectable

        server.stop()
        wait_until(lambda: source.get_state() is StreamState.RESTARTING, 30, "RESTARTING after the server died")
        before = recorder.count()
        server.start()
        wait_until(lambda: source.get_state() is StreamState.RUNNING, 60, "RUNNING after the server came back")
        wait_until(lambda: recorder.count() >= before + 10, 60, "frames after the reconnect")
    finally:
        pipeline.terminate()
        pipeline.join(timeout=30)
        server.stop()
    assert not pipeline.running
    states = recorder.states
    assert states[:2] == ["INITIALISING", "RUNNING"]
    restart = states.index("RESTARTING")
    assert "RUNNING" in states[restart:]
    ids = [frame_id for frame_id, _ in recorder.frames]
    assert ids == sorted(set(ids)), "frame ids go on increasing across the reconnect"
    # Every frame shows the square at a position of the looped clip: frames are whole, not torn.
    positions = {i * SPEED for i in range(COUNT)}
    assert all(round(x) in positions for _, x in recorder.frames)
    assert source.get_state() is StreamState.ENDED
