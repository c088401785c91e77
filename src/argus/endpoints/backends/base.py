"""The seam between the controller and whatever runs replicas (local processes here; Ray Serve later)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
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


class Backend(ABC):
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

    @abstractmethod
    def logs(self, namespace: str, name: str, tail: int) -> list[tuple[str, list[str]]]:
        """Recent log lines per replica id (newest replicas last)."""

    @abstractmethod
    def log_files(self, namespace: str, name: str) -> list[tuple[str, Path]]:
        """Log files per replica id (for following)."""

    @abstractmethod
    def forget(self, namespace: str, name: str) -> None:
        """Drop what the backend keeps about a deleted endpoint (its logs)."""

    @abstractmethod
    async def close(self) -> None:
        """Stop every replica (server shutdown)."""
