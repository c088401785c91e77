"""The controller's reconcile passes against an in-memory backend (no processes): rolling updates keep a ready
replica, crashes are replaced with backoff, failures are reported, and an exception never stops the loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from argus.endpoints.backends.base import (
    Backend,
    LogSource,
    Probe,
    Replica,
    ReplicaPhase,
    ReplicaSpec,
)
from argus.endpoints.controller import EndpointController, backoff_seconds
from argus.endpoints.secrets import SecretBox
from argus.endpoints.spec import EndpointState, validate_spec
from argus.endpoints.store import EndpointStore
from argus.settings import Settings

BOX = SecretBox(b"uJ0gGvY5m3Yp4c8lHk9q1mN2b3V4c5X6z7A8s9D0f1E=")


class QuietLogs(LogSource):
    """No logs, nothing to forget or close (the in-memory backends of these tests)."""

    async def logs(self, namespace: str, name: str, tail: int) -> list[tuple[str, list[str]]]:
        return []

    async def follow(self, namespace: str, name: str) -> AsyncIterator[str]:
        yield ""

    def forget(self, namespace: str, name: str) -> None:
        pass

    async def close(self) -> None:
        pass


class MemoryBackend(QuietLogs, Backend):
    """Replicas that become ready after ``ready_after`` probes; ``crash`` and ``broken`` script failures."""

    def __init__(self, ready_after: int = 2) -> None:
        self.ready_after = ready_after
        self.started: list[Replica] = []
        self.stopped: list[str] = []
        self.exited: dict[str, str] = {}
        self.broken_models: set[str] = set()
        self.fail_next_start = 0
        self._probes: dict[str, int] = {}

    async def start(self, spec: ReplicaSpec) -> Replica:
        if self.fail_next_start:
            self.fail_next_start -= 1
            raise RuntimeError("no more ports")
        replica = Replica(id=f"{spec.name}-{len(self.started)}", spec=spec, url="memory://", headers={},
                          started_at=time.monotonic())
        self.started.append(replica)
        return replica

    async def probe(self, replica: Replica) -> Probe:
        if replica.spec.model_id in self.broken_models:
            return Probe(ready=False, fatal="the model failed to load (corrupt)")
        self._probes[replica.id] = self._probes.get(replica.id, 0) + 1
        return Probe(ready=self._probes[replica.id] >= self.ready_after)

    def exit_reason(self, replica: Replica) -> str | None:
        return self.exited.get(replica.id)

    def crash(self, replica: Replica) -> None:
        self.exited[replica.id] = "replica exited with status -9"

    async def stop(self, replica: Replica, grace_s: float) -> None:
        self.stopped.append(replica.id)
        self.exited.setdefault(replica.id, "stopped")

    def cpu_percent(self, replica: Replica) -> float:
        return 0.0



@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", endpoint_reconcile_interval_s=0.01, endpoint_drain_timeout_s=1.0)


def make(settings: Settings, backend: MemoryBackend, **scaling: object) -> tuple[EndpointController, int]:
    store = EndpointStore.open(settings.database, BOX)
    spec = validate_spec({"name": "cams", "model": {"repository": "cams/1"},
                          "compute": {"scaling": {"minReplica": 1, "maxReplica": 2, **scaling}}})
    row = store.create_endpoint("acme", "cams", spec.model_dump(mode="json"), target=1, created_by="t")
    controller = EndpointController(settings, store, backend)
    return controller, row.id


async def until(condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def phases(controller: EndpointController) -> list[tuple[int, ReplicaPhase]]:
    return [(r.generation, r.phase) for r in controller.get("acme", "cams").replicas]


def test_rolling_update_keeps_a_ready_replica_until_the_new_one_is(settings: Settings):
    async def scenario() -> None:
        backend = MemoryBackend(ready_after=3)
        controller, endpoint_id = make(settings, backend)
        await controller.start()
        await until(lambda: phases(controller) == [(1, ReplicaPhase.READY)], "the first replica")
        spec = validate_spec({"name": "cams", "model": {"repository": "cams/2"},
                              "compute": {"scaling": {"minReplica": 1, "maxReplica": 2}}})
        row = controller.store.update_endpoint(endpoint_id, spec=spec.model_dump(mode="json"), generation=2)
        controller.apply(row)
        seen: set[tuple[tuple[int, ReplicaPhase], ...]] = set()
        deadline = time.monotonic() + 5
        while phases(controller) != [(2, ReplicaPhase.READY)]:
            assert time.monotonic() < deadline, (phases(controller), backend.stopped, backend.started)
            current = phases(controller)
            seen.add(tuple(current))
            assert any(phase == ReplicaPhase.READY for _, phase in current), current  # never without a ready one
            await asyncio.sleep(0.005)
        assert ((1, ReplicaPhase.READY), (2, ReplicaPhase.STARTING)) in seen
        assert backend.stopped == ["cams-0"]
        assert controller.status_of(controller.get("acme", "cams"))[0] == EndpointState.RUNNING
        await controller.stop()
    asyncio.run(scenario())


def test_a_crash_is_replaced_and_repeated_failed_starts_report_failed(settings: Settings):
    async def scenario() -> None:
        backend = MemoryBackend(ready_after=1)
        controller, _ = make(settings, backend)
        await controller.start()
        runtime = controller.get("acme", "cams")
        await until(lambda: phases(controller) == [(1, ReplicaPhase.READY)], "the first replica")
        backend.crash(backend.started[0])
        await until(lambda: len(backend.started) == 2 and phases(controller) == [(1, ReplicaPhase.READY)],
                    "a replacement")
        assert runtime.failures == 1 and "status -9" in runtime.last_failure
        backend.broken_models.add("cams/1")
        backend.crash(backend.started[1])
        await until(lambda: runtime.failures >= 3, "three failed starts", timeout=10)
        state, message = controller.status_of(runtime)
        assert state == EndpointState.FAILED
        assert message == "Replicas cannot start: the model failed to load (corrupt)"
        assert runtime.backoff_until - time.monotonic() <= backoff_seconds(runtime.failures)
        await controller.stop()
    asyncio.run(scenario())


def test_an_exception_in_a_pass_does_not_stop_the_loop(settings: Settings, caplog: pytest.LogCaptureFixture):
    async def scenario() -> None:
        backend = MemoryBackend(ready_after=1)
        backend.fail_next_start = 2
        controller, _ = make(settings, backend)
        await controller.start()
        await until(lambda: phases(controller) == [(1, ReplicaPhase.READY)], "a replica after two exceptions")
        await controller.stop()
    asyncio.run(scenario())
    assert caplog.text.count("no more ports") >= 2


def test_backoff_doubles_up_to_thirty_seconds():
    assert [backoff_seconds(n) for n in (1, 2, 3, 4, 7, 20)] == [0.5, 1.0, 2.0, 4.0, 30.0, 30.0]
