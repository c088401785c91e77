"""Fixtures providing real model files for the zoo tests, fetched through the zoo itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from argus.settings import Settings
from argus.store.zoo import Zoo


@pytest.fixture(scope="session")
def zoo(zoo_settings: Settings) -> Zoo:
    """The built-in zoo over the session's zoo store (downloads are cached across sessions)."""
    return Zoo(zoo_settings)


@pytest.fixture(scope="session")
def yolov3_tiny_darknet_files(zoo: Zoo) -> tuple[Path, Path, Path]:
    """Darknet YOLOv3-tiny (COCO) as ``(cfg, weights, names)`` paths, checksum-verified."""
    entry = zoo.entry_for("yolov3-tiny-416")
    assert entry is not None
    files = zoo.fetch(entry)
    return files["cfg"], files["weights"], files["names"]
