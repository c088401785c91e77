"""InferencePipeline over generated files: every frame once, in order, batched across sources,
predictions of the real zoo detector equal to running it frame by frame, sinks that fail."""

from __future__ import annotations

import threading
from functools import partial
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest
from stream_videos import moving_square, square_x, write_video

from argus.streams import (
    InferencePipeline,
    InMemoryBufferSink,
    StreamState,
    VideoFrame,
    multi_sink,
)
from argus.streams.entities import INFERENCE_ERROR_EVENT, SINK_ERROR_EVENT, StatusUpdate
from photos import collage

COUNT, SHORT, SPEED, PAN = 37, 20, 3, 8


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pipeline-videos")
    base = cv2.resize(collage(), (640, 360), interpolation=cv2.INTER_AREA)
    pan = []
    for i in range(12):  # the collage (cat, motorbike, ...) moves PAN px right per frame
        canvas = np.full((400, 800, 3), 127, np.uint8)
        canvas[20:380, 8 + i * PAN:8 + i * PAN + 640] = base
        pan.append(canvas)
    return {"long": write_video(folder / "long.mp4", moving_square(COUNT, speed=SPEED)),
            "short": write_video(folder / "short.mp4", moving_square(SHORT, speed=5, start=1)),
            "pan": write_video(folder / "pan.mp4", pan)}


def square_positions(frames: list[VideoFrame]) -> list[float]:
    return [square_x(frame.image) for frame in frames]


def run(pipeline: InferencePipeline) -> InferencePipeline:
    pipeline.start(use_main_thread=False)
    pipeline.join(timeout=120)
    assert not pipeline.running
    return pipeline


def test_custom_logic_sees_every_frame_once_in_order(videos: dict[str, Path]) -> None:
    delivered: list[tuple[float, VideoFrame]] = []
    pipeline = run(InferencePipeline.init_with_custom_logic(
        videos["long"], square_positions, lambda prediction, frame: delivered.append((prediction, frame))))
    assert [frame.frame_id for _, frame in delivered] == list(range(1, COUNT + 1))
    assert [round(x) for x, _ in delivered] == [i * SPEED for i in range(COUNT)]
    report = pipeline.watchdog.get_report()
    (latency,) = report["latency_reports"]
    assert latency["frames_processed"] == COUNT
    assert 0 <= latency["inference_latency"] <= latency["e2e_latency"]
    assert report["sources_metadata"][0]["state"] == StreamState.ENDED.value


def test_two_sources_are_batched_into_one_call(videos: dict[str, Path]) -> None:
    batches: list[list[tuple[int, int]]] = []
    calls: list[tuple[Any, Any]] = []

    def logic(frames: list[VideoFrame]) -> list[float]:
        batches.append([(f.source_id, f.frame_id) for f in frames])
        return square_positions(frames)

    run(InferencePipeline.init_with_custom_logic([videos["long"], videos["short"]], logic,
                                                 lambda p, f: calls.append((p, f))))
    # With no batch_collection_timeout the collector waits for each live source: a batch of both
    # while the short clip lasts, then the long one alone.
    assert batches == [[(0, i), (1, i)] for i in range(1, SHORT + 1)] + [[(0, i)] for i in range(SHORT + 1, COUNT + 1)]
    # ADAPTIVE sink mode with two sources: lists aligned by source id, None where a source had no frame.
    first_predictions, first_frames = calls[0]
    assert [f.source_id for f in first_frames] == [0, 1]
    assert [round(x) for x in first_predictions] == [0, 1]
    last_predictions, last_frames = calls[-1]
    assert last_frames[1] is None and last_predictions[1] is None and last_frames[0].frame_id == COUNT


