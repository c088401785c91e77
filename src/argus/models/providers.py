"""Which ONNX Runtime execution providers models get, and why an accelerator could not be used.

ONNX Runtime falls back to CPU *silently* when a GPU provider cannot load (a missing CUDA library, no driver,
no device): the session just lists fewer providers. So the server decides once, at start, with a probe
session, and says why in words an operator can act on:

- ``auto`` (the default): every accelerator this onnxruntime build has, in the order TensorRT, CUDA, OpenVINO,
  CoreML, DirectML, then CPU; one that cannot load is skipped with a warning that says why.
- an explicit list (``ARGUS_EXECUTION_PROVIDERS=cuda`` or full provider names): each accelerator in it is
  *required*. One that cannot load stops the server with the reason, unless the operator allowed running on
  CPU instead (``ARGUS_CPU_FALLBACK=true``), which is then logged as an error and reported by ``/info``.

The reason comes from the dynamic loader (``dlopen`` of the provider's library names the missing ``.so``) and,
when the libraries load, from the NVIDIA driver itself (``cuInit``, ``cuDriverGetVersion``): the two facts
ONNX Runtime's own warning leaves out.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import io
import logging
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import onnx
from onnx import TensorProto, helper

from argus.errors import ArgusError
from argus.models.provider_names import AUTO, AUTO_ORDER, CPU, CUDA, OPENVINO, TENSORRT, normalise_provider_names
from argus.settings import Settings

try:
    import onnxruntime as ort
except ImportError as missing:  # the runtime is an extra: [cpu], [gpu] or [openvino]
    raise ImportError("Argus needs an ONNX Runtime build: pip install 'argus[cpu]' (or 'argus[gpu]', "
                      "'argus[openvino]')") from missing

logger = logging.getLogger(__name__)

RUNTIME_PACKAGES = frozenset({
    "onnxruntime", "onnxruntime-gpu", "onnxruntime-openvino", "onnxruntime-directml", "onnxruntime-rocm",
    "onnxruntime-migraphx", "onnxruntime-qnn", "onnxruntime-cann", "onnxruntime-training", "onnxruntime-silicon",
    "onnxruntime-trt-rtx", "onnxruntime-webgpu", "onnxruntime-windowsml",
})
"""Distributions that each install the one ``onnxruntime`` import package: two of them overwrite each other."""
_PROVIDER_LIBRARIES = {CUDA: "cuda", TENSORRT: "tensorrt", OPENVINO: "openvino"}
_LIBRARY_HINTS = (
    ("libcuda.so", "the NVIDIA driver is not installed or not visible here; in a container, run it with "
                   "--gpus all and the NVIDIA Container Toolkit"),
    ("libcudnn", "cuDNN 9 is missing: pip install 'argus[gpu]' installs it from PyPI"),
    ("libnvinfer", "the TensorRT 10 libraries are missing: pip install 'argus[tensorrt]'"),
    ("libnvonnxparser", "the TensorRT 10 libraries are missing: pip install 'argus[tensorrt]'"),
    ("libcu", "the CUDA runtime libraries are missing: pip install 'argus[gpu]' installs them from PyPI"),
    ("libnvrtc", "the CUDA runtime libraries are missing: pip install 'argus[gpu]' installs them from PyPI"),
    ("libopenvino", "the OpenVINO runtime is missing: pip install 'argus[openvino]'"),
)


class ProviderUnavailableError(ArgusError):
    """An execution provider the operator asked for cannot be used, and CPU fallback was not allowed."""


@dataclass(frozen=True)
class ProviderPlan:
    """The providers every session gets (CPU last), and why each accelerator that was tried is not among them."""

    providers: tuple[str, ...]
    unusable: dict[str, str] = field(default_factory=dict)
    fell_back: bool = False
    """An accelerator the operator asked for is unusable and the server runs on CPU because they allowed it."""

    def session_providers(self, cache_dir: Path) -> list[str | tuple[str, dict[str, str]]]:
        """What ``InferenceSession(providers=...)`` takes: TensorRT keeps its engines under ``cache_dir`` (an
        engine build takes seconds to minutes per model; the cache makes it once per model and machine)."""
        chosen: list[str | tuple[str, dict[str, str]]] = []
        for provider in self.providers:
            if provider == TENSORRT:
                chosen.append((provider, {"trt_engine_cache_enable": "True", "trt_timing_cache_enable": "True",
                                          "trt_engine_cache_path": str(cache_dir / "tensorrt")}))
            else:
                chosen.append(provider)
        return chosen


def plan_providers(requested: list[str], cpu_fallback: bool) -> ProviderPlan:
    """Decide the providers (see the module docstring); raises :class:`ProviderUnavailableError` when a required
    accelerator cannot load and ``cpu_fallback`` is off."""
    requested = normalise_provider_names(requested)
    auto = requested == [AUTO]
    available = set(ort.get_available_providers())
    candidates = [p for p in AUTO_ORDER if p in available] if auto else [p for p in requested if p != CPU]
    usable: list[str] = []
    unusable: dict[str, str] = {}
    for provider in candidates:
        reason = unusable_reason(provider, available)
        if reason is None:
            usable.append(provider)
        else:
            unusable[provider] = reason
    for provider, reason in unusable.items():
        log = logger.warning if auto else logger.error
        log("execution provider %s is not usable: %s", provider, reason)
    if unusable and not auto and not cpu_fallback:
        reasons = "; ".join(f"{provider}: {reason}" for provider, reason in unusable.items())
        raise ProviderUnavailableError(
            f"ARGUS_EXECUTION_PROVIDERS asks for a provider that cannot be used ({reasons}). Fix that, or set "
            "ARGUS_CPU_FALLBACK=true to run on the CPU instead, or ARGUS_EXECUTION_PROVIDERS=auto to use what works."
        )
    return ProviderPlan((*usable, CPU), unusable, fell_back=bool(unusable) and not auto)


def provider_plan(settings: Settings) -> ProviderPlan:
    """The plan for ``settings``' providers and fallback, probed once per process (:func:`plan_providers`)."""
    return _cached_plan(tuple(settings.execution_providers), settings.cpu_fallback)


