"""The process that runs one managed pipeline (started by :mod:`argus.streams.manager`).

It answers commands from the manager over a pipe: ``(request_id, command, arguments)`` in,
``(request_id, response)`` out, where a response is ``{"ok": True, ...}`` or ``{"ok": False,
"error_type", "message"}``. It ends when told to, when the pipe closes (the server died) or when
its parent is gone (checked every half second), so no pipeline outlives the server.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from argus.errors import (
    ArgusError,
    ClientError,
    NotFoundError,
    NotImplementedFeatureError,
)
from argus.streams.entities import FINAL_STATES, NAMED_WORKFLOWS_MESSAGE, StreamState
from argus.streams.pipeline import InferencePipeline
from argus.streams.sinks import InMemoryBufferSink, serialize_prediction
from argus.streams.sources import StreamOperationNotAllowedError

logger = logging.getLogger(__name__)

_PARENT_CHECK_S = 0.5
def error_response(error: BaseException) -> dict[str, Any]:
    """The manager's error form of an exception."""
    if isinstance(error, NotImplementedFeatureError):
        kind = "not_implemented"
    elif isinstance(error, StreamOperationNotAllowedError):
        kind = "operation_error"
    elif isinstance(error, NotFoundError):
        kind = "not_found"
    elif isinstance(error, (ClientError, ValueError)):
        kind = "invalid_payload"
    else:
        kind = "internal_error"
    message = error.message if isinstance(error, ArgusError) else str(error)
    return {"ok": False, "error_type": kind, "message": message or type(error).__name__}


def build_pipeline(payload: dict[str, Any], settings: Any, buffer: InMemoryBufferSink) -> InferencePipeline:
    """An :class:`InferencePipeline` from a validated ``InitialisePipelinePayload`` dict."""
    video = payload["video_configuration"]
    processing = payload["processing_configuration"]
    options: dict[str, Any] = {
        "max_fps": video.get("max_fps"),
        "source_buffer_filling_strategy": video.get("source_buffer_filling_strategy"),
        "source_buffer_consumption_strategy": video.get("source_buffer_consumption_strategy"),
        "video_source_properties": video.get("video_source_properties"),
        "batch_collection_timeout": video.get("batch_collection_timeout"),
        "predictions_queue_size": payload["predictions_queue_size"],
        "decoding_buffer_size": payload["decoding_buffer_size"],
        "settings": settings,
    }
    if processing["type"] == "ModelConfiguration":
        params = {k: processing.get(k) for k in ("confidence", "iou_threshold", "class_agnostic_nms",
                                                 "max_detections", "max_candidates", "class_filter")}
        return InferencePipeline.init(video["video_reference"], processing["model_id"], buffer.on_prediction,
                                      **params, **options)
    if processing.get("workflow_specification") is None:
        raise NotImplementedFeatureError(NAMED_WORKFLOWS_MESSAGE)
    return InferencePipeline.init_with_workflow(
        video["video_reference"], processing["workflow_specification"], buffer.on_prediction,
        image_input_name=processing.get("image_input_name", "image"),
        workflows_parameters=processing.get("workflows_parameters"),
        video_metadata_input_name=processing.get("video_metadata_input_name", "video_metadata"), **options)


def pipeline_state(pipeline: InferencePipeline) -> str:
    """One state for the whole pipeline, from its sources'."""
    states = {source.get_state() for source in pipeline.sources}
    if not pipeline.running:
        return StreamState.ERROR.value if states == {StreamState.ERROR} else StreamState.ENDED.value
    for state in (StreamState.RESTARTING, StreamState.INITIALISING, StreamState.PAUSED, StreamState.MUTED):
        if state in states:
            return state.value
    live = states - FINAL_STATES
    return StreamState.RUNNING.value if live else StreamState.ENDED.value