def test_model_pipeline_matches_the_model_frame_by_frame(videos: dict[str, Path], zoo_manager: Any) -> None:
    buffer = InMemoryBufferSink(queue_size=100)
    run(InferencePipeline.init(videos["pan"], "yolov3-tiny-416", buffer.on_prediction, manager=zoo_manager))
    model = zoo_manager.get("yolov3-tiny-416")
    with av.open(str(videos["pan"])) as container:
        decoded = [frame.to_ndarray(format="bgr24") for frame in container.decode(video=0)]
    assert len(buffer) == len(decoded) == 12
    cat_x = []
    for index, image in enumerate(decoded):
        (prediction,), (frame,) = buffer.consume_prediction()
        assert frame.frame_id == index + 1
        expected = model.infer(image).to_roboflow()["predictions"]
        got = prediction["predictions"]
        assert [(p["class"], p["x"], p["y"], p["width"], p["height"]) for p in got] == \
               [(p["class"], p["x"], p["y"], p["width"], p["height"]) for p in expected]
        cats = [p for p in got if p["class"] == "cat"]
        assert cats, f"no cat in frame {index + 1}"
        cat_x.append(max(cats, key=lambda p: p["confidence"])["x"])
    # The cat moves with the pan (PAN px per frame), up to the detector's jitter.
    shifts = np.array(cat_x) - np.arange(12) * PAN
    assert np.ptp(shifts) < 24


def test_a_raising_sink_is_reported_and_the_pipeline_goes_on(videos: dict[str, Path]) -> None:
    updates: list[StatusUpdate] = []
    seen: list[int] = []
    kept: list[int] = []

    def flaky(prediction: Any, frame: VideoFrame) -> None:
        seen.append(frame.frame_id)
        if frame.frame_id % 3 == 0:
            raise RuntimeError(f"sink broke on {frame.frame_id}")

    def steady(prediction: Any, frame: VideoFrame) -> None:
        kept.append(frame.frame_id)

    pipeline = run(InferencePipeline.init_with_custom_logic(
        videos["long"], square_positions, partial(multi_sink, sinks=[flaky, steady]),
        status_update_handlers=[updates.append]))
    assert seen == kept == list(range(1, COUNT + 1))

    direct: list[int] = []

    def raising(prediction: Any, frame: VideoFrame) -> None:
        direct.append(frame.frame_id)
        raise ValueError("always")

    pipeline = run(InferencePipeline.init_with_custom_logic(
        videos["short"], square_positions, raising, status_update_handlers=[updates.append]))
    assert direct == list(range(1, SHORT + 1))
    assert sum(u.event_type == SINK_ERROR_EVENT for u in updates) == SHORT
    assert pipeline.last_error == "ValueError: always"


def test_an_inference_error_skips_that_batch_only(videos: dict[str, Path]) -> None:
    updates: list[StatusUpdate] = []
    delivered: list[int] = []

    def logic(frames: list[VideoFrame]) -> list[float]:
        if frames[0].frame_id == 5:
            raise RuntimeError("model failed")
        return square_positions(frames)

    run(InferencePipeline.init_with_custom_logic(videos["short"], logic, lambda p, f: delivered.append(f.frame_id),
                                                 status_update_handlers=[updates.append]))
    assert delivered == [i for i in range(1, SHORT + 1) if i != 5]
    assert [u.payload["error_message"] for u in updates if u.event_type == INFERENCE_ERROR_EVENT] == ["model failed"]


def test_terminate_ends_a_paused_pipeline(videos: dict[str, Path]) -> None:
    first = threading.Event()
    delivered: list[int] = []

    def sink(prediction: Any, frame: VideoFrame) -> None:
        delivered.append(frame.frame_id)
        first.set()

    pipeline = InferencePipeline.init_with_custom_logic(videos["long"], square_positions, sink, decoding_buffer_size=1)
    pipeline.start(use_main_thread=False)
    assert first.wait(30)
    pipeline.pause_stream()
    assert {s.get_state() for s in pipeline.sources} == {StreamState.PAUSED}
    pipeline.terminate()
    pipeline.join(timeout=30)
    assert not pipeline.running
    assert len(delivered) < COUNT
    assert delivered == sorted(set(delivered))


