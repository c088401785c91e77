"""Argus: self-hosted computer-vision inference.

Example:
    >>> import argus  # doctest: +SKIP
    >>> argus.get_model("yolov3-tiny-416").infer("street.jpg").to_supervision()  # doctest: +SKIP
"""

from argus.api import get_model
from argus.core.images import load_image
from argus.core.predictions import ClassificationResult, DetectionResult, Detections
from argus.errors import ArgusError, ClientError, ServerError
from argus.models.vision import VisionModel
from argus.runtime.manager import ModelManager
from argus.settings import Settings

__version__ = "0.1.0"

__all__ = [
    "ArgusError",
    "ClassificationResult",
    "ClientError",
    "DetectionResult",
    "Detections",
    "InferencePipeline",
    "ModelManager",
    "ServerError",
    "Settings",
    "VideoSource",
    "VisionModel",
    "__version__",
    "get_model",
    "load_image",
]


def __getattr__(name: str) -> object:
    # The video names load argus.streams (and supervision) on first use, not on ``import argus``.
    if name in ("InferencePipeline", "VideoSource"):
        import argus.streams

        return getattr(argus.streams, name)
    raise AttributeError(f"module 'argus' has no attribute {name!r}")
