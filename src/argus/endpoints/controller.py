"""The endpoint controller: a reconcile loop that moves observed replicas towards the desired state.

Each pass, per endpoint: notice replicas that died (replace them, with backoff), ask the autoscaling
policy for a target, start or drain replicas (rolling: replicas of an older generation are drained only
as new ones become ready), derive ``status``, and persist what changed. An exception in one pass is
logged and the loop carries on.

With a :class:`~argus.endpoints.backends.base.ManagedBackend` (Ray Serve) the policy stays here and the
running moves there: each pass observes every endpoint in one call, mirrors the replicas it reports into the
runtimes (the router, status, metrics and logs read those), asks the same policy for targets, and declares
every endpoint's generation and replica count in one :meth:`~ManagedBackend.apply`. The system places,
health-checks, replaces, rolls and drains the replicas; a failure it gives up on is the endpoint's failed state.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine, Iterable
from typing import Any

from argus.endpoints.autoscaling import LoadSample, Metric, ScalingContext, decide
from argus.endpoints.backends.base import (
    Backend,
    Desired,
    ManagedBackend,
    Observed,
    Replica,
    ReplicaPhase,
    ReplicaSpec,
)
from argus.endpoints.runtime import FAILED_AFTER, EndpointRuntime
from argus.endpoints.spec import EndpointSpec, EndpointState
from argus.endpoints.store import EndpointStore
from argus.endpoints.tables import EndpointRow, MetricSampleRow, utcnow
from argus.errors import NotFoundError
from argus.settings import Settings

logger = logging.getLogger(__name__)

"""Consecutive failed starts before the endpoint reports ``failed`` (it keeps retrying, with backoff)."""
STABLE_AFTER_S = 10.0
"""A replica up this long clears the failure count."""
MAX_BACKOFF_S = 30.0
PROBE_EVERY_S = 5.0
UNHEALTHY_AFTER = 3


def mean(values: list[float]) -> float:
    """The mean of ``values``; 0 for none (no ready replica uses no CPU)."""
    return sum(values) / len(values) if values else 0.0


def backoff_seconds(failures: int) -> float:
    """0.5 s, 1 s, 2 s ... up to 30 s."""
    return min(MAX_BACKOFF_S, 0.5 * 2 ** max(0, failures - 1))


class EndpointController:
    """Owns the runtimes of all endpoints and the replicas of each."""

    def __init__(self, settings: Settings, store: EndpointStore, backend: Backend | ManagedBackend) -> None:
        self.settings = settings
        self.store = store
        self.backend = backend
        self.runtimes: dict[tuple[str, str], EndpointRuntime] = {}
        self._kick = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._last_probe = 0.0
        self._last_metrics = time.monotonic()
        self.backend_problem: str | None = None
        """Why a managed backend's last observe or apply failed (None while it works)."""

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Restore every endpoint from the store and start the loop."""
        rows = await asyncio.to_thread(self.store.list_endpoints)
        for row in rows:
            self.apply(row)
        logger.info("endpoint controller started with %d endpoint(s)", len(rows))
        self._task = asyncio.create_task(self._loop(), name="argus-endpoint-controller")

    async def stop(self) -> None:
        """Stop the loop and every replica (replicas never outlive the server)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self.backend.close()
        await asyncio.to_thread(self._flush_metrics, force=True)

    def kick(self) -> None:
        """Run a pass now (a request is waiting, a spec changed)."""
        self._kick.set()

    async def _loop(self) -> None:
        while True:
            try:
                await self.reconcile_all()
            except Exception:  # the loop must survive anything one pass throws
                logger.exception("endpoint reconcile pass failed; carrying on")
            try:  # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow the cancellation of stop()
                async with asyncio.timeout(self.settings.endpoint_reconcile_interval_s):
                    await self._kick.wait()
            except TimeoutError:
                pass
            self._kick.clear()

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ------------------------------------------------------------------ desired state

    def apply(self, row: EndpointRow, *, wake: bool = False) -> EndpointRuntime:
        """Create or refresh the runtime of ``row`` (after create, update, pause, resume, restart).

        ``wake`` (resume) starts at least one replica even with ``minReplica`` 0.
        """
        spec = EndpointSpec.model_validate(row.spec)
        spec = spec.model_copy(update={"provider": spec.provider.model_copy(update={"vendor": self.backend.vendor})})
        scaling = spec.compute.scaling
        runtime = self.runtimes.get((row.namespace, row.name))
        if runtime is None:
            target = 0 if row.paused else min(max(row.target, scaling.minReplica), scaling.maxReplica)
            runtime = EndpointRuntime(id=row.id, namespace=row.namespace, name=row.name, spec=spec,
                                      generation=row.generation, paused=row.paused, target=target,
                                      created_at=row.created_at, updated_at=row.updated_at)
            self.runtimes[runtime.key] = runtime
        else:
            runtime.spec, runtime.generation, runtime.paused = spec, row.generation, row.paused
            runtime.target = 0 if row.paused else min(max(runtime.target, scaling.minReplica), scaling.maxReplica)
            runtime.failures, runtime.backoff_until = 0, 0.0
        if wake and not row.paused:
            runtime.target = max(runtime.target, 1)
        runtime.last_change_at = runtime.last_request_at = time.monotonic()
        self.kick()
        return runtime

    def wake(self, runtime: EndpointRuntime) -> None:
        """A request arrived: note it, and start a replica if the endpoint sits at zero."""
        now = time.monotonic()
        runtime.last_request_at = now
        if runtime.target == 0 and not runtime.paused and not runtime.deleted:
            runtime.target = max(1, runtime.spec.compute.scaling.minReplica)
            runtime.last_change_at = now
            logger.info("%s/%s: woken by a request", runtime.namespace, runtime.name)
            self.kick()

    def get(self, namespace: str, name: str) -> EndpointRuntime:
        """The runtime of an endpoint, or :class:`NotFoundError`."""
        runtime = self.runtimes.get((namespace, name))
        if runtime is None:
            raise NotFoundError(f"No endpoint '{name}' in namespace '{namespace}'.")
        return runtime

    def remove(self, namespace: str, name: str) -> None:
        """Forget an endpoint and drain its replicas."""
        runtime = self.runtimes.pop((namespace, name), None)
        if runtime is None:
            return
        runtime.deleted = True
        if isinstance(self.backend, Backend):  # a managed backend drains what the next apply leaves out
            for replica in runtime.live():
                self._drain(self.backend, runtime, replica)
        runtime.mark_ready_changed()
        runtime.ready_event.set()  # release held requests: they will find the endpoint gone

    def scale_to_zero(self, runtime: EndpointRuntime) -> None:
        """Drop to zero replicas now; the next request wakes it."""
        runtime.target = 0
        runtime.last_change_at = time.monotonic()
        runtime.last_request_at = 0.0
        self.kick()

    # ------------------------------------------------------------------ one pass

    async def reconcile_all(self) -> None:
        """One pass over every endpoint."""
        now = time.monotonic()
        probe = now - self._last_probe >= PROBE_EVERY_S
        if probe:
            self._last_probe = now
        if isinstance(self.backend, ManagedBackend):
            await self._reconcile_managed(self.backend, now)
        else:
            for runtime in list(self.runtimes.values()):
                try:
                    await self.reconcile(runtime, now, probe=probe)
                except Exception:
                    logger.exception("reconciling %s/%s failed; carrying on", runtime.namespace, runtime.name)
        if now - self._last_metrics >= self.settings.endpoint_metrics_interval_s:
            self._last_metrics = now
            await asyncio.to_thread(self._flush_metrics)

    async def reconcile(self, runtime: EndpointRuntime, now: float, *, probe: bool = False) -> None:
        """Observe, decide, act and report for one endpoint (local replicas)."""
        assert isinstance(self.backend, Backend)
        backend = self.backend
        self._reap(backend, runtime, now)
        if probe:
            await self._probe_ready(backend, runtime)
        self._decide(runtime, now, mean([backend.cpu_percent(r) for r in runtime.ready()]))
        await self._converge(backend, runtime, now)
        await self._report(runtime)

    def _decide(self, runtime: EndpointRuntime, now: float, cpu_percent: float) -> None:
        """Record this pass's load and move the target where the policy says."""
        runtime.samples.append(LoadSample(now, float(runtime.waiting + runtime.in_flight()), cpu_percent))
        decision = decide(self._context(runtime, now))
        if decision.target != runtime.target:
            logger.info("%s/%s: %d → %d replicas (%s)", runtime.namespace, runtime.name, runtime.target,
                        decision.target, decision.reason)
            runtime.target, runtime.last_change_at = decision.target, now

    async def _reconcile_managed(self, backend: ManagedBackend, now: float) -> None:
        """Observe every endpoint, mirror, decide, declare the result, report (a managed backend).

        When the system cannot be reached or refuses the declaration, the runtimes keep what was last observed
        (its proxy may still serve), every endpoint's status message says why, and the log says it once.
        """
        try:
            observed = await backend.observe()
            for runtime in list(self.runtimes.values()):
                try:
                    cpu = self._mirror(backend, runtime, observed.get(runtime.key, Observed(())), now)
                    self._decide(runtime, now, cpu)
                except Exception:
                    logger.exception("reconciling %s/%s failed; carrying on", runtime.namespace, runtime.name)
            await backend.apply({runtime.key: Desired(self._replica_spec(runtime), runtime.target)
                                 for runtime in self.runtimes.values() if not runtime.deleted})
            problem = None
        except Exception as error:  # noqa: BLE001 - the cluster is down or refused the config: say so, keep serving
            problem = f"{type(error).__name__}: {getattr(error, 'message', None) or error}"[:500]
        if problem != self.backend_problem:
            if problem is None:
                logger.info("the endpoint backend answers again")
            else:
                logger.error("the endpoint backend (%s) failed: %s", backend.vendor, problem)
            self.backend_problem = problem
        for runtime in list(self.runtimes.values()):
            await self._report(runtime)

    def _mirror(self, backend: ManagedBackend, runtime: EndpointRuntime, observed: Observed, now: float) -> float:
        """Make ``runtime.replicas`` what the system reports; returns the replicas' mean CPU percent.

        A replica first seen now serves the current generation (a rolling update's old replicas were seen
        before it began). A ready replica that vanishes without being stopped died: a failure, so held requests
        wait for its replacement.
        """
        known = {replica.id: replica for replica in runtime.replicas}
        spec = self._replica_spec(runtime)
        url, headers = backend.address(spec)
        current: list[Replica] = []
        for seen in observed.replicas:
            replica = known.pop(seen.id, None) or Replica(id=seen.id, spec=spec, url=url, headers=headers,
                                                          started_at=now)
            if seen.phase == ReplicaPhase.READY and replica.phase != ReplicaPhase.READY:
                replica.ready_at = now
                runtime.cold_start_s = now - replica.started_at
                runtime.last_request_at = max(runtime.last_request_at, now)
            replica.phase, replica.handle = seen.phase, seen
            current.append(replica)
        for gone in known.values():
            if gone.phase == ReplicaPhase.READY and runtime.target > 0 and not runtime.paused:
                self._failed(runtime, gone, f"the replica stopped unexpectedly; {backend.vendor} is replacing it", now)
        runtime.replicas = current
        if observed.failure is not None and observed.generation == runtime.generation:
            runtime.failures, runtime.last_failure = max(runtime.failures, FAILED_AFTER), observed.failure
        elif runtime.failures and any(r.ready_at is not None and now - r.ready_at >= STABLE_AFTER_S
                                      for r in runtime.ready()):
            runtime.failures = 0
        runtime.mark_ready_changed()
        return mean([backend.cpu_percent(r.handle) for r in runtime.ready()])

    @staticmethod
    def _replica_spec(runtime: EndpointRuntime) -> ReplicaSpec:
        """What a replica of the endpoint's current generation serves."""
        spec = runtime.spec
        return ReplicaSpec(runtime.namespace, runtime.name, runtime.generation, spec.model.model_id,
                           spec.healthRoute, {**spec.model.env, **spec.model.secrets})

    def _context(self, runtime: EndpointRuntime, now: float) -> ScalingContext:
        scaling = runtime.spec.compute.scaling
        metric = Metric.HARDWARE_USAGE if scaling.measure.hardwareUsage is not None else Metric.PENDING_REQUESTS
        threshold = scaling.measure.hardwareUsage or scaling.measure.pendingRequests or 1.0
        horizon = max(self.settings.endpoint_upscale_window_s, self.settings.endpoint_downscale_delay_s)
        while runtime.samples and runtime.samples[0].at < now - horizon - 1.0:
            runtime.samples.popleft()
        timeout = scaling.scaleToZeroTimeout
        return ScalingContext(
            now=now, current=runtime.target, min_replica=scaling.minReplica, max_replica=scaling.maxReplica,
            threshold=threshold, samples=tuple(runtime.samples), metric=metric, paused=runtime.paused,
            waiting=runtime.waiting, in_flight=runtime.in_flight(), last_request_at=runtime.last_request_at,
            scale_to_zero_after_s=timeout * self.settings.endpoint_minute_seconds if timeout is not None else None,
            upscale_window_s=self.settings.endpoint_upscale_window_s,
            downscale_delay_s=self.settings.endpoint_downscale_delay_s, last_change_at=runtime.last_change_at)

    def _reap(self, backend: Backend, runtime: EndpointRuntime, now: float) -> None:
        """Remove replicas whose process ended; count unplanned exits as failures."""
        for replica in list(runtime.replicas):
            reason = backend.exit_reason(replica)
            if reason is None:
                if (replica.phase == ReplicaPhase.READY and runtime.failures and replica.ready_at is not None
                        and now - replica.ready_at >= STABLE_AFTER_S):
                    runtime.failures = 0
                continue
            if replica.phase != ReplicaPhase.DRAINING:
                self._failed(runtime, replica, reason, now)
            replica.phase = ReplicaPhase.STOPPED
            runtime.replicas.remove(replica)
        runtime.mark_ready_changed()

    def _failed(self, runtime: EndpointRuntime, replica: Replica, reason: str, now: float) -> None:
        runtime.failures += 1
        runtime.last_failure = reason
        runtime.backoff_until = now + backoff_seconds(runtime.failures)
        logger.warning("%s/%s: replica %s failed (%s); retrying in %.1f s", runtime.namespace, runtime.name,
                       replica.id, reason, backoff_seconds(runtime.failures))

    async def _probe_ready(self, backend: Backend, runtime: EndpointRuntime) -> None:
        for replica in runtime.ready():
            if (await backend.probe(replica)).ready:
                replica.probe_failures = 0
                continue
            replica.probe_failures += 1
            if replica.probe_failures >= UNHEALTHY_AFTER:
                self._failed(runtime, replica, "health route stopped answering", time.monotonic())
                self._drain(backend, runtime, replica)

    async def _converge(self, backend: Backend, runtime: EndpointRuntime, now: float) -> None:
        live = runtime.live()
        new = [r for r in live if r.generation == runtime.generation]
        old = [r for r in live if r.generation != runtime.generation]
        new_ready = [r for r in new if r.phase == ReplicaPhase.READY]
        missing = runtime.target - len(new)
        if missing > 0 and now >= runtime.backoff_until:
            for _ in range(missing):
                await self._start(backend, runtime)
        elif missing < 0:
            # Starting ones go first, then the least busy.
            extra = sorted(new, key=lambda r: (r.phase == ReplicaPhase.READY, r.outstanding))[:-missing]
            for replica in extra:
                self._drain(backend, runtime, replica)
        keep_old = max(0, runtime.target - len(new_ready))
        for replica in sorted(old, key=lambda r: (r.phase == ReplicaPhase.READY, r.outstanding))[:len(old) - keep_old]:
            self._drain(backend, runtime, replica)

    async def _start(self, backend: Backend, runtime: EndpointRuntime) -> None:
        replica = await backend.start(self._replica_spec(runtime))
        runtime.replicas.append(replica)
        self._spawn(self._await_ready(backend, runtime, replica))

    async def _await_ready(self, backend: Backend, runtime: EndpointRuntime, replica: Replica) -> None:
        """Probe a starting replica until its health route answers, it exits, or it times out."""
        deadline = replica.started_at + self.settings.endpoint_start_timeout_s
        while replica.phase == ReplicaPhase.STARTING:
            if backend.exit_reason(replica) is not None:
                self.kick()
                return
            probe = await backend.probe(replica)
            if probe.fatal is not None:
                self._failed(runtime, replica, probe.fatal, time.monotonic())
                self._drain(backend, runtime, replica)
                return
            if probe.ready:
                replica.phase, replica.ready_at = ReplicaPhase.READY, time.monotonic()
                runtime.cold_start_s = replica.ready_at - replica.started_at
                # Idle time counts from when the endpoint can answer, not from the request that woke it.
                runtime.last_request_at = max(runtime.last_request_at, replica.ready_at)
                logger.info("replica %s ready after %.2f s", replica.id, replica.ready_at - replica.started_at)
                runtime.mark_ready_changed()
                self.kick()
                return
            if time.monotonic() > deadline:
                self._failed(runtime, replica, f"not ready after {self.settings.endpoint_start_timeout_s:g} s",
                             time.monotonic())
                self._drain(backend, runtime, replica)
                return
            await asyncio.sleep(0.05)

    def _drain(self, backend: Backend, runtime: EndpointRuntime, replica: Replica) -> None:
        if replica.phase in (ReplicaPhase.DRAINING, ReplicaPhase.STOPPED):
            return
        replica.phase = ReplicaPhase.DRAINING
        runtime.mark_ready_changed()
        self._spawn(self._drain_and_stop(backend, runtime, replica))

    async def _drain_and_stop(self, backend: Backend, runtime: EndpointRuntime, replica: Replica) -> None:
        """Wait for the replica's requests to finish (new ones go elsewhere), then stop it."""
        deadline = time.monotonic() + self.settings.endpoint_drain_timeout_s
        while replica.outstanding and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await backend.stop(replica, grace_s=self.settings.endpoint_drain_timeout_s)
        replica.phase = ReplicaPhase.STOPPED
        if replica in runtime.replicas:
            runtime.replicas.remove(replica)
        self.kick()

    # ------------------------------------------------------------------ status

    def status_of(self, runtime: EndpointRuntime) -> tuple[EndpointState, str]:
        """``status.state`` and ``status.message`` from what is observed now."""
        ready = len(runtime.ready())
        live = runtime.live()
        old = [r for r in live if r.generation != runtime.generation]
        if runtime.paused:
            return (EndpointState.PAUSED, "Paused") if not live else (EndpointState.PAUSED, "Pausing")
        if runtime.failures >= FAILED_AFTER and ready == 0:
            return EndpointState.FAILED, f"Replicas cannot start: {runtime.last_failure}"
        if old:
            if runtime.failures >= FAILED_AFTER:
                return EndpointState.UPDATE_FAILED, f"New replicas cannot start: {runtime.last_failure}"
            return EndpointState.UPDATING, f"Rolling update: {len(old)} old replica(s) left, {ready} ready"
        if runtime.target == 0 and not live:
            return EndpointState.SCALED_TO_ZERO, "Scaled to zero; the next request wakes it"
        if ready == 0:
            return EndpointState.INITIALIZING, f"Starting {runtime.target} replica(s)"
        return EndpointState.RUNNING, f"{ready} replica(s) ready"

    async def _report(self, runtime: EndpointRuntime) -> None:
        state, message = self.status_of(runtime)
        if self.backend_problem is not None:
            message = f"{message}; {self.backend.vendor} cannot be reached or refused the change ({self.backend_problem})"
        if (state, message, runtime.target) == (runtime.state, runtime.message, runtime.reported_target) \
                or runtime.deleted:
            return
        runtime.state, runtime.message, runtime.reported_target = state, message, runtime.target
        runtime.updated_at = utcnow()
        values = {"state": state.value, "message": message, "ready": len(runtime.ready()),
                  "target": runtime.target, "updated_at": runtime.updated_at}
        try:
            await asyncio.to_thread(self.store.update_endpoint, runtime.id, **values)
        except Exception:
            logger.exception("could not persist the status of %s/%s", runtime.namespace, runtime.name)

    # ------------------------------------------------------------------ metrics

    def _flush_metrics(self, force: bool = False) -> None:
        samples = [self._sample(runtime) for runtime in self._live_runtimes()]
        if samples or force:
            self.store.add_samples(samples)

    def _live_runtimes(self) -> Iterable[EndpointRuntime]:
        return [r for r in self.runtimes.values() if not r.deleted]

    def _sample(self, runtime: EndpointRuntime) -> MetricSampleRow:
        traffic, runtime.traffic = runtime.traffic, type(runtime.traffic)()
        p50, p95, p99 = traffic.quantiles()
        recent = list(runtime.samples)[-20:]
        pending = mean([s.load for s in recent])
        return MetricSampleRow(endpoint_id=runtime.id, interval_s=self.settings.endpoint_metrics_interval_s,
                               requests=traffic.requests, errors=traffic.errors, p50_ms=p50, p95_ms=p95,
                               p99_ms=p99, ready_replicas=len(runtime.ready()), target_replicas=runtime.target,
                               pending=pending)
