"""Shared fixtures: settings rooted in a temporary home, sample photos, zoo models materialised once."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # test helpers such as onnx_builders
# Every test home shares one zoo download cache (the default, <home>/cache/zoo, would fetch the weights per home).
os.environ.setdefault("ARGUS_ZOO_CACHE_DIR", str(Path("~/.cache/argus/zoo").expanduser()))

from argus.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with a fresh, empty ARGUS_HOME (the zoo download cache stays shared: ARGUS_ZOO_CACHE_DIR)."""
    return Settings(home=tmp_path / "home")


@pytest.fixture(scope="session")
def zoo_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings whose store holds zoo models, materialised once per test session."""
    home = os.environ.get("ARGUS_TEST_ZOO_HOME")
    return Settings(home=Path(home) if home else tmp_path_factory.mktemp("zoo-home"))


@pytest.fixture(scope="session")
def zoo_manager(zoo_settings: Settings):
    """A model manager over the session's zoo store."""
    from argus.runtime.manager import ModelManager

    return ModelManager(zoo_settings)
