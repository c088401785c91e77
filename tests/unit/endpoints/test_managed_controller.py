"""The controller's managed path (Ray Serve's) against an in-memory managed backend: the policy's targets become
declared replica counts, observed replicas become the runtime the router reads, and the system's failures, deaths
and rolling updates become the endpoint's status."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from test_endpoint_controller import BOX, QuietLogs

from argus.endpoints.backends.base import (
    Desired,
    ManagedBackend,
    Observed,
    ObservedReplica,
    ReplicaPhase,
    ReplicaSpec,
)
from argus.endpoints.controller import EndpointController
from argus.endpoints.spec import EndpointState, validate_spec
from argus.endpoints.store import EndpointStore
from argus.settings import Settings

KEY = ("acme", "cams")


class MemoryManaged(QuietLogs, ManagedBackend):
    """Remembers every ``apply``; ``observe`` answers whatever the test put in ``running``."""

    vendor = "memory"

    def __init__(self) -> None:
        self.applied: list[dict[tuple[str, str], Desired]] = []
        self.running: dict[tuple[str, str], Observed] = {}

    async def apply(self, desired: dict[tuple[str, str], Desired]) -> None:
        self.applied.append(dict(desired))

    async def observe(self) -> dict[tuple[str, str], Observed]:
        return dict(self.running)

    def address(self, spec: ReplicaSpec) -> tuple[str, dict[str, str]]:
        return f"http://proxy/{spec.namespace}/{spec.name}", {"authorization": f"Bearer g{spec.generation}"}

    def cpu_percent(self, replica: ObservedReplica) -> float:
        return 0.0

    def last(self) -> Desired | None:
        return self.applied[-1].get(KEY)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", endpoint_reconcile_interval_s=0.01)


def make(settings: Settings, backend: MemoryManaged, **scaling: object) -> tuple[EndpointController, EndpointStore]:
    store = EndpointStore.open(settings.database, BOX)
    spec = validate_spec({"name": "cams", "model": {"repository": "cams/1", "secrets": {"TOKEN": "t"}},
                          "compute": {"scaling": {"minReplica": 1, "maxReplica": 2, **scaling}}})
    row = store.create_endpoint(*KEY, spec.model_dump(mode="json"), target=spec.compute.scaling.minReplica,
                                created_by="t")
    controller = EndpointController(settings, store, backend)
    controller.apply(row)
    return controller, store


def ready(*ids: str) -> tuple[ObservedReplica, ...]:
    return tuple(ObservedReplica(id=i, phase=ReplicaPhase.READY, pid=None, node_ip=None) for i in ids)


def test_the_policy_s_target_is_declared_and_observed_replicas_become_the_router_s(settings: Settings):
    async def scenario() -> None:
        backend = MemoryManaged()
        controller, _ = make(settings, backend)
        runtime = controller.get(*KEY)
        assert runtime.spec.provider.vendor == "memory"
        await controller.reconcile_all()
        desired = backend.last()
        assert desired is not None and desired.replicas == 1 and desired.spec.generation == 1
        assert desired.spec.env == {"TOKEN": "t"} and desired.spec.model_id == "cams/1"
        assert controller.status_of(runtime)[0] == EndpointState.INITIALIZING

        backend.running[KEY] = Observed(ready("r1"), generation=1)
        await controller.reconcile_all()
        (replica,) = runtime.ready()
        assert (replica.id, replica.url, replica.headers) == ("r1", "http://proxy/acme/cams",
                                                               {"authorization": "Bearer g1"})
        assert runtime.ready_event.is_set() and controller.status_of(runtime)[0] == EndpointState.RUNNING

        runtime.waiting = 6  # load: the same policy scales the declared count up to maxReplica
        await controller.reconcile_all()
        desired = backend.last()
        assert desired is not None and desired.replicas == 2
    asyncio.run(scenario())


def test_a_failure_the_system_gave_up_on_is_the_failed_state_until_a_new_generation(settings: Settings):
    async def scenario() -> None:
        backend = MemoryManaged()
        controller, store = make(settings, backend)
        runtime = controller.get(*KEY)
        backend.running[KEY] = Observed((), failure="ModelArtifactError: cams/1 is corrupt", generation=1)
        await controller.reconcile_all()
        assert controller.status_of(runtime) == (EndpointState.FAILED,
                                                 "Replicas cannot start: ModelArtifactError: cams/1 is corrupt")
        row = store.update_endpoint(runtime.id, generation=2)
        controller.apply(row)
        await controller.reconcile_all()  # Ray still reports generation 1's failure: not this generation's
        assert controller.status_of(runtime)[0] == EndpointState.INITIALIZING
        desired = backend.last()
        assert desired is not None and desired.spec.generation == 2
    asyncio.run(scenario())


def test_a_ready_replica_that_vanishes_is_a_failure_so_held_requests_wait_for_its_replacement(settings: Settings):
    async def scenario() -> None:
        backend = MemoryManaged()
        controller, _ = make(settings, backend)
        runtime = controller.get(*KEY)
        backend.running[KEY] = Observed(ready("r1"), generation=1)
        await controller.reconcile_all()
        backend.running[KEY] = Observed((ObservedReplica("r2", ReplicaPhase.STARTING),), generation=1)
        await controller.reconcile_all()
        assert runtime.ready() == [] and runtime.recovering and "stopped unexpectedly" in runtime.last_failure
        assert not runtime.ready_event.is_set()
        backend.running[KEY] = Observed(ready("r2"), generation=1)
        await controller.reconcile_all()
        assert [r.id for r in runtime.ready()] == ["r2"] and runtime.ready_event.is_set()
    asyncio.run(scenario())


def test_replicas_seen_before_an_update_are_the_old_generation_until_the_system_stops_them(settings: Settings):
    async def scenario() -> None:
        backend = MemoryManaged()
        controller, store = make(settings, backend)
        runtime = controller.get(*KEY)
        backend.running[KEY] = Observed(ready("old"), generation=1)
        await controller.reconcile_all()
        controller.apply(store.update_endpoint(runtime.id, generation=2))
        backend.running[KEY] = Observed((*ready("old"), ObservedReplica("new", ReplicaPhase.STARTING)), generation=2)
        await controller.reconcile_all()
        assert controller.status_of(runtime)[0] == EndpointState.UPDATING
        assert {r.id: r.generation for r in runtime.replicas} == {"old": 1, "new": 2}
        backend.running[KEY] = Observed((ObservedReplica("old", ReplicaPhase.DRAINING), *ready("new")),
                                        generation=2)
        await controller.reconcile_all()
        assert controller.status_of(runtime)[0] == EndpointState.RUNNING and not runtime.recovering
        assert runtime.ready()[0].headers == {"authorization": "Bearer g2"}
    asyncio.run(scenario())


def test_pause_and_delete_leave_the_endpoint_out_of_what_is_declared(settings: Settings):
    async def scenario() -> None:
        backend = MemoryManaged()
        controller, store = make(settings, backend)
        runtime = controller.get(*KEY)
        controller.apply(store.update_endpoint(runtime.id, paused=True))
        await controller.reconcile_all()
        desired = backend.last()
        assert desired is not None and desired.replicas == 0
        assert controller.status_of(runtime) == (EndpointState.PAUSED, "Paused")
        controller.remove(*KEY)
        await controller.reconcile_all()
        assert backend.applied[-1] == {}
    asyncio.run(scenario())


def test_a_system_that_cannot_be_reached_is_in_every_status_message_until_it_answers(settings: Settings):
    async def scenario() -> None:
        backend = MemoryManaged()
        controller, _ = make(settings, backend)
        runtime = controller.get(*KEY)
        backend.running[KEY] = Observed(ready("r1"), generation=1)
        await controller.reconcile_all()
        healthy = backend.observe

        async def unreachable() -> dict[tuple[str, str], Observed]:
            raise ConnectionError("dashboard at 10.0.0.5:8265 refused the connection")

        backend.observe = unreachable  # type: ignore[method-assign]
        await controller.reconcile_all()  # no exception out of the pass
        assert runtime.state == EndpointState.RUNNING and [r.id for r in runtime.ready()] == ["r1"]
        assert runtime.message.endswith("memory cannot be reached or refused the change (ConnectionError: "
                                        "dashboard at 10.0.0.5:8265 refused the connection)")
        backend.observe = healthy  # type: ignore[method-assign]
        await controller.reconcile_all()
        assert runtime.message == "1 replica(s) ready" and controller.backend_problem is None
    asyncio.run(scenario())
