"""VideoSource over generated files and image folders: exact frames, strategies, states, terminate."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
from stream_videos import moving_square, square_x, write_video

from argus.errors import InvalidInputError
from argus.streams import (
    BufferConsumptionStrategy,
    BufferFillingStrategy,
    StreamOperationNotAllowedError,
    StreamState,
    VideoSource,
)
from argus.streams.entities import (
    SOURCE_CONNECTION_ATTEMPT_FAILED_EVENT,
    STATE_UPDATE_EVENT,
    StatusUpdate,
)

COUNT, FPS, SPEED = 37, 10, 3


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_video(tmp_path_factory.mktemp("video") / "square.mp4", moving_square(COUNT, speed=SPEED), fps=FPS)


def read_all(source: VideoSource) -> list:
    frames = []
    while (frame := source.read_frame(timeout=30)) is not None:
        frames.append(frame)
    return frames


def states(updates: list[StatusUpdate]) -> list[str]:
    return [u.payload["new_state"] for u in updates if u.event_type == STATE_UPDATE_EVENT]


def test_file_defaults_read_every_frame_in_order_with_its_content(clip: Path) -> None:
    updates: list[StatusUpdate] = []
    source = VideoSource(clip, status_update_handlers=[updates.append])
    assert source.filling_strategy is BufferFillingStrategy.WAIT
    assert source.consumption_strategy is BufferConsumptionStrategy.LAZY
    source.start()
    frames = read_all(source)
    assert [f.frame_id for f in frames] == list(range(1, COUNT + 1))
    # Each frame shows the square where frame i of the generator put it.
    assert [round(square_x(f.image)) for f in frames] == [i * SPEED for i in range(COUNT)]
    assert {f.source_id for f in frames} == {0} and all(f.comes_from_video_file for f in frames)
    assert frames[0].fps == FPS
    assert [f.media_time for f in frames[:3]] == pytest.approx([0.0, 0.1, 0.2])
    props = source.properties
    assert (props.width, props.height, props.total_frames, props.is_file) == (160, 120, COUNT, True)
    assert states(updates) == ["INITIALISING", "RUNNING", "ENDED"]
    assert source.get_state() is StreamState.ENDED


def test_stream_defaults_are_adaptive_drop_oldest_and_eager() -> None:
    source = VideoSource("rtsp://127.0.0.1:9/cam")
    assert source.filling_strategy is BufferFillingStrategy.ADAPTIVE_DROP_OLDEST
    assert source.consumption_strategy is BufferConsumptionStrategy.EAGER


@pytest.mark.parametrize(("strategy", "expected"), [
    ("DROP_OLDEST", [34, 35, 36, 37]),  # the newest frames survive a full buffer
    ("DROP_LATEST", [1, 2, 3, 4]),      # the first frames that fitted survive
])
def test_drop_strategies_with_a_reader_that_never_kept_up(clip: Path, strategy: str, expected: list[int]) -> None:
    source = VideoSource(clip, buffer_size=4, buffer_filling_strategy=strategy)
    source.start()
    source.join(30)  # decode everything before reading anything
    assert [f.frame_id for f in read_all(source)] == expected
    metadata = source.describe_source()
    assert (metadata["frames_dropped"], metadata["state"]) == (COUNT - 4, "ENDED")


def test_eager_consumption_takes_the_newest_frame(clip: Path) -> None:
    source = VideoSource(clip, buffer_consumption_strategy="EAGER")
    source.start()
    source.join(30)
    assert [f.frame_id for f in read_all(source)] == [COUNT]


def test_max_fps_subsamples_a_file_by_its_timestamps(clip: Path) -> None:
    source = VideoSource(clip, max_fps=FPS / 2)
    source.start()
    assert [f.frame_id for f in read_all(source)] == list(range(1, COUNT + 1, 2))


def test_image_folder_in_name_order(tmp_path: Path) -> None:
    for i, image in enumerate(moving_square(5, speed=10)):
        assert cv2.imwrite(str(tmp_path / f"frame_{i:03d}.png"), image)
    (tmp_path / "notes.txt").write_text("not an image")
    source = VideoSource(str(tmp_path), video_source_properties={"fps": 5})
    source.start()
    frames = read_all(source)
    assert [round(square_x(f.image)) for f in frames] == [0, 10, 20, 30, 40]
    assert frames[0].fps == 5 and source.properties.total_frames == 5


def test_missing_file_is_a_client_error() -> None:
    with pytest.raises(InvalidInputError, match="not found"):
        VideoSource("/no/such/video.mp4")


def test_pause_keeps_every_frame_and_mute_drops(clip: Path) -> None:
    source = VideoSource(clip, buffer_size=2)
    source.start()
    first = source.read_frame(timeout=30)
    source.pause()
    assert source.get_state() is StreamState.PAUSED
    with pytest.raises(StreamOperationNotAllowedError):
        source.pause()
    source.resume()
    rest = read_all(source)
    assert [first.frame_id] + [f.frame_id for f in rest] == list(range(1, COUNT + 1))

    muted = VideoSource(clip, buffer_size=1)
    muted.start()
    muted.read_frame(timeout=30)
    muted.mute()
    assert muted.get_state() is StreamState.MUTED
    muted.join(30)  # while muted the decoder runs through the file and drops everything
    assert len(read_all(muted)) <= 1  # at most the frame buffered before the mute
    with pytest.raises(StreamOperationNotAllowedError):
        muted.resume()  # it ended


def test_refused_stream_retries_then_terminates_at_once() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends: connections are refused
    updates: list[StatusUpdate] = []
    seen_failure = threading.Event()

    def on_update(update: StatusUpdate) -> None:
        updates.append(update)
        if update.event_type == SOURCE_CONNECTION_ATTEMPT_FAILED_EVENT:
            seen_failure.set()

    source = VideoSource(f"rtsp://127.0.0.1:{port}/cam", status_update_handlers=[on_update],
                         restart_attempt_delay=0.05)
    source.start()
    assert seen_failure.wait(30)
    assert source.get_state() is StreamState.RESTARTING
    source.terminate()
    source.join(10)
    assert source.get_state() is StreamState.ENDED
    assert source.read_frame(timeout=0.1) is None


def test_terminate_while_a_connect_hangs(tmp_path: Path) -> None:
    """A server that accepts TCP and never answers RTSP: the connect blocks in FFmpeg for its timeout."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        source = VideoSource(f"rtsp://127.0.0.1:{silent.getsockname()[1]}/cam", open_timeout=60)
        source.start()
        done = threading.Event()

        def stop() -> None:
            source.terminate()
            done.set()

        threading.Thread(target=stop, daemon=True).start()
        assert done.wait(15), "terminate blocked on the hanging connect"
        assert source.get_state() is StreamState.ENDED
        assert source.read_frame(timeout=0.1) is None
    finally:
        silent.close()


