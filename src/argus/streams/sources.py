"""``VideoSource``: a decode thread feeding a bounded frame buffer, as Roboflow Inference's does.

Files default to WAIT + LAZY (no frame is lost, the reader sets the pace); live streams to
ADAPTIVE_DROP_OLDEST + EAGER (latency stays bounded). A live stream that drops is reopened with
exponential backoff (states RESTARTING, then RUNNING). ``terminate`` never waits on a connect in
progress: the decode thread is told to stop and its late result is thrown away, so a source
that never connects can still be ended at once.

Example:
    >>> source = VideoSource("clip.mp4")  # doctest: +SKIP
    >>> source.start()  # doctest: +SKIP
    >>> while (frame := source.read_frame()) is not None:  # doctest: +SKIP
    ...     print(frame.frame_id, frame.image.shape)
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import queue
import threading
import time
from typing import Any

import supervision as sv

from argus.errors import ConflictError
from argus.streams.entities import (
    ADAPTIVE_STRATEGIES,
    DEFAULT_ADAPTIVE_MODE_READER_PACE_TOLERANCE,
    DEFAULT_ADAPTIVE_MODE_STREAM_PACE_TOLERANCE,
    DEFAULT_BUFFER_SIZE,
    DEFAULT_MAXIMUM_ADAPTIVE_FRAMES_DROPPED_IN_ROW,
    DEFAULT_MINIMUM_ADAPTIVE_MODE_SAMPLES,
    DROP_OLDEST_STRATEGIES,
    FINAL_STATES,
    FRAME_DROPPED_EVENT,
    MAX_RESTART_ATTEMPT_DELAY,
    RESTART_ATTEMPT_DELAY,
    SOURCE_CONNECTION_ATTEMPT_FAILED_EVENT,
    SOURCE_CONNECTION_LOST_EVENT,
    STATE_UPDATE_EVENT,
    STREAM_ERROR_EVENT,
    BufferConsumptionStrategy,
    BufferFillingStrategy,
    SourceProperties,
    StatusHandler,
    StatusUpdate,
    StreamState,
    UpdateSeverity,
    VideoFrame,
)
from argus.streams.readers import (
    DEFAULT_OPEN_TIMEOUT_S,
    DEFAULT_READ_TIMEOUT_S,
    FrameReader,
    describe_reference,
    open_reader,
)

logger = logging.getLogger(__name__)

_POLL_S = 0.05


class StreamOperationNotAllowedError(ConflictError):
    """A command that the source's current state does not allow (409)."""


