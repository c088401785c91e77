"""ModelManager: lazy load, LRU by count and memory, one load under concurrency, unload, corrupt files."""

from __future__ import annotations

import threading
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from argus.errors import InvalidInputError, ModelArtifactError, ModelNotFoundError
from argus.runtime.manager import ModelManager
from argus.settings import Settings
from argus.store.manifest import ModelManifest
from argus.store.repository import ModelRepository


def _classifier(path: Path) -> Path:
    """images [B,3,8,8] → mean over H,W → [B,3] (a three-class 'classifier')."""
    node = helper.make_node("ReduceMean", ["images"], ["scores"], axes=[2, 3], keepdims=0)
    graph = helper.make_graph(
        [node], "tiny",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, 8, 8])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


@pytest.fixture
def store(settings: Settings, tmp_path: Path) -> ModelRepository:
    repo = ModelRepository(settings.model_store_dir)
    source = _classifier(tmp_path / "tiny.onnx")
    manifest = ModelManifest(task="classification", family="classifier", input_width=8, input_height=8,
                             class_names=["r", "g", "b"])
    for name in ("a", "b", "c"):
        repo.add(f"{name}/1", source, manifest)
    return repo


def test_lazy_load_and_lru_by_count(settings: Settings, store: ModelRepository) -> None:
    manager = ModelManager(settings.model_copy(update={"max_active_models": 2}), repository=store)
    assert manager.loaded() == {}
    first = manager.acquire("a/1")
    assert first.cold_start and first.load_seconds > 0
    assert not manager.acquire("a/1").cold_start
    manager.get("b/1")
    manager.get("a/1")  # a is now the most recently used
    evicted: list[str] = []
    manager.unload_listeners.append(evicted.append)
    manager.get("c/1")
    assert list(manager.loaded()) == ["a/1", "c/1"]
    assert evicted == ["b/1"]


def test_memory_budget_evicts(settings: Settings, store: ModelRepository) -> None:
    manager = ModelManager(settings.model_copy(update={"models_memory_budget_mb": 1}), repository=store)
    manager.get("a/1")
    manager.get("b/1")
    loaded = manager.loaded()
    assert len(loaded) >= 1 and "b/1" in loaded
    if sum(m.memory_bytes for m in loaded.values()) > 1_000_000:
        assert len(loaded) == 1


def test_concurrent_first_requests_load_once(settings: Settings, store: ModelRepository) -> None:
    manager = ModelManager(settings, repository=store)
    loads: list[str] = []
    manager.load_listeners.append(lambda model_id, seconds: loads.append(model_id))
    barrier = threading.Barrier(8)
    models = []

    def worker() -> None:
        barrier.wait()
        models.append(manager.get("a/1"))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert loads == ["a/1"]
    assert len({id(m) for m in models}) == 1


def test_unload_and_clear(settings: Settings, store: ModelRepository) -> None:
    manager = ModelManager(settings, repository=store)
    manager.get("a/1")
    manager.get("b/1")
    manager.unload("a/1")
    assert list(manager.loaded()) == ["b/1"]
    with pytest.raises(ModelNotFoundError):
        manager.unload("a/1")
    manager.clear()
    assert manager.loaded() == {}


def test_unknown_and_corrupt_models(settings: Settings, store: ModelRepository) -> None:
    manager = ModelManager(settings, repository=store)
    with pytest.raises(ModelNotFoundError, match="neither in the model store"):
        manager.get("nope/1")
    path = store.model_path("b/1")
    path.write_bytes(path.read_bytes()[:40])  # truncated
    with pytest.raises(ModelArtifactError, match="corrupt, truncated") as info:
        manager.get("b/1")
    assert info.value.status_code == 422
    assert manager.get("a/1").infer(__import__("numpy").zeros((4, 4, 3), "uint8")).top in ("r", "g", "b")


def test_settings_aliases(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MAX_ACTIVE_MODELS", "3")
    monkeypatch.setenv("MODEL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("ARGUS_EXECUTION_PROVIDERS", "CUDAExecutionProvider, CPUExecutionProvider")
    settings = Settings()
    assert settings.max_active_models == 3
    assert settings.model_store_dir == tmp_path / "cache"
    assert settings.execution_providers == ["CUDAExecutionProvider", "CPUExecutionProvider"]


def test_unloading_stops_the_models_batching_thread(settings: Settings, store: ModelRepository) -> None:
    import numpy as np

    manager = ModelManager(settings.model_copy(update={"max_active_models": 1}), repository=store)
    model = manager.get("a/1")
    model.infer(np.zeros((8, 8, 3), np.uint8))  # starts the batcher's runner thread
    runners = model.batcher.runners
    assert runners and all(runner.is_alive() for runner in runners)
    manager.get("b/1")  # evicts a/1
    for runner in runners:
        runner.join(5)
        assert not runner.is_alive()
    assert model.infer(np.zeros((8, 8, 3), np.uint8)).top in ("r", "g", "b")  # a holder still gets answers


def test_foundation_bundles_share_the_lru_with_detectors(settings: Settings, store: ModelRepository) -> None:
    from argus.models.foundation.clip import ClipModel
    from argus.models.vision import VisionModel
    from argus.store.importers import import_model
    from foundation_fixtures import FIXTURES

    import_model(FIXTURES / "clip-optimum", "clip/tiny", store)
    manager = ModelManager(settings.model_copy(update={"max_active_models": 1}), repository=store)
    clip = manager.foundation("clip/tiny", ClipModel)
    assert isinstance(clip, ClipModel) and list(manager.loaded()) == ["clip/tiny"]
    manager.get("a/1")  # a detector evicts the bundle, least recently used
    assert list(manager.loaded()) == ["a/1"] and isinstance(manager.loaded()["a/1"].model, VisionModel)
    with pytest.raises(InvalidInputError, match="not a clip model"):
        manager.foundation("a/1", ClipModel)
    with pytest.raises(InvalidInputError, match="/clip/embed_image"):
        manager.get("clip/tiny")