def test_frames_are_copies_not_views_of_decoder_memory(clip: Path) -> None:
    source = VideoSource(clip)
    source.start()
    frames = read_all(source)
    assert all(f.image.flags.writeable and f.image.dtype == np.uint8 for f in frames)
    assert len({id(f.image) for f in frames}) == COUNT


def test_a_missing_webcam_is_retried_as_a_live_source() -> None:
    updates: list[StatusUpdate] = []
    failed = threading.Event()

    def on_update(update: StatusUpdate) -> None:
        updates.append(update)
        if update.event_type == SOURCE_CONNECTION_ATTEMPT_FAILED_EVENT:
            failed.set()

    source = VideoSource(99, status_update_handlers=[on_update], restart_attempt_delay=0.05)
    assert not source.is_file and source.consumption_strategy is BufferConsumptionStrategy.EAGER
    source.start()
    try:
        assert failed.wait(30)
        assert "webcam 99" in source.last_error
    finally:
        source.terminate()
    assert source.get_state() is StreamState.ENDED


def test_a_video_file_over_http_is_read_like_a_file(clip: Path) -> None:
    import functools
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(clip.parent)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        source = VideoSource(f"http://127.0.0.1:{server.server_address[1]}/{clip.name}")
        assert source.is_file and source.filling_strategy is BufferFillingStrategy.WAIT
        source.start()
        frames = read_all(source)
    finally:
        server.shutdown()
    assert [f.frame_id for f in frames] == list(range(1, COUNT + 1))
    assert [round(square_x(f.image)) for f in frames] == [i * SPEED for i in range(COUNT)]


def test_printf_image_sequence_through_ffmpeg(tmp_path: Path) -> None:
    for i, image in enumerate(moving_square(6, speed=10)):
        assert cv2.imwrite(str(tmp_path / f"img_{i:03d}.png"), image)
    source = VideoSource(str(tmp_path / "img_%03d.png"))
    assert source.is_file
    source.start()
    assert [round(square_x(f.image)) for f in read_all(source)] == [0, 10, 20, 30, 40, 50]
