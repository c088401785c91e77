"""The stream manager: each pipeline in its own process, driven over a pipe.

A crashing decoder or a stuck camera takes down only its process. The manager restarts nothing
by itself: a pipeline whose process died is reported (state, exit code, last error) until it is
terminated. ``terminate`` always ends the process: a polite command, then ``kill`` after a grace
period. Processes are started with the ``spawn`` method (no forked copy of the server's threads)
and end by themselves when the server goes away (see :mod:`argus.streams.worker`).

Example:
    >>> manager = StreamManager(settings)  # doctest: +SKIP
    >>> pipeline_id = manager.initialise(payload)  # doctest: +SKIP
    >>> manager.consume(pipeline_id)["outputs"]  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from argus.errors import (
    ClientError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    NotImplementedFeatureError,
    OverloadedError,
    ServerError,
)

logger = logging.getLogger(__name__)

DEFAULT_INIT_TIMEOUT_S = 120.0
DEFAULT_COMMAND_TIMEOUT_S = 10.0
DEFAULT_TERMINATE_GRACE_S = 5.0
DEFAULT_MAX_PIPELINES = 16

_ERRORS = {"invalid_payload": InvalidInputError, "not_found": NotFoundError,
           "not_implemented": NotImplementedFeatureError, "operation_error": ConflictError}


@dataclass
class ManagedPipeline:
    """One pipeline's process and what the manager last learnt about it."""

    pipeline_id: str
    process: Any
    connection: Any
    lock: threading.Lock = field(default_factory=threading.Lock)
    last_report: dict[str, Any] = field(default_factory=dict)
    last_error: str | None = None


class PipelineProcessError(ServerError):
    """The pipeline's process is alive but did not answer in time."""

    status_code = 504
    code = "pipeline_timeout"


class PipelineGoneError(ClientError):
    """The pipeline's process has ended: commands to it answer 410 (its status still reports why)."""

    status_code = 410
    code = "pipeline_gone"


