"""A private virtual environment with Roboflow's ``inference-sdk``, and a way to run scripts in it.

``inference-sdk==1.8.3`` pins ``opencv-python<=4.13``, ``supervision<0.31``, ``numpy<2.4`` and
``pillow<13``, which clash with Argus's own environment, so the SDK lives in a venv of its own
(cached under ``~/.cache/argus/test-venvs/``, built once, reused by later sessions) and tests drive
it through a subprocess: the script prints one JSON document on its last stdout line.

Two pytest processes may start at once: creation is serialised with an ``fcntl`` lock, and a
``.argus-ready`` marker written last says the venv is complete (a half-built one is rebuilt).

Example:
    >>> run_in_sdk("import json; print(json.dumps(1 + 1))", {})  # doctest: +SKIP
    2
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

SDK_PACKAGE = "inference-sdk"
SDK_VERSION = "1.8.3"
VENV_DIR = Path(os.environ.get("ARGUS_SDK_VENV", f"~/.cache/argus/test-venvs/{SDK_PACKAGE}-{SDK_VERSION}")
                ).expanduser()
READY_MARKER = ".argus-ready"
CREATE_TIMEOUT_S = 1200
RUN_TIMEOUT_S = 300

# Environment variables of the parent that must not leak into the SDK's interpreter.
_DROPPED_ENV = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP", "PYTHONSAFEPATH")


class SdkVenvError(RuntimeError):
    """The SDK venv could not be built."""


class SdkScriptError(RuntimeError):
    """A script run in the SDK venv failed (exit status, stderr and stdout in the message)."""

    def __init__(self, message: str, returncode: int, stdout: str, stderr: str) -> None:
        super().__init__(message)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


_python: Path | None = None


def venv_python(venv: Path = VENV_DIR) -> Path:
    """The interpreter of ``venv``."""
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _is_ready(venv: Path) -> bool:
    if not (venv / READY_MARKER).is_file() or not venv_python(venv).is_file():
        return False
    probe = subprocess.run(
        [str(venv_python(venv)), "-c",
         f"import importlib.metadata as m; print(m.version({SDK_PACKAGE!r}))"],
        capture_output=True, text=True, timeout=120, env=_clean_env({}), check=False,
    )
    return probe.returncode == 0 and probe.stdout.strip() == SDK_VERSION


def _run_checked(command: list[str], what: str) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=CREATE_TIMEOUT_S,
                              env=_clean_env({}), check=False)
    except subprocess.TimeoutExpired as error:
        raise SdkVenvError(f"{what} timed out after {CREATE_TIMEOUT_S} s: {command}") from error
    if done.returncode != 0:
        raise SdkVenvError(f"{what} failed (exit {done.returncode}): {command}\n"
                           f"--- stdout ---\n{done.stdout[-4000:]}\n--- stderr ---\n{done.stderr[-4000:]}")


def ensure_sdk_venv(venv: Path = VENV_DIR) -> Path:
    """Build the venv once (or reuse it) and return its interpreter."""
    global _python
    if _python is not None and venv == VENV_DIR:
        return _python
    if not _is_ready(venv):
        with _locked(venv.with_name(venv.name + ".lock")):
            if not _is_ready(venv):  # another process may have finished it while we waited
                if venv.exists():
                    shutil.rmtree(venv)
                _run_checked([sys.executable, "-m", "venv", str(venv)], "creating the SDK venv")
                python = str(venv_python(venv))
                _run_checked([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                              f"{SDK_PACKAGE}=={SDK_VERSION}"], f"pip install {SDK_PACKAGE}=={SDK_VERSION}")
                (venv / READY_MARKER).write_text(f"{SDK_PACKAGE}=={SDK_VERSION}\n")
    if venv == VENV_DIR:
        _python = venv_python(venv)
    return venv_python(venv)


def _clean_env(env: Mapping[str, str]) -> dict[str, str]:
    merged = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
    merged.update({k: str(v) for k, v in env.items()})
    merged.setdefault("PYTHONUNBUFFERED", "1")
    return merged


def last_json_line(stdout: str) -> Any:
    """The JSON document on the last non-empty line of ``stdout``."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    if not lines:
        raise ValueError("the script printed nothing on stdout")
    return json.loads(lines[-1])


def run_in_sdk(script: str, env: Mapping[str, str] | None = None, *, timeout: float = RUN_TIMEOUT_S) -> Any:
    """Run ``script`` with the SDK venv's interpreter and return the JSON of its last stdout line.

    ``env`` is added to this process's environment (typically the server URL). A non-zero exit
    raises :class:`SdkScriptError` with stderr and stdout in its message.
    """
    python = ensure_sdk_venv()
    with tempfile.TemporaryDirectory(prefix="argus-sdk-") as scratch:
        path = Path(scratch) / "script.py"
        path.write_text(script)
        try:
            done = subprocess.run([str(python), str(path)], capture_output=True, text=True, timeout=timeout,
                                  env=_clean_env(env or {}), cwd=scratch, check=False)
        except subprocess.TimeoutExpired as error:
            raise SdkScriptError(f"SDK script timed out after {timeout} s\n--- stderr ---\n{error.stderr}",
                                 -1, str(error.stdout or ""), str(error.stderr or "")) from None
    if done.returncode != 0:
        raise SdkScriptError(
            f"SDK script exited with {done.returncode}\n--- stderr ---\n{done.stderr[-8000:]}\n"
            f"--- stdout ---\n{done.stdout[-4000:]}", done.returncode, done.stdout, done.stderr)
    try:
        return last_json_line(done.stdout)
    except ValueError as error:
        raise SdkScriptError(f"SDK script printed no JSON on its last line ({error})\n--- stdout ---\n"
                             f"{done.stdout[-4000:]}\n--- stderr ---\n{done.stderr[-4000:]}",
                             0, done.stdout, done.stderr) from None
