"""The autoscaling policy, table-driven: no processes, no clock (each row is a hand-worked case)."""

from __future__ import annotations

import pytest

from argus.endpoints.autoscaling import LoadSample, Metric, ScalingContext, decide


def load(*points: tuple[float, float], cpu: float = 0.0) -> tuple[LoadSample, ...]:
    return tuple(LoadSample(at, value, cpu) for at, value in points)


BASE = {"now": 100.0, "min_replica": 0, "max_replica": 4, "threshold": 1.5, "upscale_window_s": 3.0,
        "downscale_delay_s": 30.0, "scale_to_zero_after_s": 60.0, "last_request_at": 99.0, "last_change_at": 0.0}

CASES = [
    # (case, overrides, expected target)
    ("paused wins over load", {"paused": True, "current": 2, "samples": load((99, 9))}, 0),
    ("at zero with nothing waiting stays at zero", {"current": 0}, 0),
    ("a waiting request wakes it to one", {"current": 0, "waiting": 1}, 1),
    ("five waiting ask for ceil(5/1.5)=4", {"current": 0, "waiting": 5}, 4),
    ("waking respects maxReplica", {"current": 0, "waiting": 50, "max_replica": 2}, 2),
    ("waking gives at least minReplica", {"current": 0, "waiting": 1, "min_replica": 3}, 3),
    ("min above zero restores min", {"current": 0, "min_replica": 2}, 2),
    ("mean load 6 over the 3 s window needs ceil(6/1.5)=4",
     {"current": 1, "samples": load((98, 6), (99, 6), (100, 6))}, 4),
    ("samples older than the window are ignored for scale-up",
     {"current": 1, "samples": load((90, 60), (98, 1), (100, 1)), "last_change_at": 95.0}, 1),
    ("mean 3 over two replicas is 1.5 each: not above the threshold",
     {"current": 2, "samples": load((99, 3), (100, 3)), "last_change_at": 95.0}, 2),
    ("mean 3.1 over two replicas needs 3", {"current": 2, "samples": load((99, 3.1), (100, 3.1))}, 3),
    ("scale-up is capped at maxReplica", {"current": 3, "samples": load((100, 60))}, 4),
    ("low load within the down delay keeps replicas",
     {"current": 3, "samples": load((99, 0), (100, 0)), "last_change_at": 80.0}, 3),
    ("low load after the delay steps down to what the busiest sample needed",
     {"current": 4, "samples": load((75, 2.0), (90, 1.0), (100, 0)), "last_change_at": 60.0}, 2),
    ("scale-down never goes below one on load alone",
     {"current": 2, "samples": load((80, 0), (100, 0)), "last_change_at": 0.0}, 1),
    ("scale-down respects minReplica",
     {"current": 4, "samples": load((100, 0)), "min_replica": 3}, 3),
    ("idle past the timeout goes to zero", {"current": 2, "last_request_at": 30.0}, 0),
    ("idle but a request in flight keeps it", {"current": 1, "last_request_at": 30.0, "in_flight": 1}, 1),
    ("idle timeout does not apply above minReplica 0",
     {"current": 1, "min_replica": 1, "last_request_at": 0.0, "scale_to_zero_after_s": None}, 1),
    ("not idle long enough", {"current": 1, "last_request_at": 50.0}, 1),
    ("above maxReplica after an update comes down", {"current": 5, "max_replica": 2, "last_change_at": 99.0}, 2),
    ("below minReplica after an update goes up", {"current": 1, "min_replica": 2}, 2),
    ("CPU 90% on two replicas over a 60% threshold needs ceil(2*90/60)=3",
     {"current": 2, "metric": Metric.HARDWARE_USAGE, "threshold": 60.0, "samples": load((100, 0), cpu=90.0)}, 3),
    ("CPU 20% on three replicas, after the delay, needs one",
     {"current": 3, "metric": Metric.HARDWARE_USAGE, "threshold": 60.0, "samples": load((100, 0), cpu=20.0)}, 1),
]


@pytest.mark.parametrize(("overrides", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_policy(overrides, expected):
    context = ScalingContext(**{**BASE, **overrides})
    decision = decide(context)
    assert decision.target == expected, decision.reason
    assert decision.reason


def test_the_reason_names_the_load_and_threshold():
    decision = decide(ScalingContext(**{**BASE, "current": 1, "samples": load((100, 6))}))
    assert decision.reason == "load 6.0 over 1 replica(s) is above 1.5 per replica"
