"""What the sink blocks share: ``disable_sink``, cooldown, fire-and-forget, and query-language operations.

A sink returns ``{"error_status", "throttling_status", "message"}`` like the reference: a failed
delivery is reported in the outputs, not raised, so one flaky endpoint does not fail the workflow.

Every delivery runs on one bounded pool (``ARGUS_SINK_THREADS`` threads, at most
:data:`~argus.workflows.pools.PENDING_PER_THREAD` per thread queued or running; past that a delivery is refused in the outputs rather than queued), so sinks never take
the server's request threads. ``fire_and_forget`` answers at once; otherwise the step waits for its delivery,
at most :data:`MAX_DELIVERY_S`. Every duration a definition can set has a maximum (:func:`bounded`).

Example:
    >>> with_operations({"n": [1, 2, 3]}, {"n": [{"type": "SequenceLength"}]})
    {'n': 3}
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Annotated, Any

from pydantic import Field, TypeAdapter

from argus.errors import InvalidInputError
from argus.workflows.blocks.base import Block, BlockManifest, OutputDefinition, Selector
from argus.workflows.kinds import BOOLEAN_KIND, INTEGER_KIND, STRING_KIND
from argus.workflows.pools import Delivery, pools_for
from argus.workflows.query_language import AllOperationsType, apply_operations

logger = logging.getLogger(__name__)

_OPERATIONS = TypeAdapter(list[AllOperationsType])

MAX_DELIVERY_S = 120.0
"""Upper bound on one delivery, its retries and their waits included."""
MAX_COOLDOWN_S = 86_400


def bounded(name: str, value: Any, low: float, high: float) -> float:
    """``value`` as a number within ``[low, high]``, else a 400 naming the field and its range (values that come
    from selectors are only known at run time, so the manifest's own bounds cannot check them)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"'{name}' must be a number, got {str(value)[:40]!r}.") from None
    if not low <= number <= high:
        raise InvalidInputError(f"'{name}' must be between {low:g} and {high:g}, got {number:g}.")
    return number


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
    cooldown_seconds: Annotated[int, Field(ge=0, le=MAX_COOLDOWN_S)] | Selector(  # type: ignore[valid-type]
        kind=[INTEGER_KIND]) = 5
    """Seconds after a delivery during which further runs are throttled (0: none; at most a day)."""

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

    def disabled(self, disable_sink: bool) -> dict[str, Any] | None:
        """The outputs of a disabled sink (by the step or the request), checked before anything else; else None."""
        if disable_sink or self.element.disable_sinks:
            return result(False, "Sink was disabled by parameter `disable_sink`")
        return None

    def notify(self, delivery: Delivery, fire_and_forget: bool, disable_sink: bool,
               cooldown_seconds: float) -> dict[str, Any]:
        """Deliver (or skip, or throttle) and report as the reference does."""
        cooldown = bounded("cooldown_seconds", cooldown_seconds, 0, MAX_COOLDOWN_S)
        skipped = self.disabled(disable_sink)
        if skipped:
            return skipped
        with self._lock:
            now = time.monotonic()
            if self._last_fired is not None and now - self._last_fired < cooldown:
                return result(False, "Sink cooldown applies", throttled=True)
            self._last_fired = now
        pool = pools_for(self.context.settings).sinks
        future = pool.submit(_logged(delivery, self.step.name) if fire_and_forget else delivery)
        if future is None:
            return result(True, f"{pool.max_pending} deliveries are already pending on this server; this one was "
                                "dropped (retry later, raise cooldown_seconds, or ARGUS_SINK_THREADS).")
        if fire_and_forget:
            self.pending = [f for f in self.pending if not f.done()] + [future]
            return result(False, "Notification sent in the background task")
        try:
            error, message = future.result(timeout=MAX_DELIVERY_S + 5)
        except FutureTimeout:
            return result(True, f"The delivery did not finish within {MAX_DELIVERY_S:g} s.")
        return result(error, message)


def _logged(delivery: Delivery, step: str) -> Delivery:
    def run() -> tuple[bool, str]:
        error, message = delivery()
        if error:
            logger.warning("sink step %s: %s", step, message)
        return error, message

    return run
