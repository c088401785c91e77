"""The native Python API: models without a server.

Example:
    >>> import argus  # doctest: +SKIP
    >>> result = argus.get_model("yolov3-tiny-416").infer("street.jpg")  # doctest: +SKIP
    >>> result.to_supervision()  # doctest: +SKIP
"""

from __future__ import annotations

import threading

from argus.models.vision import VisionModel
from argus.runtime.manager import ModelManager
from argus.settings import Settings, get_settings

_lock = threading.Lock()
_managers: dict[int, ModelManager] = {}


def default_manager(settings: Settings | None = None) -> ModelManager:
    """The process-wide manager for ``settings`` (the environment's settings by default)."""
    settings = settings or get_settings()
    with _lock:
        manager = _managers.get(id(settings))
        if manager is None:
            manager = _managers[id(settings)] = ModelManager(settings)
        return manager


def get_model(model_id: str, settings: Settings | None = None) -> VisionModel:
    """A loaded model by store id (``name/version``) or zoo alias, loading it on first use.

    Args:
        model_id: ``name/version`` of a model in the store, or a zoo alias such as ``yolov3-tiny-416``.
        settings: configuration; the environment's by default.

    Example:
        >>> model = get_model("yolov3-tiny-416")  # doctest: +SKIP
        >>> [p["class"] for p in model.infer("street.jpg").to_roboflow()["predictions"]]  # doctest: +SKIP
        ['person', 'person', 'car']
    """
    return default_manager(settings).get(model_id)
