"""The seams between the controller and whatever runs replicas.

:class:`Backend` runs replicas one by one for the controller (local processes): the controller starts, probes,
drains and stops each. :class:`ManagedBackend` is a system that runs them itself (Ray Serve): the controller
declares every endpoint's generation and replica count in one :meth:`~ManagedBackend.apply`, and mirrors what
:meth:`~ManagedBackend.observe` reports into the same runtime the router reads. Both share :class:`LogSource`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ReplicaPhase(StrEnum):
    """Life of one replica."""

    STARTING = "starting"
    READY = "ready"
    DRAINING = "draining"
    STOPPED = "stopped"


@dataclass(frozen=True)
class ReplicaSpec:
    """What one replica must serve."""

    namespace: str
    name: str
    generation: int
    model_id: str
    health_route: str
    env: dict[str, str] = field(default_factory=dict, repr=False)
    """The endpoint's env and secrets (kept out of reprs and logs)."""


@dataclass(frozen=True)
class Probe:
    """What a health check found."""

    ready: bool
    fatal: str | None = None
    """Why the replica can never become ready (its model failed to load), if so."""


@dataclass(eq=False)
class Replica:
    """A replica as the controller and the router see it (mutable: phase and counters change)."""

    id: str
    spec: ReplicaSpec
    url: str
    """Base URL (``http://127.0.0.1:PORT``)."""
    headers: dict[str, str] = field(repr=False)
    """Headers the router adds to every forwarded request (the replica's private key: kept out of reprs)."""
    started_at: float
    phase: ReplicaPhase = ReplicaPhase.STARTING
    ready_at: float | None = None
    outstanding: int = 0
    probe_failures: int = 0
    handle: Any = field(default=None, repr=False)
    """Backend-private: the process, its log file ..."""

    @property
    def generation(self) -> int:
        """The endpoint generation this replica serves."""
        return self.spec.generation


class LogSource(ABC):
    """Replica logs of an endpoint."""

    vendor = "local"
    """``provider.vendor`` of the endpoints it runs."""

    @abstractmethod
    async def logs(self, namespace: str, name: str, tail: int) -> list[tuple[str, list[str]]]:
        """Recent log lines per replica id (newest replicas last)."""

    @abstractmethod
    def follow(self, namespace: str, name: str) -> AsyncIterator[str]:
        """Lines written from now on, as ``[replica] line`` text chunks; ``""`` when nothing is new, at least once a
        second, so the caller can stop iterating."""

    @abstractmethod
    def forget(self, namespace: str, name: str) -> None:
        """Drop what the backend keeps about a deleted endpoint (its logs)."""

    @abstractmethod
    async def close(self) -> None:
        """Server shutdown: stop what this server started."""


class Backend(LogSource):
    """Starts, probes and stops replicas."""

    @abstractmethod
    async def start(self, spec: ReplicaSpec) -> Replica:
        """Launch a replica (returns at once, in phase STARTING)."""

    @abstractmethod
    async def probe(self, replica: Replica) -> Probe:
        """Whether the replica's health route answers 200, and whether its model failed to load."""

    @abstractmethod
    def exit_reason(self, replica: Replica) -> str | None:
        """Why the replica is gone (its exit status and last log lines), or None while it runs."""

    @abstractmethod
    async def stop(self, replica: Replica, grace_s: float) -> None:
        """Ask the replica to finish and exit; force it after ``grace_s``."""

    @abstractmethod
    def cpu_percent(self, replica: Replica) -> float:
        """CPU use of the replica since the last call, in percent of one core."""


@dataclass(frozen=True)
class Desired:
    """What one endpoint should run: a generation's spec and a replica count (0: nothing at all)."""

    spec: ReplicaSpec
    replicas: int


@dataclass(frozen=True)
class ObservedReplica:
    """One replica as the managed system reports it."""

    id: str
    phase: ReplicaPhase
    pid: int | None = None
    node_ip: str | None = None


@dataclass(frozen=True)
class Observed:
    """One endpoint as the managed system reports it."""

    replicas: tuple[ObservedReplica, ...]
    failure: str | None = None
    """Why its replicas cannot start (the system gave up), if so."""
    generation: int | None = None
    """The generation the system was last told to run."""


class ManagedBackend(LogSource):
    """A system that places, restarts, rolls and drains replicas itself."""

    @abstractmethod
    async def apply(self, desired: dict[tuple[str, str], Desired]) -> None:
        """Make the system run exactly ``desired`` for this server's endpoints (others' work left alone)."""

    @abstractmethod
    async def observe(self) -> dict[tuple[str, str], Observed]:
        """This server's endpoints as the system runs them now (absent: nothing runs)."""

    @abstractmethod
    def address(self, spec: ReplicaSpec) -> tuple[str, dict[str, str]]:
        """Base URL of the endpoint's traffic and the headers the router adds (its private key)."""

    @abstractmethod
    def cpu_percent(self, replica: ObservedReplica) -> float:
        """CPU use of a replica since the last call, in percent of one core (0 when it cannot be seen)."""
