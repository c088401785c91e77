"""``argus models tune``: the choice on fake timing tables, the grid, where the tuning applies, and a real run
that writes the manifest the manager then loads with."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from argus.cli.main import app as cli
from argus.models.tune import Candidate, Measurement, candidates, choose, tune_model, tuned_settings
from argus.runtime.manager import ModelManager
from argus.settings import Settings
from argus.store.manifest import ModelManifest, Tuning
from onnx_builders import colour_classifier


def _table(*rows: tuple[int, int, int, float, float]) -> list[Measurement]:
    return [Measurement(Candidate(i, t, b), rate, p99 / 2, p99) for i, t, b, rate, p99 in rows]


def test_the_fastest_candidate_wins_and_near_ties_go_to_the_shorter_tail() -> None:
    clear_winner = _table((1, 2, 1, 30.0, 200.0), (2, 1, 4, 30.5, 150.0), (2, 2, 8, 40.0, 300.0))
    assert choose(clear_winner).candidate == Candidate(2, 2, 8)  # a third more throughput, whatever its tail
    near_tie = _table((1, 2, 1, 30.0, 200.0), (2, 1, 4, 30.5, 150.0), (2, 2, 8, 29.0, 120.0))
    assert choose(near_tie).candidate == Candidate(2, 1, 4)  # 29.0 is 4.9 % short of 30.5: out of the tie
    same_tail = _table((2, 2, 1, 30.0, 150.0), (1, 2, 1, 30.2, 150.0), (2, 1, 1, 30.1, 150.0))
    assert choose(same_tail).candidate == Candidate(1, 2, 1)  # then the fewest threads in all: 2, not 4


def test_the_grid_covers_instances_threads_and_batches_the_graph_allows() -> None:
    grid = candidates(cores=2, dynamic_batch=True)
    assert len(grid) == 2 * 2 * 4 + 1
    assert {(c.intra_op_threads, c.max_batch_size) for c in grid} == {(t, b) for t in (1, 2) for b in (1, 2, 4, 8)
                                                                      } | {(0, 1)}  # 0: threads follow load
    assert candidates(cores=1, dynamic_batch=False) == [Candidate(1, 1, 1), Candidate(2, 1, 1)]
    assert {c.intra_op_threads for c in candidates(cores=12, dynamic_batch=False)} == {0, 1, 2, 4, 8, 12}


def _manifest(cpu_count: int) -> ModelManifest:
    tuning = Tuning(instances=1, intra_op_threads=1, cpu_count=cpu_count, clients=4, images_per_s=1.0, p99_ms=1.0)
    return ModelManifest(task="classification", family="yolov8", input_width=8, input_height=8, tuning=tuning)


def test_tuning_applies_only_where_the_operator_left_the_knob_and_on_the_same_machine(tmp_path: Path) -> None:
    here = os.cpu_count() or 1
    tuned = tuned_settings(Settings(home=tmp_path), _manifest(here))
    assert (tuned.model_instances, tuned.intra_op_threads) == (1, 1)
    operator = tuned_settings(Settings(home=tmp_path, model_instances=3), _manifest(here))
    assert (operator.model_instances, operator.intra_op_threads) == (3, 1)  # explicit setting wins
    elsewhere = tuned_settings(Settings(home=tmp_path), _manifest(here + 1))
    assert (elsewhere.model_instances, elsewhere.intra_op_threads) == (2, 0)  # the defaults


def test_a_real_run_writes_the_manifest_the_manager_loads_with(store, tmp_path: Path) -> None:
    store.import_(colour_classifier(4 * np.eye(3)), "colours/1", task="classification",
                  class_names=["red", "green", "blue"], input_width=32, input_height=32)
    settings = Settings(home=tmp_path)
    image = np.full((48, 64, 3), (20, 40, 220), np.uint8)
    seen: list[Measurement] = []
    measurements, chosen = tune_model(store.repository, "colours/1", settings, image, clients=2, requests=4,
                                      progress=seen.append)
    assert measurements == seen and len(measurements) == len(candidates(os.cpu_count() or 1, True))
    assert all(m.images_per_s > 0 and m.p99_ms >= m.p50_ms for m in measurements)
    manifest = store.repository.manifest("colours/1")
    assert manifest.tuning is not None
    assert (manifest.tuning.instances, manifest.tuning.intra_op_threads, manifest.batching.max_batch_size) == (
        chosen.candidate.instances, chosen.candidate.intra_op_threads, chosen.candidate.max_batch_size)
    model = ModelManager(settings, store.repository).get("colours/1")
    assert model.batcher.policy.instances == chosen.candidate.instances
    assert model.batcher.policy.max_batch_size == chosen.candidate.max_batch_size
    assert model.infer(image).top == "red"  # BGR (20, 40, 220) is red, and still served


def test_the_command_prints_the_table_and_a_dry_run_leaves_the_manifest(store, tmp_path: Path) -> None:
    store.import_(colour_classifier(4 * np.eye(3)), "colours/1", task="classification",
                  class_names=["red", "green", "blue"], input_width=32, input_height=32)
    result = CliRunner().invoke(cli, ["models", "tune", "colours/1", "--dry-run", "--clients", "1", "--requests", "4"],
                                env={"ARGUS_HOME": str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert "images/s" in result.output and "would store in colours/1's manifest" in result.output
    assert store.repository.manifest("colours/1").tuning is None


@pytest.fixture(autouse=True)
def _no_operator_knobs(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ARGUS_MODEL_INSTANCES", "ARGUS_INTRA_OP_THREADS"):
        monkeypatch.delenv(name, raising=False)
