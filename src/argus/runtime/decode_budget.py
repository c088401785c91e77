"""A server-wide bound on decoded image memory: requests reserve their next batch's bytes before decoding it.

Per-request limits (images, pixels) stop one request from taking more than its share; this bound stops many
requests together from doing so. A reservation waits while others hold the memory (any waiter that fits is
let in, so small requests pass large ones) and gives up with a 503 and ``Retry-After`` after ``wait_s``.
Nothing in the standard library or the kept libraries is a byte-counting semaphore with a timeout, hence
this class.

Example:
    >>> budget = DecodeBudget(capacity_bytes=100, wait_s=0.01)
    >>> with budget.reserve(60):
    ...     budget.in_use
    60
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from argus.errors import OverloadedError


class DecodeBudget:
    """Bytes of decoded images held at once, across every request of the server."""

    def __init__(self, capacity_bytes: int, wait_s: float) -> None:
        self.capacity = capacity_bytes
        self.wait_s = wait_s
        self._used = 0
        self._cond = threading.Condition()
        self.refused = 0

    @property
    def in_use(self) -> int:
        """Bytes reserved now."""
        with self._cond:
            return self._used

    @contextmanager
    def reserve(self, nbytes: int) -> Iterator[None]:
        """Hold ``nbytes`` while the block runs; wait up to ``wait_s`` for room, else 503.

        A reservation larger than the whole capacity is let in alone (when nothing else is held), so a request
        within its own limits is never refused forever.
        """
        deadline = time.monotonic() + self.wait_s
        with self._cond:
            while self._used and self._used + nbytes > self.capacity:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.refused += 1
                    raise OverloadedError(
                        f"The server is decoding {self._used >> 20} MiB of images (limit "
                        f"{self.capacity >> 20} MiB, ARGUS_DECODED_MEMORY_MB); retry shortly.",
                        retry_after=max(1.0, self.wait_s))
                self._cond.wait(remaining)
            self._used += nbytes
        try:
            yield
        finally:
            with self._cond:
                self._used -= nbytes
                self._cond.notify_all()