@functools.cache
def _cached_plan(requested: tuple[str, ...], cpu_fallback: bool) -> ProviderPlan:
    return plan_providers(list(requested), cpu_fallback)


def unusable_reason(provider: str, available: set[str] | None = None) -> str | None:
    """Why ``provider`` cannot run a model here, or ``None`` when a probe session gets it."""
    available = set(ort.get_available_providers()) if available is None else available
    if provider not in available:
        runtime = runtime_distribution() or "no onnxruntime distribution"
        hint = {CUDA: "pip install 'argus[gpu]'", TENSORRT: "pip install 'argus[tensorrt]'",
                OPENVINO: "pip install 'argus[openvino]'"}.get(provider, "install an onnxruntime build that has it")
        return f"this onnxruntime build ({runtime}) has no {provider}: {hint}"
    if provider in (CUDA, TENSORRT):
        _preload_nvidia_libraries()
    if _probe_session_gets(provider):
        return None
    return provider_library_problem(provider) or _driver_problem(provider) or (
        f"ONNX Runtime could not create {provider} (its libraries load; see ONNX Runtime's log above)")


def provider_library_problem(provider: str, capi_dir: Path | None = None) -> str | None:
    """What the dynamic loader says when it loads the provider's shared library (``None`` when it loads, or
    when the provider has no library of its own): the missing ``.so`` is named in its message."""
    short = _PROVIDER_LIBRARIES.get(provider)
    if short is None:
        return None
    capi_dir = capi_dir or Path(ort.__file__).parent / "capi"
    library = capi_dir / f"libonnxruntime_providers_{short}.so"
    if not library.exists():
        return f"{library.name} is not in this onnxruntime build ({capi_dir})"
    try:
        ctypes.CDLL(str(library))
    except OSError as error:
        message = str(error).removeprefix(f"{library}: ")
        missing = message.split(":", 1)[0].strip()
        hint = next((text for prefix, text in _LIBRARY_HINTS if missing.startswith(prefix)), None)
        return f"{message}" + (f" ({hint})" if hint else "")
    return None


