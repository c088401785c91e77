"""DynamicBatcher: batch assembly, delays, ordering, failure isolation, admission control."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from argus.errors import ClientGoneError, ImageTooLargeError, OverloadedError
from argus.models.batching import BatchPolicy, DynamicBatcher

WAIT = 10.0  # generous bound on a result that must arrive; a hang fails the test instead of stalling it


class GatedModel:
    """A fake ``session.run``: doubles its input, records batch shapes, and can be held at a gate."""

    def __init__(self) -> None:
        self.batches: list[list[float]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def __call__(self, tensor: np.ndarray) -> list[np.ndarray]:
        self.entered.set()
        assert self.gate.wait(WAIT)
        if np.isnan(tensor).any():
            raise ValueError("NaN input")
        self.batches.append(tensor[:, 0].tolist())
        return [tensor * 2, np.array(7.0)]  # a batched output and one without a batch dimension


def rows(*values: float) -> np.ndarray:
    return np.array([[v, v] for v in values], dtype=np.float32)


def run_one(batcher: DynamicBatcher, tensor: np.ndarray) -> list[np.ndarray]:
    with batcher.admit(tensor.shape[0]) as ticket:
        return ticket.run(tensor)


def occupy(batcher: DynamicBatcher, model: GatedModel, pool: ThreadPoolExecutor):
    """Start a first request and hold the model inside it, so later requests queue up."""
    model.gate.clear()
    first = pool.submit(run_one, batcher, rows(0))
    assert model.entered.wait(WAIT)
    return first


def wait_queued(batcher: DynamicBatcher, count: int) -> None:
    """Wait until ``count`` requests sit in the queue (submitted, not yet taken into a batch)."""
    for _ in range(1000):
        if len(batcher._queue) >= count:
            return
        threading.Event().wait(0.005)
    raise AssertionError(f"{count} rows never queued")


def test_a_lone_request_runs_at_once_and_gets_its_own_rows() -> None:
    model = GatedModel()
    batcher = DynamicBatcher(model, BatchPolicy(max_batch_size=8, max_queue_delay=WAIT))
    out = run_one(batcher, rows(3, 4))  # nothing else admitted: no reason to wait for the delay
    assert out[0][:, 0].tolist() == [6, 8] and float(out[1]) == 7.0
    assert model.batches == [[3, 4]]
    batcher.close()


def test_requests_queued_behind_a_running_batch_run_together_in_arrival_order() -> None:
    model = GatedModel()
    batcher = DynamicBatcher(model, BatchPolicy(max_batch_size=4, max_queue_delay=0.0))
    with ThreadPoolExecutor(8) as pool:
        first = occupy(batcher, model, pool)
        later = []
        for value in (1, 2, 3, 4, 5):  # five one-row requests while the model is busy: 4 fit one batch
            later.append(pool.submit(run_one, batcher, rows(value)))
            wait_queued(batcher, len(later))
        model.gate.set()
        results = [f.result(WAIT) for f in [first, *later]]
    assert model.batches == [[0], [1, 2, 3, 4], [5]]
    assert [r[0][0, 0] for r in results] == [0, 2, 4, 6, 8, 10]  # each caller got its own row back
    batcher.close()


def test_a_batch_waits_for_an_admitted_request_that_is_still_preprocessing() -> None:
    model = GatedModel()
    batcher = DynamicBatcher(model, BatchPolicy(max_batch_size=2, max_queue_delay=WAIT))
    with ThreadPoolExecutor(2) as pool:
        with batcher.admit(1) as late_ticket:  # admitted (decoding, say) but not submitted yet
            early = pool.submit(run_one, batcher, rows(1))
            wait_queued(batcher, 1)
            assert model.batches == []  # the runner is waiting for the late request to join
            late = late_ticket.run(rows(2))
        assert early.result(WAIT)[0][0, 0] == 2 and late[0][0, 0] == 4
    assert model.batches == [[1, 2]]
    batcher.close()


def test_a_batch_stops_waiting_when_the_admitted_request_gives_up() -> None:
    model = GatedModel()
    batcher = DynamicBatcher(model, BatchPolicy(max_batch_size=2, max_queue_delay=WAIT))
    with ThreadPoolExecutor(1) as pool:
        with batcher.admit(1):  # this request fails during decoding and never submits
            early = pool.submit(run_one, batcher, rows(1))
            wait_queued(batcher, 1)
        assert early.result(WAIT)[0][0, 0] == 2  # released at once, not after WAIT
    assert model.batches == [[1]]
    batcher.close()


def test_the_queue_delay_bounds_the_wait_for_a_slow_request() -> None:
    model = GatedModel()
    batcher = DynamicBatcher(model, BatchPolicy(max_batch_size=2, max_queue_delay=0.01))
    with ThreadPoolExecutor(1) as pool, batcher.admit(1):  # admitted, never submits within the delay
        assert pool.submit(run_one, batcher, rows(5)).result(WAIT)[0][0, 0] == 10
    assert model.batches == [[5]]
    batcher.close()


def test_a_failing_request_in_a_batch_fails_alone() -> None:
    model = GatedModel()
    batcher = DynamicBatcher(model, BatchPolicy(max_batch_size=4, max_queue_delay=0.0))
    with ThreadPoolExecutor(4) as pool:
        first = occupy(batcher, model, pool)
        good_a = pool.submit(run_one, batcher, rows(1))
        wait_queued(batcher, 1)
        bad = pool.submit(run_one, batcher, rows(float("nan")))
        wait_queued(batcher, 2)
        good_b = pool.submit(run_one, batcher, rows(3))
        wait_queued(batcher, 3)
        model.gate.set()
        assert first.result(WAIT)[0][0, 0] == 0
        assert good_a.result(WAIT)[0][0, 0] == 2 and good_b.result(WAIT)[0][0, 0] == 6
        with pytest.raises(ValueError, match="NaN"):
            bad.result(WAIT)
    assert model.batches == [[0], [1], [3]]  # the batch failed, then each request ran on its own
    batcher.close()


def test_admission_past_the_limit_is_refused_with_a_retry_after() -> None:
    batcher = DynamicBatcher(GatedModel(), BatchPolicy(max_batch_size=2, max_pending_rows=3))
    with batcher.admit(2), batcher.admit(1):
        with pytest.raises(OverloadedError) as refused:
            with batcher.admit(1):
                pass
        assert refused.value.status_code == 503 and refused.value.retry_after >= 1
        assert "3 images waiting" in refused.value.message
    with batcher.admit(3):  # room again once the others are done
        assert batcher.pending_rows == 3
    assert batcher.pending_rows == 0
    batcher.close()


def test_a_request_larger_than_the_limit_is_refused_even_when_the_queue_is_empty() -> None:
    model = GatedModel()
    batcher = DynamicBatcher(model, BatchPolicy(max_pending_rows=2))
    with pytest.raises(ImageTooLargeError, match="carries 5 images.*at most 2") as caught:
        with batcher.admit(5):
            pass
    assert caught.value.status_code == 413
    assert batcher.pending_rows == 0 and model.batches == []
    assert run_one(batcher, rows(1, 2))[0].shape == (2, 2)  # a request within the limit still runs
    batcher.close()


def test_a_request_counts_in_full_against_what_is_pending() -> None:
    model = GatedModel()
    batcher = DynamicBatcher(model, BatchPolicy(max_pending_rows=3))
    with ThreadPoolExecutor(2) as pool:
        first = occupy(batcher, model, pool)  # one row running, none pending
        with batcher.admit(2):  # two admitted, pending now 2
            with pytest.raises(OverloadedError):
                with batcher.admit(2):  # 2 + 2 > 3
                    pass
        model.gate.set()
        first.result(WAIT)
    batcher.close()


def test_tensors_of_a_client_that_left_are_dropped_before_they_run() -> None:
    model = GatedModel()
    batcher = DynamicBatcher(model, BatchPolicy(max_batch_size=4))
    gone = threading.Event()
    with ThreadPoolExecutor(2) as pool:
        first = occupy(batcher, model, pool)

        def leaving_client() -> list[np.ndarray]:
            with batcher.admit(1, gone.is_set) as ticket:
                return ticket.run(rows(5))

        pending = pool.submit(leaving_client)
        wait_queued(batcher, 1)
        gone.set()
        model.gate.set()
        first.result(WAIT)
        with pytest.raises(ClientGoneError):
            pending.result(WAIT)
    assert model.batches == [[0.0]]  # the gone client's row never reached the model
    assert batcher.dropped == 1
    batcher.close()


def test_after_close_the_runner_exits_and_requests_still_run() -> None:
    model = GatedModel()
    batcher = DynamicBatcher(model, BatchPolicy(max_batch_size=4))
    run_one(batcher, rows(1))
    [runner] = batcher.runners
    batcher.close()
    runner.join(WAIT)
    assert not runner.is_alive()
    assert run_one(batcher, rows(2))[0][0, 0] == 4


def test_several_instances_run_batches_side_by_side() -> None:
    both_inside = threading.Barrier(2, timeout=WAIT)

    def meet(tensor: np.ndarray) -> list[np.ndarray]:
        both_inside.wait()  # each request's batch must be running at once, on its own runner
        return [tensor * 2]

    batcher = DynamicBatcher(meet, BatchPolicy(max_batch_size=1, instances=2))
    with ThreadPoolExecutor(2) as pool:
        results = [pool.submit(run_one, batcher, rows(v)) for v in (1, 2)]
        assert [r.result(WAIT)[0][0, 0] for r in results] == [2, 4]
    assert len(batcher.runners) == 2
    batcher.close()


def test_a_run_that_starts_while_another_is_busy_takes_the_crowded_session() -> None:
    wide, narrow = GatedModel(), GatedModel()
    batcher = DynamicBatcher(wide, BatchPolicy(instances=2, max_queue_delay=0.0), crowded_run=narrow)
    assert run_one(batcher, rows(1))[0].tolist() == [[2, 2]]  # alone: every core
    assert (wide.batches, narrow.batches) == ([[1]], [])
    wide.entered.clear()
    with ThreadPoolExecutor(2) as pool:
        first = occupy(batcher, wide, pool)  # the wide run is held inside session.run
        second = pool.submit(run_one, batcher, rows(5))
        assert second.result(WAIT)[0].tolist() == [[10, 10]]  # the second runner ran it beside the first
        wide.gate.set()
        first.result(WAIT)
    assert narrow.batches == [[5]] and batcher.crowded_batches == 1
    assert wide.batches == [[1], [0]]
    batcher.close()


def test_threads_follow_load_only_where_it_fits(store, tmp_path) -> None:
    import os

    from argus.models.session import OnnxSession
    from argus.models.vision import VisionModel
    from argus.settings import Settings
    from onnx_builders import colour_classifier

    stored = store.import_(colour_classifier(4 * np.eye(3)), "colours/1", task="classification",
                           class_names=["red", "green", "blue"], input_width=32, input_height=32)
    path = store.repository.model_path("colours/1")

    def model(**settings: object) -> VisionModel:
        chosen = Settings(home=tmp_path, **settings)  # type: ignore[arg-type]
        return VisionModel("colours/1", stored.manifest, OnnxSession(path, chosen, "colours/1"), chosen)

    default = model()
    if (os.cpu_count() or 1) > 1:
        assert default.crowded_session is not None and default.crowded_session.intra_op_threads == 1
        assert default.batcher.policy.max_batch_size == 1  # the runs fill the cores: no batching
        tensor, _ = default.preprocess([np.full((40, 40, 3), (200, 30, 30), np.uint8)])
        np.testing.assert_allclose(default.crowded_session.run(tensor)[0], default.session.run(tensor)[0], rtol=1e-5)
    for off in (model(intra_op_threads=2), model(model_instances=1), model(adaptive_threads=False)):
        assert off.crowded_session is None  # explicit threads, one runner, or switched off
    default.close()