class VideoSource:
    """One video reference decoded in its own thread into a bounded buffer."""

    def __init__(
        self,
        video_reference: str | int | os.PathLike[str],
        *,
        source_id: int = 0,
        buffer_size: int = DEFAULT_BUFFER_SIZE,
        buffer_filling_strategy: BufferFillingStrategy | str | None = None,
        buffer_consumption_strategy: BufferConsumptionStrategy | str | None = None,
        max_fps: float | None = None,
        status_update_handlers: list[StatusHandler] | None = None,
        video_source_properties: dict[str, Any] | None = None,
        adaptive_mode_stream_pace_tolerance: float = DEFAULT_ADAPTIVE_MODE_STREAM_PACE_TOLERANCE,
        adaptive_mode_reader_pace_tolerance: float = DEFAULT_ADAPTIVE_MODE_READER_PACE_TOLERANCE,
        minimum_adaptive_mode_samples: int = DEFAULT_MINIMUM_ADAPTIVE_MODE_SAMPLES,
        maximum_adaptive_frames_dropped_in_row: int = DEFAULT_MAXIMUM_ADAPTIVE_FRAMES_DROPPED_IN_ROW,
        restart_attempt_delay: float = RESTART_ATTEMPT_DELAY,
        max_restart_attempt_delay: float = MAX_RESTART_ATTEMPT_DELAY,
        open_timeout: float = DEFAULT_OPEN_TIMEOUT_S,
        read_timeout: float = DEFAULT_READ_TIMEOUT_S,
    ) -> None:
        if isinstance(video_reference, os.PathLike):
            video_reference = os.fspath(video_reference)
        kind, is_file = describe_reference(video_reference)  # a missing file fails here, not in a thread
        if buffer_size < 1:
            raise ValueError("buffer_size must be at least 1")
        if max_fps is not None and max_fps <= 0:
            raise ValueError("max_fps must be positive")
        self.reference = video_reference
        self.source_id = source_id
        self.is_file = is_file
        self.filling_strategy = (BufferFillingStrategy(buffer_filling_strategy) if buffer_filling_strategy
                                 else BufferFillingStrategy.WAIT if is_file
                                 else BufferFillingStrategy.ADAPTIVE_DROP_OLDEST)
        self.consumption_strategy = (BufferConsumptionStrategy(buffer_consumption_strategy)
                                     if buffer_consumption_strategy
                                     else BufferConsumptionStrategy.LAZY if is_file
                                     else BufferConsumptionStrategy.EAGER)
        self.max_fps = max_fps
        self._kind = kind
        self._handlers = list(status_update_handlers or [])
        self._video_properties = dict(video_source_properties or {})
        self._stream_pace_tolerance = adaptive_mode_stream_pace_tolerance
        self._reader_pace_tolerance = adaptive_mode_reader_pace_tolerance
        self._min_samples = minimum_adaptive_mode_samples
        self._max_dropped_in_row = maximum_adaptive_frames_dropped_in_row
        self._restart_delay = restart_attempt_delay
        self._max_restart_delay = max_restart_attempt_delay
        self._open_timeout = open_timeout
        self._read_timeout = read_timeout
        self._buffer: queue.Queue[VideoFrame] = queue.Queue(maxsize=buffer_size)
        self._state = StreamState.NOT_STARTED
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._ended = threading.Event()
        self._playback_allowed = threading.Event()
        self._playback_allowed.set()
        self._buffering_allowed = True
        self._thread: threading.Thread | None = None
        self._properties: SourceProperties | None = None
        self._frame_counter = 0
        self._dropped_in_row = 0
        self._next_keep_time: float | None = None
        samples = 10 * minimum_adaptive_mode_samples
        self._grab_pace = sv.FPSMonitor(sample_size=samples)
        self._decode_pace = sv.FPSMonitor(sample_size=samples)
        self._reader_pace = sv.FPSMonitor(sample_size=samples)
        self.last_error: str | None = None
        self.frames_decoded = 0
        """Frames converted and buffered."""
        self.frames_dropped = 0
        """Frames dropped: by the buffer strategy, while muted, by ``max_fps``."""

    @classmethod
    def init(cls, video_reference: str | int, **kwargs: Any) -> VideoSource:
        """``VideoSource.init(reference, ...)``, the reference's spelling of the constructor."""
        return cls(video_reference, **kwargs)

    # ------------------------------------------------------------------------------ commands

    def start(self) -> None:
        """Start decoding in the background (returns at once; connecting happens in the thread)."""
        with self._lock:
            if self._state is not StreamState.NOT_STARTED:
                raise StreamOperationNotAllowedError(f"Could not START stream in state: {self._state.value}")
            self._change_state(StreamState.INITIALISING)
            self._thread = threading.Thread(target=self._run, name=f"argus-source-{self.source_id}", daemon=True)
            self._thread.start()

    def pause(self) -> None:
        """Stop reading the source (a live stream's server keeps the backlog)."""
        with self._lock:
            self._require({StreamState.RUNNING}, "PAUSE")
            self._playback_allowed.clear()
            self._change_state(StreamState.PAUSED)

    def mute(self) -> None:
        """Keep reading but drop every frame (a live stream stays current)."""
        with self._lock:
            self._require({StreamState.RUNNING}, "MUTE")
            self._buffering_allowed = False
            self._change_state(StreamState.MUTED)

    def resume(self) -> None:
        """Undo :meth:`pause` or :meth:`mute`."""
        with self._lock:
            self._require({StreamState.PAUSED, StreamState.MUTED}, "RESUME")
            self._buffering_allowed = True
            self._grab_pace.reset()
            self._playback_allowed.set()
            self._change_state(StreamState.RUNNING)

    def terminate(self, wait_on_frames_consumption: bool = False, join_timeout: float = 1.0) -> None:
        """Stop decoding. Returns within ``join_timeout`` even when a connect is still in progress.

        With ``wait_on_frames_consumption`` buffered frames stay readable; otherwise they are discarded.
        """
        with self._lock:
            if self._state in FINAL_STATES and self._stop.is_set():
                return
            if self._state not in FINAL_STATES:
                self._change_state(StreamState.TERMINATING)
            self._stop.set()
            self._playback_allowed.set()
        if not wait_on_frames_consumption:
            self._drain()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=join_timeout)
        self._ended.set()
        with self._lock:
            if self._state is StreamState.TERMINATING:
                self._change_state(StreamState.ENDED)

    def join(self, timeout: float | None = None) -> None:
        """Wait for the decode thread to finish."""
        if self._thread is not None:
            self._thread.join(timeout)

    # ------------------------------------------------------------------------------ reading

    def read_frame(self, timeout: float | None = None) -> VideoFrame | None:
        """The next frame (LAZY) or the newest one, discarding older ones (EAGER).

        Returns None once the source has ended and the buffer is empty, or when ``timeout`` passes.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                frame = self._buffer.get(timeout=_POLL_S)
                break
            except queue.Empty:
                if self._ended.is_set() and self._buffer.empty():
                    return None
                if deadline is not None and time.monotonic() >= deadline:
                    return None
        self._reader_pace.tick()
        if self.consumption_strategy is BufferConsumptionStrategy.EAGER:
            while True:
                try:
                    frame = self._buffer.get_nowait()
                    self._reader_pace.tick()
                except queue.Empty:
                    break
        return frame

    def frame_ready(self) -> bool:
        """True when a frame is buffered."""
        return not self._buffer.empty()

    @property
    def exhausted(self) -> bool:
        """True once the source has ended and every buffered frame has been read."""
        return self._ended.is_set() and self._buffer.empty()

    def get_state(self) -> StreamState:
        """The current state."""
        return self._state

    @property
    def properties(self) -> SourceProperties | None:
        """Width, height, fps, ... once connected."""
        return self._properties

    def describe_source(self) -> dict[str, Any]:
        """The reference's ``sources_metadata`` entry."""
        return {"source_properties": self._properties.to_json() if self._properties else None,
                "source_reference": str(self.reference), "source_id": self.source_id,
                "buffer_size": self._buffer.maxsize, "state": self._state.value,
                "buffer_filling_strategy": self.filling_strategy.value,
                "buffer_consumption_strategy": self.consumption_strategy.value,
                "measured_fps": self._decode_pace.fps, "frames_decoded": self.frames_decoded,
                "frames_dropped": self.frames_dropped, "last_error": self.last_error}

    # ------------------------------------------------------------------------------ the thread

    def _run(self) -> None:
        delay = self._restart_delay
        reconnecting = False
        try:
            while not self._stop.is_set():
                reader = self._connect(reconnecting)
                if reader is None:
                    if self._stop.is_set() or not self._reconnectable:
                        return
                    reconnecting = True
                    self._stop.wait(delay)
                    delay = min(delay * 2, self._max_restart_delay)
                    continue
                delay = self._restart_delay
                try:
                    finished = self._consume(reader)
                    lost_reason = "end of stream"
                except Exception as error:  # noqa: BLE001 - a read error: the connection dropped or the file is corrupt
                    finished, lost_reason = False, f"{type(error).__name__}: {error}"
                    if not self._reconnectable:
                        self._fail(error)
                        return
                finally:
                    reader.close()
                if self._stop.is_set() or (finished and not self._reconnectable):
                    return
                self._notify(UpdateSeverity.WARNING, SOURCE_CONNECTION_LOST_EVENT, {"reason": lost_reason})
                reconnecting = True
                self._set_state_unless_final(StreamState.RESTARTING)
                self._stop.wait(delay)
        except Exception as error:  # noqa: BLE001 - never let the thread die silently
            self._fail(error)
        finally:
            self._ended.set()
            self._set_state_unless_final(StreamState.ENDED)

    @property
    def _reconnectable(self) -> bool:
        return not self.is_file

    def _connect(self, reconnecting: bool) -> FrameReader | None:
        self._set_state_unless_final(StreamState.RESTARTING if reconnecting else StreamState.INITIALISING)
        try:
            reader = open_reader(self.reference, self._video_properties, self._open_timeout, self._read_timeout)
        except Exception as error:  # noqa: BLE001 - a source that cannot open is retried, its error kept
            self.last_error = f"{type(error).__name__}: {error}"
            if self._stop.is_set():
                return None
            if not self._reconnectable:
                self._fail(error)
                return None
            self._notify(UpdateSeverity.WARNING, SOURCE_CONNECTION_ATTEMPT_FAILED_EVENT,
                         {"error_type": type(error).__name__, "error_message": str(error)})
            self._set_state_unless_final(StreamState.RESTARTING)
            return None
        if self._stop.is_set():  # terminated while connecting: the late connection is discarded
            reader.close()
            return None
        self._properties = reader.properties
        self._grab_pace.reset()
        self._decode_pace.reset()
        self._reader_pace.reset()
        self._dropped_in_row = 0
        with self._lock:
            if self._state in (StreamState.INITIALISING, StreamState.RESTARTING):
                paused = not self._playback_allowed.is_set()
                target = (StreamState.PAUSED if paused else
                          StreamState.MUTED if not self._buffering_allowed else StreamState.RUNNING)
                self._change_state(target)
        return reader

    def _consume(self, reader: FrameReader) -> bool:
        """Read until the end (True) or until stopped (False)."""
        declared_fps = reader.properties.fps
        while not self._stop.is_set():
            if not self._playback_allowed.wait(_POLL_S * 2):
                continue
            if not reader.grab():
                return True
            grabbed_at = time.perf_counter()  # the frame exists from here (a stream's wait for it is not latency)
            timestamp = dt.datetime.now()
            self._grab_pace.tick()
            self._frame_counter += 1
            frame_id = self._frame_counter
            if not self._keep_for_max_fps(reader.media_time(), grabbed_at):
                self._dropped(frame_id, "max_fps")
                continue
            if not self._buffering_allowed:
                self._dropped(frame_id, "Buffering not allowed at the moment")
                continue
            if self._adaptively_dropped(declared_fps):
                self._dropped_in_row += 1
                self._dropped(frame_id, "ADAPTIVE strategy")
                continue
            self._dropped_in_row = 0
            if self._buffer.full() and self.filling_strategy in (BufferFillingStrategy.DROP_LATEST,
                                                                  BufferFillingStrategy.ADAPTIVE_DROP_LATEST):
                self._dropped(frame_id, "DROP_LATEST strategy")
                continue
            frame = VideoFrame(image=reader.retrieve(), frame_id=frame_id, frame_timestamp=timestamp,
                               source_id=self.source_id, fps=declared_fps, measured_fps=self._decode_pace.fps,
                               comes_from_video_file=self.is_file, media_time=reader.media_time(),
                               grabbed_at=grabbed_at, source_reference=str(self.reference))
            self._decode_pace.tick()
            self.frames_decoded += 1
            if not self._put(frame):
                return False
        return False

    def _put(self, frame: VideoFrame) -> bool:
        if self.filling_strategy in DROP_OLDEST_STRATEGIES:
            while True:
                try:
                    self._buffer.put_nowait(frame)
                    return True
                except queue.Full:
                    try:
                        dropped = self._buffer.get_nowait()
                        self._dropped(dropped.frame_id, "DROP_OLDEST strategy")
                    except queue.Empty:
                        pass
        while not self._stop.is_set():  # WAIT (and DROP_LATEST, which only gets here with room)
            try:
                self._buffer.put(frame, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def _keep_for_max_fps(self, media_time: float | None, grabbed_at: float) -> bool:
        """Subsample to ``max_fps``: by media time for files (deterministic), by wall clock for streams."""
        if self.max_fps is None:
            return True
        now = media_time if (self.is_file and media_time is not None) else grabbed_at
        if self.is_file and media_time is None and self._properties and self._properties.fps > 0:
            now = (self._frame_counter - 1) / self._properties.fps
        interval = 1.0 / self.max_fps
        if self._next_keep_time is not None and now < self._next_keep_time - 1e-6:
            return False
        self._next_keep_time = now + interval if self._next_keep_time is None else max(
            self._next_keep_time + interval, now)
        return True

    def _adaptively_dropped(self, declared_fps: float) -> bool:
        """The reference's rule: drop when decoding lags the stream or runs far ahead of the reader."""
        if self.filling_strategy not in ADAPTIVE_STRATEGIES or self._dropped_in_row >= self._max_dropped_in_row:
            return False
        if len(self._grab_pace.all_timestamps) < self._min_samples:
            return False
        stream_pace = self._grab_pace.fps
        announced = declared_fps if declared_fps > 0 else stream_pace
        if announced - stream_pace > self._stream_pace_tolerance:
            return True
        if (len(self._reader_pace.all_timestamps) < self._min_samples
                or len(self._decode_pace.all_timestamps) < self._min_samples):
            return False
        return self._decode_pace.fps - self._reader_pace.fps > self._reader_pace_tolerance

    # ------------------------------------------------------------------------------ helpers

    def _require(self, allowed: set[StreamState], operation: str) -> None:
        if self._state not in allowed:
            raise StreamOperationNotAllowedError(f"Could not {operation} stream in state: {self._state.value}")

    def _drain(self) -> None:
        while True:
            try:
                self._buffer.get_nowait()
            except queue.Empty:
                return

    def _fail(self, error: BaseException) -> None:
        self.last_error = f"{type(error).__name__}: {error}"
        logger.warning("video source %s failed: %s", self.reference, self.last_error)
        with self._lock:
            self._change_state(StreamState.ERROR)
        self._notify(UpdateSeverity.ERROR, STREAM_ERROR_EVENT,
                     {"error_type": type(error).__name__, "error_message": str(error),
                      "error_context": "stream_consumer_thread"})

    def _set_state_unless_final(self, state: StreamState) -> None:
        with self._lock:
            if self._state in FINAL_STATES:
                return
            if self._state is StreamState.TERMINATING and state is not StreamState.ENDED:
                return
            if self._state is not state:
                self._change_state(state)

    def _change_state(self, state: StreamState) -> None:
        previous, self._state = self._state, state
        self._notify(UpdateSeverity.INFO, STATE_UPDATE_EVENT,
                     {"previous_state": previous.value, "new_state": state.value})

    def _dropped(self, frame_id: int, cause: str) -> None:
        self.frames_dropped += 1
        if self._handlers:
            self._notify(UpdateSeverity.DEBUG, FRAME_DROPPED_EVENT, {"frame_id": frame_id, "cause": cause})

    def _notify(self, severity: UpdateSeverity, event_type: str, payload: dict[str, Any]) -> None:
        update = StatusUpdate(timestamp=dt.datetime.now(), severity=severity, event_type=event_type,
                              payload={"source_id": self.source_id, **payload}, context=f"source_{self.source_id}")
        for handler in self._handlers:
            try:
                handler(update)
            except Exception:  # a handler must not break decoding
                logger.exception("status update handler failed")
