"""The stream manager with real pipeline processes: results, state of a dead process, kill after the
grace period, no orphans when the server process dies."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from stream_videos import moving_square, write_video

from argus.errors import ConflictError, InvalidInputError, NotFoundError, OverloadedError
from argus.settings import Settings
from argus.streams.manager import PipelineGoneError, StreamManager

COUNT = 15


def payload(reference: str, **video: Any) -> dict[str, Any]:
    """An ``InitialisePipelinePayload`` (as the route hands it over, defaults filled in)."""
    return {
        "video_configuration": {"type": "VideoConfiguration", "video_reference": reference, "max_fps": None,
                                "source_buffer_filling_strategy": "WAIT", "source_buffer_consumption_strategy": "LAZY",
                                "video_source_properties": None, "batch_collection_timeout": None, **video},
        "processing_configuration": {"type": "ModelConfiguration", "model_id": "yolov3-tiny-416"},
        "sink_configuration": {"type": "MemorySinkConfiguration", "results_buffer_size": 64},
        "consumption_timeout": None, "api_key": None, "predictions_queue_size": 512, "decoding_buffer_size": 64,
    }


def refused_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"rtsp://127.0.0.1:{probe.getsockname()[1]}/cam"


def wait_for(predicate: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout} s")


@pytest.fixture
def manager(zoo_settings: Settings, zoo_manager: Any) -> Any:
    zoo_manager.get("yolov3-tiny-416")  # materialise the zoo model in the store the workers read
    manager = StreamManager(zoo_settings, terminate_grace=2.0)
    yield manager
    manager.shutdown()


def test_results_status_and_terminate(manager: StreamManager, tmp_path: Path) -> None:
    clip = write_video(tmp_path / "square.mp4", moving_square(COUNT))
    pipeline_id = manager.initialise(payload(str(clip)))
    assert manager.pipeline_ids() == [pipeline_id]
    frame_ids: list[int] = []

    def drained() -> bool:
        result = manager.consume(pipeline_id)
        for output, metadata in zip(result["outputs"], result["frames_metadata"]):
            assert output["image"] == {"width": 160, "height": 120}
            frame_ids.append(metadata["frame_id"])
        return len(frame_ids) == COUNT

    wait_for(drained)
    assert frame_ids == list(range(1, COUNT + 1))
    report = wait_for(lambda: (r := manager.status(pipeline_id))["pipeline_state"] == "ENDED" and r)
    assert report["latency_reports"][0]["frames_processed"] == COUNT
    assert report["sources_metadata"][0]["source_properties"]["total_frames"] == COUNT
    assert report["process_alive"] is True
    manager.terminate(pipeline_id)
    assert manager.pipeline_ids() == []
    with pytest.raises(NotFoundError):
        manager.status(pipeline_id)


def test_the_number_of_pipelines_is_bounded(manager: StreamManager) -> None:
    manager.max_pipelines = 1
    pipeline_id = manager.initialise(payload(refused_url()))
    with pytest.raises(OverloadedError, match="terminate one first"):
        manager.initialise(payload(refused_url()))
    manager.terminate(pipeline_id)


def test_a_bad_source_fails_initialise_and_leaves_no_pipeline(manager: StreamManager) -> None:
    with pytest.raises(InvalidInputError, match="not found"):
        manager.initialise(payload("/no/such/clip.mp4"))
    assert manager.pipeline_ids() == []


def test_a_killed_pipeline_is_reported_not_restarted(manager: StreamManager) -> None:
    pipeline_id = manager.initialise(payload(refused_url()))
    wait_for(lambda: manager.status(pipeline_id)["pipeline_state"] == "RESTARTING")
    with pytest.raises(ConflictError):  # pause needs a running source
        manager.pause(pipeline_id)
    process = manager._pipelines[pipeline_id].process
    os.kill(process.pid, signal.SIGKILL)
    report = wait_for(lambda: (r := manager.status(pipeline_id))["process_alive"] is False and r)
    assert report["pipeline_state"] == "ERROR"
    assert report["exit_code"] == -signal.SIGKILL
    assert "-9" in report["last_error"]
    for command in (manager.consume, manager.pause, manager.resume):
        with pytest.raises(PipelineGoneError) as caught:
            command(pipeline_id)
        assert caught.value.status_code == 410 and "-9" in caught.value.message
    assert manager.pipeline_ids() == [pipeline_id]  # still listed until terminated
    manager.terminate(pipeline_id)


def test_terminate_kills_a_process_that_does_not_answer(manager: StreamManager) -> None:
    pipeline_id = manager.initialise(payload(refused_url()))
    process = manager._pipelines[pipeline_id].process
    os.kill(process.pid, signal.SIGSTOP)  # frozen: it cannot answer the terminate command
    manager.terminate(pipeline_id)
    assert not process.is_alive()
    assert process.exitcode == -signal.SIGKILL


def test_pipelines_end_when_the_server_process_dies(zoo_settings: Settings, zoo_manager: Any, tmp_path: Path
                                                    ) -> None:
    zoo_manager.get("yolov3-tiny-416")
    script = tmp_path / "server.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from argus.settings import Settings
        from argus.streams.manager import StreamManager
        if __name__ == "__main__":
            manager = StreamManager(Settings(home=Path({str(zoo_settings.home)!r})))
            pipeline_id = manager.initialise({payload(refused_url())!r})
            print(manager._pipelines[pipeline_id].process.pid, flush=True)
            time.sleep(600)
    """))
    server = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        worker_pid = int(server.stdout.readline())
        os.kill(worker_pid, 0)  # alive
        server.send_signal(signal.SIGKILL)  # no shutdown code runs
        server.wait(10)

        def gone() -> bool:
            try:
                os.kill(worker_pid, 0)
            except ProcessLookupError:
                return True
            return False

        wait_for(gone, timeout=20)
    finally:
        if server.poll() is None:
            server.kill()


def test_consumption_timeout_ends_an_unread_pipeline(manager: StreamManager) -> None:
    pipeline_id = manager.initialise({**payload(refused_url()), "consumption_timeout": 1.0})
    report = wait_for(lambda: (r := manager.status(pipeline_id))["process_alive"] is False and r)
    assert report["exit_code"] == 0 and report["pipeline_state"] == "ENDED"
    manager.terminate(pipeline_id)
