"""What the controller and the router know about one endpoint while the server runs (in memory)."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from argus.endpoints.autoscaling import LoadSample
from argus.endpoints.backends.base import Replica, ReplicaPhase
from argus.endpoints.spec import EndpointSpec, EndpointState, EndpointType

FAILED_AFTER = 3
"""Consecutive replica failures after which an endpoint reports failed."""


@dataclass
class TrafficStats:
    """Requests answered since the last metrics sample."""

    requests: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    def record(self, status: int, seconds: float) -> None:
        """Count one answered request (5xx are errors)."""
        self.requests += 1
        if status >= 500:
            self.errors += 1
        if len(self.latencies_ms) < 100_000:
            self.latencies_ms.append(seconds * 1e3)

    def quantiles(self) -> tuple[float | None, float | None, float | None]:
        """p50, p95, p99 in milliseconds (None without requests)."""
        values = self.latencies_ms
        if not values:
            return None, None, None
        if len(values) == 1:
            return values[0], values[0], values[0]
        cuts = statistics.quantiles(values, n=100, method="inclusive")
        return statistics.median(values), cuts[94], cuts[98]


@dataclass
class EndpointRuntime:
    """Desired spec, replicas and live counters of one endpoint."""

    id: int
    namespace: str
    name: str
    spec: EndpointSpec
    generation: int
    paused: bool
    target: int
    created_at: datetime
    replicas: list[Replica] = field(default_factory=list)
    waiting: int = 0
    last_request_at: float = field(default_factory=time.monotonic)
    last_change_at: float = field(default_factory=time.monotonic)
    samples: deque[LoadSample] = field(default_factory=lambda: deque(maxlen=4096))
    failures: int = 0
    """Consecutive replica failures (start failures and crashes); reset once a replica stays up."""
    last_failure: str = ""
    backoff_until: float = 0.0
    cold_start_s: float = 2.0
    """How long the last replica took to become ready (the Retry-After estimate)."""
    state: EndpointState = EndpointState.PENDING
    reported_target: int = -1
    message: str = "Waiting for the controller"
    updated_at: datetime | None = None
    traffic: TrafficStats = field(default_factory=TrafficStats)
    ready_event: asyncio.Event = field(default_factory=asyncio.Event)
    deleted: bool = False

    @property
    def key(self) -> tuple[str, str]:
        """``(namespace, name)``."""
        return self.namespace, self.name

    @property
    def kind(self) -> EndpointType:
        """The access type."""
        return self.spec.type

    @property
    def recovering(self) -> bool:
        """A replica failed and a replacement is on the way (not yet failed for good, not scaled to zero)."""
        return 0 < self.failures < FAILED_AFTER and self.target > 0

    def ready(self) -> list[Replica]:
        """Replicas that take new requests."""
        return [r for r in self.replicas if r.phase == ReplicaPhase.READY]

    def live(self) -> list[Replica]:
        """Starting or ready replicas (not draining)."""
        return [r for r in self.replicas if r.phase in (ReplicaPhase.STARTING, ReplicaPhase.READY)]

    def in_flight(self) -> int:
        """Requests replicas are answering now."""
        return sum(r.outstanding for r in self.replicas)

    def mark_ready_changed(self) -> None:
        """Keep ``ready_event`` set exactly while a replica is ready (held requests wait on it)."""
        if self.ready():
            self.ready_event.set()
        else:
            self.ready_event.clear()
