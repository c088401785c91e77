"""``InferencePipeline``: video sources -> one model (or workflow) call per batch -> sinks.

Three kinds of thread overlap so the model is never idle waiting for decoding or for sinks: one
decode thread per source (:mod:`argus.streams.sources`), one inference thread that collects a frame
from each source (up to ``batch_collection_timeout``) and runs them as one batch, and one dispatch
thread that hands predictions to ``on_prediction``. A sink that raises is logged and reported; the
pipeline carries on.

Example:
    >>> pipeline = InferencePipeline.init("clip.mp4", "yolov3-tiny-416", on_prediction=print)  # doctest: +SKIP
    >>> pipeline.start(use_main_thread=False); pipeline.join()  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from enum import Enum
from typing import Any

from argus.streams.entities import (
    DEFAULT_BUFFER_SIZE,
    INFERENCE_ERROR_EVENT,
    PREDICTIONS_QUEUE_SIZE,
    SINK_ERROR_EVENT,
    BufferConsumptionStrategy,
    BufferFillingStrategy,
    StatusHandler,
    StatusUpdate,
    UpdateSeverity,
    VideoFrame,
)
from argus.streams.handlers import custom_handler, model_handler, workflow_handler
from argus.streams.sources import VideoSource
from argus.streams.watchdog import LatencySample, PipelineWatchDog

logger = logging.getLogger(__name__)

OnPrediction = Callable[[Any, Any], None]
OnVideoFrame = Callable[[list[VideoFrame]], list[Any]]
_END = object()
_POLL_S = 0.05


class SinkMode(str, Enum):
    """How ``on_prediction`` is called: one frame at a time, a list per batch, or adaptive (the default:
    single values for one source, lists aligned by ``source_id`` for several)."""

    ADAPTIVE = "ADAPTIVE"
    BATCH = "BATCH"
    SEQUENTIAL = "SEQUENTIAL"


class InferencePipeline:
    """Runs a model, a workflow or custom logic over one or more video sources."""

    def __init__(self, sources: list[VideoSource], on_video_frame: OnVideoFrame,
                 on_prediction: OnPrediction | None, *, watchdog: PipelineWatchDog,
                 batch_collection_timeout: float | None = None, sink_mode: SinkMode | str = SinkMode.ADAPTIVE,
                 predictions_queue_size: int = PREDICTIONS_QUEUE_SIZE,
                 status_handlers: list[StatusHandler] | None = None, max_in_flight: int = 1) -> None:
        self.sources = sources
        self._status_handlers = list(status_handlers or [watchdog.on_status_update])
        self.watchdog = watchdog
        self._on_video_frame = on_video_frame
        self._on_prediction = on_prediction
        self._batch_collection_timeout = batch_collection_timeout
        self._sink_mode = SinkMode(sink_mode)
        self._predictions: queue.Queue[Any] = queue.Queue(maxsize=max(1, predictions_queue_size))
        self._stop = threading.Event()
        self._inference_thread: threading.Thread | None = None
        self._dispatch_thread: threading.Thread | None = None
        self._started = False
        self.last_error: str | None = None
        # Batches inferred at once. Above 1 (stateless model handlers only) the next batch runs while the
        # previous one finishes, on the model's second runner; results still reach the sinks in order.
        self._max_in_flight = max(1, max_in_flight)
        self._in_flight: deque[tuple[list[VideoFrame], float, Future[Any]]] = deque()
        self._in_flight_lock = threading.Lock()
        self._slots = threading.Semaphore(self._max_in_flight)

    # ------------------------------------------------------------------------------ constructors

    @classmethod
    def init(cls, video_reference: str | int | Sequence[str | int], model_id: str,
             on_prediction: OnPrediction | None = None, *, confidence: float | None = None,
             iou_threshold: float | None = None, class_agnostic_nms: bool | None = None,
             max_detections: int | None = None, max_candidates: int | None = None,
             class_filter: list[str] | None = None, settings: Any = None, manager: Any = None,
             **options: Any) -> InferencePipeline:
        """A pipeline running the model ``model_id`` (a store id or zoo alias); predictions are the
        Roboflow response JSON of each frame (``{"image", "predictions", ...}``)."""
        params = {key: value for key, value in {
            "confidence": confidence, "iou_threshold": iou_threshold, "class_agnostic_nms": class_agnostic_nms,
            "max_detections": max_detections, "max_candidates": max_candidates, "class_filter": class_filter,
        }.items() if value is not None}
        handler = model_handler(model_id, params, settings=settings, manager=manager)
        return cls._build(video_reference, handler, on_prediction, **options)

    @classmethod
    def init_with_workflow(cls, video_reference: str | int | Sequence[str | int],
                           workflow_specification: dict[str, Any], on_prediction: OnPrediction | None = None, *,
                           image_input_name: str = "image", workflows_parameters: dict[str, Any] | None = None,
                           video_metadata_input_name: str = "video_metadata", settings: Any = None,
                           manager: Any = None, **options: Any) -> InferencePipeline:
        """A pipeline running a workflow (compiled once; per-video state such as trackers persists).

        Predictions are the workflow's output dicts, one per frame, with raw values.
        """
        handler = workflow_handler(workflow_specification, image_input_name=image_input_name,
                                   workflows_parameters=workflows_parameters,
                                   video_metadata_input_name=video_metadata_input_name,
                                   settings=settings, manager=manager)
        return cls._build(video_reference, handler, on_prediction, **options)

    @classmethod
    def init_with_custom_logic(cls, video_reference: str | int | Sequence[str | int],
                               on_video_frame: Callable[[list[VideoFrame]], list[Any]],
                               on_prediction: OnPrediction | None = None, **options: Any) -> InferencePipeline:
        """A pipeline whose "model" is ``on_video_frame(frames) -> one prediction per frame``."""
        return cls._build(video_reference, custom_handler(on_video_frame), on_prediction, **options)

    @classmethod
    def _build(cls, video_reference: str | int | Sequence[str | int], on_video_frame: OnVideoFrame,
               on_prediction: OnPrediction | None, *, max_fps: float | None = None,
               watchdog: PipelineWatchDog | None = None, status_update_handlers: list[StatusHandler] | None = None,
               source_buffer_filling_strategy: BufferFillingStrategy | str | None = None,
               source_buffer_consumption_strategy: BufferConsumptionStrategy | str | None = None,
               video_source_properties: dict[str, Any] | None = None,
               batch_collection_timeout: float | None = None, sink_mode: SinkMode | str = SinkMode.ADAPTIVE,
               predictions_queue_size: int = PREDICTIONS_QUEUE_SIZE,
               decoding_buffer_size: int = DEFAULT_BUFFER_SIZE, **source_options: Any) -> InferencePipeline:
        references: list[Any] = (list(video_reference) if isinstance(video_reference, (list, tuple))
                                 else [video_reference])
        if not references:
            raise ValueError("video_reference is empty")
        watchdog = watchdog or PipelineWatchDog()
        handlers: list[StatusHandler] = [watchdog.on_status_update, *(status_update_handlers or [])]
        sources = [
            VideoSource(reference, source_id=index, buffer_size=decoding_buffer_size,
                        buffer_filling_strategy=source_buffer_filling_strategy,
                        buffer_consumption_strategy=source_buffer_consumption_strategy, max_fps=max_fps,
                        status_update_handlers=handlers, video_source_properties=video_source_properties,
                        **source_options)
            for index, reference in enumerate(references)
        ]
        watchdog.register_video_sources(sources)
        return cls(sources, on_video_frame, on_prediction, watchdog=watchdog,
                       batch_collection_timeout=batch_collection_timeout, sink_mode=sink_mode,
                       predictions_queue_size=predictions_queue_size, status_handlers=handlers,
                       max_in_flight=int(getattr(on_video_frame, "max_in_flight", 1)))

    # ------------------------------------------------------------------------------ control

    def start(self, use_main_thread: bool = True) -> None:
        """Start decoding and inference; with ``use_main_thread`` the sinks run here until the end."""
        if self._started:
            raise RuntimeError("the pipeline was already started")
        self._started = True
        for source in self.sources:
            source.start()
        self._inference_thread = threading.Thread(target=self._inference_loop, name="argus-inference", daemon=True)
        self._inference_thread.start()
        if use_main_thread:
            self._dispatch_loop()
        else:
            self._dispatch_thread = threading.Thread(target=self._dispatch_loop, name="argus-sinks", daemon=True)
            self._dispatch_thread.start()

    def pause_stream(self, source_id: int | None = None) -> None:
        """Stop reading the sources (or one)."""
        for source in self._selected(source_id):
            source.pause()

    def mute_stream(self, source_id: int | None = None) -> None:
        """Keep reading but drop frames."""
        for source in self._selected(source_id):
            source.mute()

    def resume_stream(self, source_id: int | None = None) -> None:
        """Resume paused or muted sources."""
        for source in self._selected(source_id):
            source.resume()

    def terminate(self) -> None:
        """Stop everything now (buffered frames and pending predictions are discarded)."""
        self._stop.set()
        for source in self.sources:
            source.terminate(wait_on_frames_consumption=False, join_timeout=0.2)

    def join(self, timeout: float | None = None) -> None:
        """Wait for the pipeline to finish (files end by themselves; streams after :meth:`terminate`)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in (self._inference_thread, self._dispatch_thread):
            if thread is not None and thread is not threading.current_thread():
                thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        for source in self.sources:
            source.join(0.0 if deadline is None else max(0.0, min(0.5, deadline - time.monotonic())))

    @property
    def running(self) -> bool:
        """True until every thread of the pipeline has finished."""
        threads = (self._inference_thread, self._dispatch_thread)
        return any(thread is not None and thread.is_alive() for thread in threads)

    def _selected(self, source_id: int | None) -> list[VideoSource]:
        if source_id is None:
            return self.sources
        if not 0 <= source_id < len(self.sources):
            raise ValueError(f"source_id {source_id} is out of range (0..{len(self.sources) - 1})")
        return [self.sources[source_id]]

    # ------------------------------------------------------------------------------ threads

    def _inference_loop(self) -> None:
        workers = (ThreadPoolExecutor(self._max_in_flight, thread_name_prefix="argus-infer")
                   if self._max_in_flight > 1 else None)
        try:
            while not self._stop.is_set():
                frames = self._collect()
                if frames is None:
                    break
                if not frames:
                    continue
                started = time.perf_counter()
                if workers is None:
                    self._finish(frames, started, self._predict(frames))
                    continue
                self._slots.acquire()
                future = workers.submit(self._predict, frames)
                with self._in_flight_lock:
                    self._in_flight.append((frames, started, future))
                future.add_done_callback(self._deliver_in_order)
        finally:
            if workers is not None:
                workers.shutdown(wait=True)  # in-flight batches are delivered before the end marker
            self._put(_END, force=True)

    def _predict(self, frames: list[VideoFrame]) -> list[Any] | Exception:
        try:
            return list(self._on_video_frame(frames))
        except Exception as error:  # noqa: BLE001 - one bad batch must not end a live pipeline
            return error

    def _deliver_in_order(self, _done: Future[Any]) -> None:
        """Hand finished batches to the sinks in the order they were read, whichever finished first."""
        with self._in_flight_lock:
            while self._in_flight and self._in_flight[0][2].done():
                frames, started, future = self._in_flight.popleft()
                self._slots.release()
                self._finish(frames, started, future.result())

    def _finish(self, frames: list[VideoFrame], started: float, outcome: list[Any] | Exception) -> None:
        if isinstance(outcome, Exception):
            self._report(INFERENCE_ERROR_EVENT, outcome)
            return
        if len(outcome) != len(frames):
            self._report(INFERENCE_ERROR_EVENT, ValueError(f"{len(outcome)} predictions for {len(frames)} frames"))
            return
        self.watchdog.on_batch_done()
        self._put((frames, outcome, started, time.perf_counter()))

    def _collect(self) -> list[VideoFrame] | None:
        """One frame from each source that has one (None once every source is exhausted)."""
        pending = [source for source in self.sources if not source.exhausted]
        if not pending:
            return None
        if len(pending) == 1:
            frame = pending[0].read_frame(timeout=_POLL_S * 2)
            return [frame] if frame is not None else []
        frames: list[VideoFrame] = []
        deadline = (None if self._batch_collection_timeout is None
                    else time.monotonic() + self._batch_collection_timeout)
        while pending and not self._stop.is_set():
            for source in list(pending):
                if source.frame_ready():
                    frame = source.read_frame(timeout=0.0)
                    if frame is not None:
                        frames.append(frame)
                    pending.remove(source)
                elif source.exhausted:
                    pending.remove(source)
            if not pending or (frames and deadline is not None and time.monotonic() >= deadline):
                break
            time.sleep(0.001)
        return sorted(frames, key=lambda frame: frame.source_id)

    def _put(self, item: Any, force: bool = False) -> None:
        while True:
            try:
                self._predictions.put(item, timeout=_POLL_S)
                return
            except queue.Full:
                if self._stop.is_set():
                    if not force:
                        return
                    try:  # make room for the end marker
                        self._predictions.get_nowait()
                    except queue.Empty:
                        pass

    def _dispatch_loop(self) -> None:
        while True:
            try:
                item = self._predictions.get(timeout=_POLL_S)
            except queue.Empty:
                if self._stop.is_set() and not (self._inference_thread and self._inference_thread.is_alive()):
                    return
                continue
            if item is _END:
                return
            if self._stop.is_set():
                continue  # terminated: pending predictions are discarded
            frames, predictions, started, finished = item
            self._dispatch(frames, predictions)
            done = time.perf_counter()
            for frame in frames:
                self.watchdog.on_frame_done(frame.source_id, LatencySample(
                    frame_decoding_latency=max(0.0, started - frame.grabbed_at),
                    inference_latency=finished - started, e2e_latency=done - frame.grabbed_at))

    def _dispatch(self, frames: list[VideoFrame], predictions: list[Any]) -> None:
        if self._on_prediction is None:
            return
        calls: list[tuple[Any, Any]]
        if self._sink_mode is SinkMode.SEQUENTIAL or (self._sink_mode is SinkMode.ADAPTIVE and len(self.sources) == 1):
            calls = list(zip(predictions, frames))
        else:
            by_source: list[Any] = [None] * len(self.sources)
            frames_by_source: list[Any] = [None] * len(self.sources)
            for frame, prediction in zip(frames, predictions):
                by_source[frame.source_id] = prediction
                frames_by_source[frame.source_id] = frame
            calls = [(by_source, frames_by_source)]
        for prediction, frame in calls:
            try:
                self._on_prediction(prediction, frame)
            except Exception as error:  # noqa: BLE001 - a failing sink is reported, the pipeline goes on
                self._report(SINK_ERROR_EVENT, error)

    def _report(self, event_type: str, error: BaseException) -> None:
        self.last_error = f"{type(error).__name__}: {error}"
        logger.warning("%s: %s", event_type, self.last_error, exc_info=error)
        update = StatusUpdate(timestamp=dt.datetime.now(), severity=UpdateSeverity.ERROR, event_type=event_type,
                              payload={"error_type": type(error).__name__, "error_message": str(error)},
                              context="inference_pipeline")
        for handler in self._status_handlers:
            try:
                handler(update)
            except Exception:
                logger.exception("status update handler failed")
