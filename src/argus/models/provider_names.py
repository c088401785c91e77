"""Execution provider names as operators write them (``cuda``, ``tensorrt``, ``auto``) and as ONNX Runtime does.

Kept apart from :mod:`argus.models.providers` so the settings can check the names without importing onnxruntime.
"""

from __future__ import annotations

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"
OPENVINO = "OpenVINOExecutionProvider"
AUTO = "auto"
AUTO_ORDER = (TENSORRT, CUDA, OPENVINO, "CoreMLExecutionProvider", "DmlExecutionProvider")
"""What ``auto`` tries, fastest first, where the build has it."""
ALIASES = {"cpu": CPU, "cuda": CUDA, "tensorrt": TENSORRT, "trt": TENSORRT, "openvino": OPENVINO,
           "coreml": "CoreMLExecutionProvider", "directml": "DmlExecutionProvider", "dml": "DmlExecutionProvider",
           "rocm": "ROCMExecutionProvider", "migraphx": "MIGraphXExecutionProvider"}


def normalise_provider_names(names: list[str]) -> list[str]:
    """Full provider names from the short ones (``cuda`` → ``CUDAExecutionProvider``); ``auto`` stays ``auto``.

    Example:
        >>> normalise_provider_names(["cuda", "CPUExecutionProvider"])
        ['CUDAExecutionProvider', 'CPUExecutionProvider']
    """
    normalised = []
    for name in names:
        full = AUTO if name.lower() == AUTO else ALIASES.get(name.lower(), name)
        if full != AUTO and not full.endswith("ExecutionProvider"):
            raise ValueError(f"unknown execution provider {name!r}: use auto, an ONNX Runtime provider name or one "
                             f"of {', '.join(sorted(ALIASES))}")
        normalised.append(full)
    if AUTO in normalised and len(normalised) > 1:
        raise ValueError("execution providers: 'auto' cannot be combined with a list")
    return normalised or [AUTO]
