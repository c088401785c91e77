"""Dynamic batching with admission control: many request threads, one ``session.run`` at a time per model.

Request threads decode and preprocess their images in parallel, then hand the input tensor to the
model's :class:`DynamicBatcher`. One runner thread per model takes queued tensors in arrival
order, packs them into a batch of at most ``max_batch_size`` rows, runs the model once and hands
each caller its rows of the outputs. So decoding request N+1 overlaps with the model running
request N, and concurrent requests never oversubscribe the cores with parallel ``session.run``
calls.

The runner waits up to ``max_queue_delay`` for a batch to fill, but only while another request is
still being admitted and preprocessed: a lone request runs at once, so batching never adds latency
when there is nothing to batch with. Admission is bounded: past ``max_pending_rows`` images
admitted and not yet run, :meth:`DynamicBatcher.admit` raises :class:`OverloadedError` (HTTP 503
with ``Retry-After``) instead of letting latency grow without bound.

With several runner instances, a second run function can be given for *crowded* moments: when a batch
starts while another runner is busy or more work is queued or being admitted, it runs with ``crowded_run``
(the model's single-threaded session), otherwise with ``run_batch`` (every core). A lone request keeps every
intra-op thread, and under load each runner has one core: no more busy threads than cores, which is what
kept the tail long (benchmarks/RESULTS.md, runner configurations).

Triton's dynamic batcher and Ray Serve's ``@serve.batch`` do this for their own servers; neither is
a library a plain ONNX Runtime process can use, hence this module.

Example:
    >>> import numpy as np
    >>> batcher = DynamicBatcher(lambda x: [x * 2], BatchPolicy(max_batch_size=4))
    >>> with batcher.admit(1) as ticket:
    ...     ticket.run(np.ones((1, 2), np.float32))[0].tolist()
    [[2.0, 2.0]]
    >>> batcher.close()
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from argus.errors import ClientGoneError, ImageTooLargeError, OverloadedError

logger = logging.getLogger(__name__)

RunBatch = Callable[[np.ndarray], list[np.ndarray]]
ClientGone = Callable[[], bool]


@dataclass(frozen=True)
class BatchPolicy:
    """How a model's requests are batched and bounded."""

    max_batch_size: int = 1
    max_queue_delay: float = 0.002  # seconds a batch may wait to fill while more requests are on the way
    max_pending_rows: int = 64  # images admitted (preprocessing or queued) before new requests get a 503
    instances: int = 1  # runner threads, each running its own batches (Triton's instance count)


@dataclass
class _Item:
    tensor: np.ndarray
    client_gone: ClientGone | None = None
    future: Future[list[np.ndarray]] = field(default_factory=Future)
    queued_at: float = field(default_factory=time.perf_counter)
    started_at: float = 0.0  # when its batch began to run
    run_seconds: float = 0.0  # how long its batch ran

    @property
    def rows(self) -> int:
        return int(self.tensor.shape[0])


class Ticket:
    """An admitted request: :meth:`run` queues its tensor and waits for its share of a batch."""

    def __init__(self, batcher: DynamicBatcher, rows: int, client_gone: ClientGone | None = None) -> None:
        self._batcher = batcher
        self._rows = rows  # admitted rows not yet queued
        self.client_gone = client_gone  # a request whose client left is dropped before its batch runs
        self.queue_seconds = 0.0  # time its tensors waited for a batch
        self.run_seconds = 0.0  # time the batches holding its tensors ran

    def run(self, tensor: np.ndarray) -> list[np.ndarray]:
        """Run ``tensor`` (at most ``max_batch_size`` rows) in the next batch; its rows of each output."""
        queued = min(self._rows, int(tensor.shape[0]))
        self._rows -= queued
        item = self._batcher._submit(tensor, admitted=queued, client_gone=self.client_gone)
        outputs = item.future.result()
        self.queue_seconds += item.started_at - item.queued_at
        self.run_seconds += item.run_seconds
        return outputs

    def _release(self) -> None:
        if self._rows:
            self._batcher._release(self._rows)
            self._rows = 0