TRACKING_WORKFLOW = {
    "version": "1.0",
    "inputs": [{"type": "WorkflowImage", "name": "image"}],
    "steps": [
        {"type": "roboflow_core/roboflow_object_detection_model@v2", "name": "detector", "images": "$inputs.image",
         "model_id": "yolov3-tiny-416", "class_filter": ["cat"]},
        {"type": "roboflow_core/byte_tracker@v3", "name": "tracker", "image": "$inputs.image",
         "detections": "$steps.detector.predictions"},
    ],
    "outputs": [{"type": "JsonField", "name": "tracked", "selector": "$steps.tracker.tracked_detections"}],
}


def test_workflow_pipeline_keeps_tracker_state_per_source(videos: dict[str, Path], zoo_manager: Any) -> None:
    """The workflow is compiled once; each source is its own video to the tracker (ids from 1 in each)."""
    buffer = InMemoryBufferSink(queue_size=100)
    run(InferencePipeline.init_with_workflow([videos["pan"], videos["pan"]], TRACKING_WORKFLOW,
                                             buffer.on_prediction, manager=zoo_manager,
                                             settings=zoo_manager.settings))
    assert len(buffer) == 12
    cat_ids: list[int] = []
    while not buffer.empty():
        (first, second), frames = buffer.consume_prediction()
        assert [f.source_id for f in frames] == [0, 1]
        ids = [list(output["tracked"].tracker_id) for output in (first, second)]
        assert ids[0] == ids[1]  # same frames, separate trackers: the same ids
        cat_ids += ids[0]
    assert cat_ids and max(set(cat_ids), key=cat_ids.count) == 1
    assert cat_ids.count(1) >= 10  # one track follows the cat across the pan


def test_batch_collection_timeout_does_not_wait_for_a_dead_source(videos: dict[str, Path]) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"rtsp://127.0.0.1:{probe.getsockname()[1]}/cam"
    delivered: list[Any] = []
    done = threading.Event()

    def sink(predictions: list[Any], frames: list[Any]) -> None:
        delivered.append([None if f is None else (f.source_id, f.frame_id) for f in frames])
        if frames[0] is not None and frames[0].frame_id == SHORT:
            done.set()

    pipeline = InferencePipeline.init_with_custom_logic([videos["short"], dead], square_positions, sink,
                                                        batch_collection_timeout=0.05)
    pipeline.start(use_main_thread=False)
    try:
        assert done.wait(60), "the file's frames waited on the source that never connects"
    finally:
        pipeline.terminate()
        pipeline.join(timeout=30)
    assert delivered == [[(0, i), None] for i in range(1, SHORT + 1)]


def test_overlapping_batches_reach_the_sinks_in_frame_order(videos: dict[str, Path]) -> None:
    """With two batches in flight (as model pipelines run), a slow batch still comes out before the
    faster one read after it, and a failing batch is skipped alone."""
    import time

    delivered: list[tuple[int, int]] = []
    overlapped = threading.Event()
    lock = threading.Lock()
    active = 0
    started: set[int] = set()

    def logic(frames: list[VideoFrame]) -> list[int]:
        nonlocal active
        (frame,) = frames
        with lock:
            active += 1
            started.add(frame.frame_id)
            if active == 2:
                overlapped.set()
        try:
            if frame.frame_id % 2:  # odd frames wait for the next frame to start, so it finishes first
                deadline = time.monotonic() + 1.0
                while time.monotonic() < deadline and frame.frame_id + 1 not in started:
                    time.sleep(0.002)
            if frame.frame_id == 6:
                raise RuntimeError("bad frame")
            return [frame.frame_id]
        finally:
            with lock:
                active -= 1

    logic.max_in_flight = 2  # type: ignore[attr-defined]
    run(InferencePipeline.init_with_custom_logic(videos["short"], logic,
                                                 lambda p, f: delivered.append((p, f.frame_id))))
    assert overlapped.is_set()
    assert [frame_id for _, frame_id in delivered] == [i for i in range(1, SHORT + 1) if i != 6]
    assert all(prediction == frame_id for prediction, frame_id in delivered)
