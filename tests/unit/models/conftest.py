"""Fixtures for the family-decoder tests: a temporary model store and a manager over it."""

from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest

sys.path.insert(0, str(Path(__file__).parents[2]))  # tests/ holds onnx_builders

import onnx_builders
from argus.models.vision import VisionModel
from argus.runtime.manager import ModelManager
from argus.settings import Settings
from argus.store.importers import import_model
from argus.store.repository import ModelRepository, StoredModel


@dataclass
class TempStore:
    """A model store under ``tmp_path`` and a :class:`ModelManager` serving it."""

    root: Path
    repository: ModelRepository
    manager: ModelManager
    _counter: itertools.count = field(default_factory=itertools.count)

    def write(self, model: onnx.ModelProto, name: str | None = None) -> Path:
        """Save a built model outside the store and return its path."""
        return onnx_builders.save(model, self.root / "built" / (name or f"model-{next(self._counter)}.onnx"))

    def import_(self, model: onnx.ModelProto, model_id: str = "test/1", **overrides: Any) -> StoredModel:
        """Import a built model through :func:`import_model` (overrides are manifest fields)."""
        return import_model(self.write(model), model_id, self.repository, **overrides)

    def load(self, model: onnx.ModelProto, model_id: str = "test/1", **overrides: Any) -> VisionModel:
        """Import a built model and load it through the manager."""
        self.import_(model, model_id, **overrides)
        return self.manager.get(model_id)


@pytest.fixture
def store(tmp_path: Path) -> TempStore:
    """An empty store at ``tmp_path/models`` with a one-thread manager over it."""
    settings = Settings(home=tmp_path, intra_op_threads=1, inter_op_threads=1)
    repository = ModelRepository(tmp_path / "models")
    return TempStore(tmp_path, repository, ModelManager(settings, repository))


@pytest.fixture
def landscape() -> np.ndarray:
    """A black 200x100 (W x H) BGR image."""
    return np.zeros((100, 200, 3), dtype=np.uint8)


@pytest.fixture
def portrait() -> np.ndarray:
    """A black 100x200 (W x H) BGR image."""
    return np.zeros((200, 100, 3), dtype=np.uint8)