class DynamicBatcher:
    """Batches tensors for one model; see the module docstring."""

    def __init__(self, run_batch: RunBatch, policy: BatchPolicy, name: str = "model",
                 crowded_run: RunBatch | None = None) -> None:
        self.policy = policy
        self.name = name
        self._run_batch = run_batch
        self._crowded_run = crowded_run
        self._running = 0  # runners inside a run
        self.crowded_batches = 0  # batches run with crowded_run
        self._queue: deque[_Item] = deque()
        self._cond = threading.Condition()
        self._incoming = 0  # admitted rows still being preprocessed
        self._queued = 0  # rows in the queue
        self._closed = False
        self._threads: list[threading.Thread] = []
        self._batch_seconds = 0.0  # moving average, for Retry-After
        self.batches_run = 0
        self.rows_run = 0
        self.refused = 0  # admissions refused as overloaded
        self.dropped = 0  # queued tensors dropped because their client had gone

    @property
    def pending_rows(self) -> int:
        """Images admitted and not yet taken into a batch."""
        with self._cond:
            return self._incoming + self._queued

    @contextmanager
    def admit(self, rows: int, client_gone: ClientGone | None = None) -> Iterator[Ticket]:
        """Reserve room for ``rows`` images, or raise :class:`OverloadedError` when the model is saturated.

        A request's images count in full even when the queue is empty: one request cannot take more than
        ``max_pending_rows`` places (a request that could never fit is a 413 rather than a 503).
        """
        with self._cond:
            pending = self._incoming + self._queued
            if rows > self.policy.max_pending_rows:
                raise ImageTooLargeError(f"The request carries {rows} images; model '{self.name}' queues at most "
                                         f"{self.policy.max_pending_rows} (ARGUS_MAX_PENDING_IMAGES).")
            if pending + rows > self.policy.max_pending_rows:
                self.refused += 1
                raise OverloadedError(
                    f"Model '{self.name}' has {pending} images waiting (limit {self.policy.max_pending_rows}); "
                    "retry later or add capacity.", retry_after=self._retry_after(pending))
            self._incoming += rows
        ticket = Ticket(self, rows, client_gone)
        try:
            yield ticket
        finally:
            ticket._release()

    def close(self) -> None:
        """Stop the runner after it has run what is already queued."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _retry_after(self, pending: int) -> float:
        batches_ahead = pending / (self.policy.max_batch_size * self.policy.instances)
        return max(1.0, round(batches_ahead * (self._batch_seconds or 0.05)))

    def _release(self, rows: int) -> None:
        with self._cond:
            self._incoming -= rows
            self._cond.notify_all()

    def _submit(self, tensor: np.ndarray, admitted: int, client_gone: ClientGone | None = None) -> _Item:
        item = _Item(tensor, client_gone)
        with self._cond:
            self._incoming -= admitted
            if self._closed:  # the model was unloaded while this request held it: run it here
                closed = True
            else:
                closed = False
                self._queue.append(item)
                self._queued += item.rows
                self._ensure_runner()
                self._cond.notify_all()
        if closed:
            self._run([item])
        return item

    @property
    def runners(self) -> list[threading.Thread]:
        """The runner threads started so far."""
        return list(self._threads)

    def _ensure_runner(self) -> None:
        if not self._threads:
            for index in range(self.policy.instances):
                thread = threading.Thread(target=self._loop, name=f"argus-batcher-{self.name}-{index}", daemon=True)
                self._threads.append(thread)
                thread.start()

    def _loop(self) -> None:
        while True:
            taken = self._next_batch()
            if taken is None:
                return
            batch, crowded = taken
            try:
                self._run(batch, crowded)
            finally:
                with self._cond:
                    self._running -= 1

    def _next_batch(self) -> tuple[list[_Item], bool] | None:
        """Block for the first item, then gather more until the batch is full, the delay passes, or no
        admitted request is left that could still join."""
        limit = self.policy.max_batch_size
        with self._cond:
            while not self._queue:
                if self._closed:
                    return None
                self._cond.wait()
            deadline = time.monotonic() + self.policy.max_queue_delay
            while self._queued < limit and self._incoming > 0 and not self._closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            batch: list[_Item] = []
            rows = 0
            while self._queue and (not batch or rows + self._queue[0].rows <= limit):
                item = self._queue.popleft()
                self._queued -= item.rows
                if item.client_gone is not None and item.client_gone():
                    self.dropped += 1
                    item.future.set_exception(ClientGoneError("The client closed the connection before its images "
                                                              "ran; they were dropped."))
                elif item.future.set_running_or_notify_cancel():
                    batch.append(item)
                    rows += item.rows
            # Crowded: another runner is busy, or more work is queued or being admitted behind this batch.
            crowded = self._running > 0 or bool(self._queue) or self._incoming > 0
            self._running += 1
            return batch, crowded

    def _run(self, batch: list[_Item], crowded: bool = False) -> None:
        if not batch:
            return
        started = time.perf_counter()
        for item in batch:
            item.started_at = started
        run = self._run_batch
        if crowded and self._crowded_run is not None:
            run = self._crowded_run
            self.crowded_batches += 1
        try:
            tensor = batch[0].tensor if len(batch) == 1 else np.concatenate([i.tensor for i in batch])
            outputs = run(tensor)
        except Exception as error:  # noqa: BLE001 - handed to the callers
            if len(batch) == 1:
                batch[0].future.set_exception(error)
            else:  # find the culprit: each request runs alone, so one bad input fails alone
                for item in batch:
                    self._run_alone(item)
            return
        seconds = time.perf_counter() - started
        self._record(seconds, sum(i.rows for i in batch))
        offset = 0
        for item in batch:
            item.run_seconds = seconds
            item.future.set_result(_rows_of(outputs, offset, item.rows, int(tensor.shape[0])))
            offset += item.rows

    def _run_alone(self, item: _Item) -> None:
        item.started_at = time.perf_counter()
        try:
            outputs = self._run_batch(item.tensor)
            item.run_seconds = time.perf_counter() - item.started_at
            item.future.set_result(outputs)
        except Exception as error:  # noqa: BLE001 - handed to the caller
            item.future.set_exception(error)

    def _record(self, seconds: float, rows: int) -> None:
        with self._cond:
            self._batch_seconds = seconds if not self.batches_run else 0.8 * self._batch_seconds + 0.2 * seconds
            self.batches_run += 1
            self.rows_run += rows


def _rows_of(outputs: list[np.ndarray], offset: int, rows: int, total: int) -> list[np.ndarray]:
    """Each output's rows for one request; outputs without a batch dimension are shared whole."""
    return [o[offset:offset + rows] if o.ndim and o.shape[0] == total else o for o in outputs]