class PipelineWorker:
    """Holds one pipeline and answers the manager's commands."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.pipeline: InferencePipeline | None = None
        self.buffer: InMemoryBufferSink | None = None
        self.consumption_timeout: float | None = None
        self.last_consumed = time.monotonic()
        self.stopping = False

    def handle(self, command: str, arguments: dict[str, Any]) -> dict[str, Any]:
        try:
            handler = getattr(self, f"cmd_{command}", None)
            if handler is None:
                raise ValueError(f"unknown command {command!r}")
            return {"ok": True, **handler(**arguments)}
        except Exception as error:  # every failure goes back to the manager as an answer
            if not isinstance(error, ArgusError):
                logger.exception("pipeline command %s failed", command)
            return error_response(error)

    def _require(self) -> InferencePipeline:
        if self.pipeline is None:
            raise StreamOperationNotAllowedError("the pipeline is not initialised")
        return self.pipeline

    def cmd_init(self, payload: dict[str, Any]) -> dict[str, Any]:
        self.buffer = InMemoryBufferSink(payload["sink_configuration"]["results_buffer_size"])
        self.pipeline = build_pipeline(payload, self.settings, self.buffer)
        self.consumption_timeout = payload.get("consumption_timeout")
        self.last_consumed = time.monotonic()
        self.pipeline.start(use_main_thread=False)
        return {}

    def cmd_status(self) -> dict[str, Any]:
        pipeline = self._require()
        errors = [s.last_error for s in pipeline.sources if s.last_error] + (
            [pipeline.last_error] if pipeline.last_error else [])
        report = pipeline.watchdog.get_report()
        report.update({"pipeline_state": pipeline_state(pipeline), "last_error": errors[-1] if errors else None,
                       "process_alive": True})
        return {"report": report}

    def cmd_pause(self) -> dict[str, Any]:
        self._require().mute_stream()  # the reference's /pause mutes: the source stays current
        return {}

    def cmd_resume(self) -> dict[str, Any]:
        self._require().resume_stream()
        return {}

    def cmd_consume(self, excluded_fields: list[str] | None = None) -> dict[str, Any]:
        self._require()
        assert self.buffer is not None
        self.last_consumed = time.monotonic()
        if self.buffer.empty():
            return {"outputs": [], "frames_metadata": []}
        predictions, frames = self.buffer.consume_prediction()
        return {"outputs": [serialize_prediction(p, excluded_fields) for p in predictions],
                "frames_metadata": [None if f is None else f.metadata() for f in frames]}

    def cmd_terminate(self) -> dict[str, Any]:
        self.stopping = True
        if self.pipeline is not None:
            self.pipeline.terminate()
            self.pipeline.join(timeout=2.0)
        return {}

    def timed_out(self) -> bool:
        """True when ``consumption_timeout`` passed without a consume (the reference then ends the pipeline)."""
        return (self.pipeline is not None and self.consumption_timeout is not None
                and time.monotonic() - self.last_consumed > self.consumption_timeout)


def run_worker(connection: Any, settings: Any, parent_pid: int) -> None:
    """The child process's entry point."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s [pipeline]: %(message)s")
    worker = PipelineWorker(settings)
    try:
        while not worker.stopping:
            if os.getppid() != parent_pid:
                logger.warning("the server (pid %s) is gone: ending the pipeline", parent_pid)
                break
            if worker.timed_out():
                logger.info("no consume within consumption_timeout: ending the pipeline")
                break
            try:
                if not connection.poll(_PARENT_CHECK_S):
                    continue
                request_id, command, arguments = connection.recv()
            except (EOFError, OSError):
                break  # the server's end of the pipe closed
            response = worker.handle(command, arguments)
            try:
                connection.send((request_id, response))
            except (BrokenPipeError, OSError):
                break
    finally:
        if worker.pipeline is not None:
            worker.pipeline.terminate()
            worker.pipeline.join(timeout=2.0)
        os._exit(0)  # daemon threads stuck in a connect must not hold the process
