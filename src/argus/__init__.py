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
    "AsyncClient",
    "ClassificationResult",
    "Client",
    "ClientError",
    "DetectionResult",
    "Detections",
    "InferencePipeline",
    "ModelManager",
    "ServerError",
    "Settings",
    "VideoSource",
    "VisionModel",
    "WorkflowContext",
    "__version__",
    "compile_workflow",
    "get_model",
    "load_image",
]

# Loaded on first use, so ``import argus`` stays light: name -> module that defines it.
_LAZY = {
    "InferencePipeline": "argus.streams", "VideoSource": "argus.streams",
    "Client": "argus.sdk", "AsyncClient": "argus.sdk",
    "WorkflowContext": "argus.workflows", "compile_workflow": "argus.workflows",
}


def __getattr__(name: str) -> object:
    # Video, the HTTP client and workflows load (with supervision, PyAV, httpx) when first used.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'argus' has no attribute {name!r}")
