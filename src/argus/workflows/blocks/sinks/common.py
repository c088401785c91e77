"""What the sink blocks share: ``disable_sink``, cooldown, fire-and-forget, and query-language operations.

A sink returns ``{"error_status", "throttling_status", "message"}`` like the reference: a failed
delivery is reported in the outputs, not raised, so one flaky endpoint does not fail the workflow.
``fire_and_forget`` runs the delivery on a background thread pool and answers at once.

Example:
    >>> with_operations({"n": [1, 2, 3]}, {"n": [{"type": "SequenceLength"}]})
    {'n': 3}
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any

from pydantic import TypeAdapter

from argus.workflows.blocks.base import Block, BlockManifest, OutputDefinition, Selector
from argus.workflows.kinds import BOOLEAN_KIND, INTEGER_KIND, STRING_KIND
from argus.workflows.query_language import AllOperationsType, apply_operations

logger = logging.getLogger(__name__)

Delivery = Callable[[], tuple[bool, str]]
_OPERATIONS = TypeAdapter(list[AllOperationsType])
_background: ThreadPoolExecutor | None = None
_background_lock = threading.Lock()


def background_executor() -> Executor:
    """The process-wide pool fire-and-forget deliveries run on (created on first use)."""
    global _background
    with _background_lock:
        if _background is None:
            _background = ThreadPoolExecutor(max_workers=4, thread_name_prefix="argus-sink")
        return _background


def with_operations(parameters: dict[str, Any], operations: dict[str, list[Any]]) -> dict[str, Any]:
    """``parameters`` with each named one passed through its operation chain (the reference's UQL)."""
    result = dict(parameters)
    for name, chain in operations.items():
        if chain and name in result:
            result[name] = apply_operations(_OPERATIONS.validate_python(chain), result[name])
    return result


def sink_outputs(with_throttling: bool = True) -> list[OutputDefinition]:
    """The outputs every sink declares."""
    outputs = [OutputDefinition(name="error_status", kind=[BOOLEAN_KIND])]
    if with_throttling:
        outputs.append(OutputDefinition(name="throttling_status", kind=[BOOLEAN_KIND]))
    return [*outputs, OutputDefinition(name="message", kind=[STRING_KIND])]


class NotificationManifest(BlockManifest):
    """``fire_and_forget``, ``disable_sink`` and ``cooldown_seconds`` of notifying sinks."""

    fire_and_forget: bool | Selector(kind=[BOOLEAN_KIND]) = True  # type: ignore[valid-type]
    """Deliver in the background; ``error_status`` is then always false (use false to see errors)."""
    disable_sink: bool | Selector(kind=[BOOLEAN_KIND]) = False  # type: ignore[valid-type]
    """Skip delivery (may point at an input to switch it per request)."""
    cooldown_seconds: int | Selector(kind=[INTEGER_KIND]) = 5  # type: ignore[valid-type]
    """Seconds after a delivery during which further runs are throttled (0: none)."""

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return sink_outputs()


def result(error: bool, message: str, throttled: bool = False) -> dict[str, Any]:
    """The sink's outputs."""
    return {"error_status": error, "throttling_status": throttled, "message": message}


class NotificationBlock(Block):
    """Runs a delivery unless disabled or cooling down; in the background when asked to."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._last_fired: float | None = None
        self._lock = threading.Lock()
        self.pending: list[Future[tuple[bool, str]]] = []

    def notify(self, delivery: Delivery, fire_and_forget: bool, disable_sink: bool,
               cooldown_seconds: float) -> dict[str, Any]:
        """Deliver (or skip, or throttle) and report as the reference does."""
        if disable_sink or self.element.disable_sinks:
            return result(False, "Sink was disabled by parameter `disable_sink`")
        with self._lock:
            now = time.monotonic()
            if self._last_fired is not None and now - self._last_fired < float(cooldown_seconds):
                return result(False, "Sink cooldown applies", throttled=True)
            self._last_fired = now
        if fire_and_forget:
            executor = self.context.executor or background_executor()
            self.pending = [f for f in self.pending if not f.done()]
            self.pending.append(executor.submit(_logged(delivery, self.step.name)))
            return result(False, "Notification sent in the background task")
        error, message = delivery()
        return result(error, message)


def _logged(delivery: Delivery, step: str) -> Delivery:
    def run() -> tuple[bool, str]:
        error, message = delivery()
        if error:
            logger.warning("sink step %s: %s", step, message)
        return error, message

    return run