class StreamManager:
    """Start, command and end pipeline processes."""

    def __init__(self, settings: Any, *, init_timeout: float = DEFAULT_INIT_TIMEOUT_S,
                 command_timeout: float = DEFAULT_COMMAND_TIMEOUT_S,
                 terminate_grace: float = DEFAULT_TERMINATE_GRACE_S,
                 max_pipelines: int = DEFAULT_MAX_PIPELINES) -> None:
        self.settings = settings
        self.init_timeout = init_timeout
        self.command_timeout = command_timeout
        self.terminate_grace = terminate_grace
        self.max_pipelines = max_pipelines
        self._context = multiprocessing.get_context("spawn")
        self._pipelines: dict[str, ManagedPipeline] = {}
        self._starting = 0
        self._lock = threading.Lock()

    # ------------------------------------------------------------------------------ commands

    def initialise(self, payload: dict[str, Any]) -> str:
        """Start a pipeline process for a validated ``InitialisePipelinePayload``; its id.

        Raises:
            ArgusError: what the pipeline reported (400 bad source or model, 404, 501 ...).
        """
        with self._lock:
            if len(self._pipelines) + self._starting >= self.max_pipelines:
                raise OverloadedError(f"This server already runs {self.max_pipelines} pipelines (the most it takes): "
                                      "terminate one first.", retry_after=10.0)
            self._starting += 1
        try:
            return self._start(payload)
        finally:
            with self._lock:
                self._starting -= 1

    def _start(self, payload: dict[str, Any]) -> str:
        pipeline_id = str(uuid.uuid4())
        parent_end, child_end = self._context.Pipe(duplex=True)
        from argus.streams.worker import run_worker  # PyAV and supervision only once a pipeline starts

        process = self._context.Process(target=run_worker, args=(child_end, self.settings, os.getpid()),
                                        name=f"argus-pipeline-{pipeline_id[:8]}", daemon=True)
        process.start()
        child_end.close()
        managed = ManagedPipeline(pipeline_id=pipeline_id, process=process, connection=parent_end)
        try:
            self._call(managed, "init", {"payload": payload}, self.init_timeout)
        except BaseException:
            self._end_process(managed)
            raise
        with self._lock:
            self._pipelines[pipeline_id] = managed
        logger.info("pipeline %s started (pid %s)", pipeline_id, process.pid)
        return pipeline_id

    def pipeline_ids(self) -> list[str]:
        """Ids of the pipelines the manager holds (running or not, until terminated)."""
        with self._lock:
            return list(self._pipelines)

    def status(self, pipeline_id: str) -> dict[str, Any]:
        """The watchdog report, with ``pipeline_state``, ``last_error`` and ``process_alive``."""
        managed = self._get(pipeline_id)
        if managed.process.is_alive():
            try:
                report = self._call(managed, "status", {}, self.command_timeout)["report"]
                managed.last_report = report
                managed.last_error = report.get("last_error") or managed.last_error
                return report  # type: ignore[no-any-return]
            except (PipelineProcessError, PipelineGoneError):
                if managed.process.is_alive():
                    raise
        report = dict(managed.last_report)
        exit_code = managed.process.exitcode
        report.update({"pipeline_state": "ERROR" if exit_code else "ENDED", "process_alive": False,
                       "exit_code": exit_code, "last_error": self._exit_description(managed)})
        return report

    def pause(self, pipeline_id: str) -> None:
        """Mute the pipeline's sources (frames are read and dropped, as the reference's pause does)."""
        self._call(self._get(pipeline_id), "pause", {}, self.command_timeout)

    def resume(self, pipeline_id: str) -> None:
        """Resume a paused pipeline."""
        self._call(self._get(pipeline_id), "resume", {}, self.command_timeout)

    def consume(self, pipeline_id: str, excluded_fields: list[str] | None = None) -> dict[str, Any]:
        """The oldest buffered result: ``{"outputs": [...], "frames_metadata": [...]}``."""
        response = self._call(self._get(pipeline_id), "consume", {"excluded_fields": excluded_fields or []},
                              self.command_timeout)
        return {"outputs": response["outputs"], "frames_metadata": response["frames_metadata"]}

    def terminate(self, pipeline_id: str) -> None:
        """End the pipeline and its process (killed when it does not stop within the grace period)."""
        with self._lock:
            managed = self._pipelines.pop(pipeline_id, None)
        if managed is None:
            raise NotFoundError(f"No pipeline with id {pipeline_id!r}")
        self._end_process(managed)

    def shutdown(self) -> None:
        """End every pipeline (the server is stopping)."""
        with self._lock:
            pipelines = list(self._pipelines.values())
            self._pipelines.clear()
        threads = [threading.Thread(target=self._end_process, args=(m,), daemon=True) for m in pipelines]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(self.terminate_grace + 5)

    # ------------------------------------------------------------------------------ plumbing

    def _get(self, pipeline_id: str) -> ManagedPipeline:
        with self._lock:
            managed = self._pipelines.get(pipeline_id)
        if managed is None:
            raise NotFoundError(f"No pipeline with id {pipeline_id!r}")
        return managed

    def _call(self, managed: ManagedPipeline, command: str, arguments: dict[str, Any],
              timeout: float) -> dict[str, Any]:
        request_id = uuid.uuid4().hex
        with managed.lock:
            if not managed.process.is_alive():
                raise PipelineGoneError(self._dead_message(managed))
            try:
                managed.connection.send((request_id, command, arguments))
                deadline = time.monotonic() + timeout
                while True:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or not managed.connection.poll(min(remaining, 0.5)):
                        if not managed.process.is_alive():
                            raise PipelineGoneError(self._dead_message(managed))
                        if remaining <= 0:
                            raise PipelineProcessError(
                                f"The pipeline process did not answer '{command}' within {timeout:.0f} s")
                        continue
                    answered_id, response = managed.connection.recv()
                    if answered_id == request_id:
                        break  # answers to earlier, timed-out requests are skipped
            except (EOFError, OSError) as error:
                raise PipelineGoneError(self._dead_message(managed)) from error
        if not response.get("ok"):
            message = response.get("message", "unknown error")
            if response.get("error_type") == "internal_error":
                managed.last_error = message
            raise _ERRORS.get(response.get("error_type", ""), ServerError)(message)
        return response  # type: ignore[no-any-return]

    def _exit_description(self, managed: ManagedPipeline) -> str:
        managed.process.join(0.1)
        text = f"the pipeline process exited with code {managed.process.exitcode}"
        return f"{text}; its last error: {managed.last_error}" if managed.last_error else text

    def _dead_message(self, managed: ManagedPipeline) -> str:
        return f"The pipeline is not running: {self._exit_description(managed)}"

    def _end_process(self, managed: ManagedPipeline) -> None:
        process = managed.process
        if process.is_alive():
            if managed.lock.acquire(timeout=1.0):  # a command stuck in flight must not delay the kill
                try:
                    managed.connection.send((uuid.uuid4().hex, "terminate", {}))
                except (OSError, ValueError):
                    pass
                finally:
                    managed.lock.release()
            process.join(self.terminate_grace)
        if process.is_alive():
            logger.warning("pipeline %s did not stop within %.0f s: killing it", managed.pipeline_id,
                           self.terminate_grace)
            process.kill()
            process.join(5.0)
        managed.connection.close()