def _driver_problem(provider: str) -> str | None:
    """What the NVIDIA driver says (no device, too old for this build's CUDA), for CUDA and TensorRT."""
    if provider not in (CUDA, TENSORRT):
        return None
    try:
        driver = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return "the NVIDIA driver (libcuda.so.1) is not installed or not visible here"
    status = driver.cuInit(0)
    if status != 0:
        text = ctypes.c_char_p()
        driver.cuGetErrorString(status, ctypes.byref(text))
        return f"the NVIDIA driver reports: {(text.value or b'error %d' % status).decode()}"
    version = ctypes.c_int()
    driver.cuDriverGetVersion(ctypes.byref(version))
    needed = _build_cuda_major()
    if needed and version.value // 1000 < needed:
        return (f"the NVIDIA driver supports CUDA up to {version.value // 1000}.{version.value % 1000 // 10}; this "
                f"onnxruntime build needs CUDA {needed}: update the driver")
    return None


def _build_cuda_major() -> int | None:
    """The CUDA major version this onnxruntime build was compiled for (``None`` for a CPU build)."""
    with contextlib.suppress(ImportError, ValueError, AttributeError):
        from onnxruntime.capi import build_and_package_info  # type: ignore[attr-defined]

        return int(str(build_and_package_info.cuda_version).split(".")[0])
    return None


@functools.cache
def _preload_nvidia_libraries() -> None:
    """Load CUDA and cuDNN from the ``nvidia-*`` wheels (``argus[gpu]``) and TensorRT from ``tensorrt-*-libs``
    (``argus[tensorrt]``) so the provider libraries find them without ``LD_LIBRARY_PATH``. Missing ones are not
    an error here: the probe and :func:`provider_library_problem` say what is missing."""
    preload = getattr(ort, "preload_dlls", None)
    if preload is not None:
        with contextlib.redirect_stdout(io.StringIO()) as printed:  # it prints its failures; the probe reports them
            preload(directory="")
        logger.debug("onnxruntime.preload_dlls: %s", printed.getvalue().strip())
    for package in ("tensorrt_libs", "tensorrt_cu13_libs", "tensorrt_cu12_libs"):
        with contextlib.suppress(ImportError):
            module = __import__(package)
            for library in sorted(Path(next(iter(module.__path__))).glob("libnv*.so*")):
                with contextlib.suppress(OSError):
                    ctypes.CDLL(str(library), mode=ctypes.RTLD_GLOBAL)


@functools.cache
def _probe_model() -> bytes:
    """A one-node graph (Relu) every provider can run."""
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "argus-provider-probe",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _probe_session_gets(provider: str) -> bool:
    """Whether a one-node session asked for ``provider`` (then CPU) really gets it."""
    options = ort.SessionOptions()
    options.log_severity_level = 4  # the verdict and its reason are logged here, in words
    ort.set_default_logger_severity(4)
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # onnxruntime prints its fallback banner
            session = ort.InferenceSession(_probe_model(), options, providers=[provider, CPU])
        return provider in session.get_providers()
    except Exception:  # noqa: BLE001 - onnxruntime raises its own pybind types; the reason is found afterwards
        return False
    finally:
        ort.set_default_logger_severity(3)


def runtime_distribution(path: list[str] | None = None) -> str | None:
    """``name version`` of the installed onnxruntime build (the first, if several)."""
    installed = installed_runtimes(path)
    return installed[0] if installed else None


def installed_runtimes(path: list[str] | None = None) -> list[str]:
    """Every installed onnxruntime build as ``name version``: more than one means their files overwrote each
    other (they share the ``onnxruntime`` import package)."""
    found = set()
    distributions = metadata.distributions() if path is None else metadata.distributions(path=path)
    for distribution in distributions:
        name = (distribution.metadata["Name"] or "").lower().replace("_", "-")
        if name in RUNTIME_PACKAGES:
            found.add(f"{name} {distribution.version}")
    return sorted(found)


def warn_about_mixed_runtimes(path: list[str] | None = None) -> str | None:
    """Log (and return) an error when more than one onnxruntime build is installed."""
    installed = installed_runtimes(path)
    if len(installed) < 2:
        return None
    names = " ".join(entry.split()[0] for entry in installed)
    message = (f"several ONNX Runtime builds are installed ({', '.join(installed)}); they overwrite each other's "
               f"files. Keep one: pip uninstall -y {names} && pip install 'argus[cpu]' (or [gpu], [openvino])")
    logger.error(message)
    return message
