"""The autoscaling policy: a pure function of a :class:`ScalingContext` (no clock, no processes, no I/O).

Scale-up looks at a short window (the mean load over ``upscale_window_s``) and acts at once; scale-down
needs the lower load to hold for ``downscale_delay_s`` since the last change, so bursts do not thrash;
an endpoint with ``minReplica`` 0 goes to zero after ``scale_to_zero_after_s`` without requests, and a
request that arrives at zero replicas wakes it.

Example:
    >>> ctx = ScalingContext(now=10.0, current=1, min_replica=0, max_replica=4, threshold=1.5,
    ...                      samples=(LoadSample(9.0, 6.0), LoadSample(10.0, 6.0)), last_request_at=10.0)
    >>> decide(ctx)
    ScalingDecision(target=4, reason='load 6.0 over 1 replica(s) is above 1.5 per replica')
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum


class Metric(StrEnum):
    """What ``measure`` compares with its threshold."""

    PENDING_REQUESTS = "pendingRequests"
    HARDWARE_USAGE = "hardwareUsage"


@dataclass(frozen=True)
class LoadSample:
    """One observation: requests in flight or waiting (``load``) and mean CPU percent of the replicas."""

    at: float
    load: float
    cpu_percent: float = 0.0


@dataclass(frozen=True)
class ScalingContext:
    """Everything the policy may look at."""

    now: float
    current: int
    """The target replica count decided last time."""
    min_replica: int
    max_replica: int
    threshold: float
    samples: tuple[LoadSample, ...] = ()
    metric: Metric = Metric.PENDING_REQUESTS
    paused: bool = False
    waiting: int = 0
    """Requests held because no replica is ready."""
    in_flight: int = 0
    """Requests a replica is answering now."""
    last_request_at: float | None = None
    scale_to_zero_after_s: float | None = None
    upscale_window_s: float = 3.0
    downscale_delay_s: float = 60.0
    last_change_at: float = 0.0


@dataclass(frozen=True)
class ScalingDecision:
    """The replica count to aim for, and why."""

    target: int
    reason: str


def _needed(ctx: ScalingContext, sample: LoadSample) -> int:
    """Replicas needed so the metric stays at or below the threshold for this sample."""
    if ctx.metric == Metric.HARDWARE_USAGE:
        return math.ceil(max(ctx.current, 1) * sample.cpu_percent / ctx.threshold)
    return math.ceil(sample.load / ctx.threshold)


def _window(ctx: ScalingContext, seconds: float) -> list[LoadSample]:
    recent = [s for s in ctx.samples if s.at >= ctx.now - seconds]
    return recent or list(ctx.samples[-1:])


def _idle_for_zero(ctx: ScalingContext) -> bool:
    if ctx.min_replica > 0 or ctx.scale_to_zero_after_s is None or ctx.waiting or ctx.in_flight:
        return False
    return ctx.last_request_at is None or ctx.now - ctx.last_request_at >= ctx.scale_to_zero_after_s


def decide(ctx: ScalingContext) -> ScalingDecision:
    """The new target replica count for ``ctx``."""
    if ctx.paused:
        return ScalingDecision(0, "paused")
    floor, ceiling = ctx.min_replica, max(ctx.max_replica, ctx.min_replica)
    if ctx.current == 0:
        if ctx.waiting or ctx.in_flight:
            wanted = max(1, floor, math.ceil((ctx.waiting + ctx.in_flight) / ctx.threshold)
                         if ctx.metric == Metric.PENDING_REQUESTS else 1)
            return ScalingDecision(min(wanted, ceiling), f"{ctx.waiting + ctx.in_flight} request(s) woke it")
        if floor == 0:
            return ScalingDecision(0, "scaled to zero")
        return ScalingDecision(floor, f"minReplica is {floor}")
    if _idle_for_zero(ctx):
        return ScalingDecision(0, f"no request for {ctx.scale_to_zero_after_s:g} s")
    recent = _window(ctx, ctx.upscale_window_s)
    if recent:
        mean = LoadSample(ctx.now, sum(s.load for s in recent) / len(recent),
                          sum(s.cpu_percent for s in recent) / len(recent))
        wanted = _needed(ctx, mean)
        if wanted > ctx.current and ctx.current < ceiling:
            what = (f"CPU {mean.cpu_percent:.0f}%" if ctx.metric == Metric.HARDWARE_USAGE
                    else f"load {mean.load:.1f} over {ctx.current} replica(s)")
            return ScalingDecision(min(wanted, ceiling), f"{what} is above {ctx.threshold:g} per replica")
    if ctx.current < max(floor, 1):
        return ScalingDecision(max(floor, 1), f"minReplica is {floor}")
    if ctx.current > ceiling:
        return ScalingDecision(ceiling, f"maxReplica is {ceiling}")
    if ctx.now - ctx.last_change_at >= ctx.downscale_delay_s:
        longer = _window(ctx, ctx.downscale_delay_s)
        if longer:
            wanted = max(_needed(ctx, s) for s in longer)
            lowest = max(floor, 1)  # going to zero is the idle timeout's decision, not the load's
            if max(wanted, lowest) < ctx.current:
                return ScalingDecision(max(wanted, lowest),
                                       f"load stayed low for {ctx.downscale_delay_s:g} s")
    return ScalingDecision(ctx.current, "steady")
