"""Real escape attempts inside the real custom-Python sandbox process: the kernel refuses each one.

Each attempt runs as a block's code in a :class:`SandboxProcess` confined as the server confines it (Landlock,
seccomp, uid 65534 when the tests run as root). The attempt reports what happened from inside; the test
checks it was refused, and that the same sandbox (or a fresh one after a timeout) still runs a legitimate
numpy / OpenCV / supervision call.
"""

from __future__ import annotations

import os
import platform
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from argus.settings import Settings
from argus.workflows.confinement import ConfinementError, missing_layers, require_isolation
from argus.workflows.sandbox import CustomPythonError, SandboxLimits, SandboxProcess, SandboxUnavailableError

pytestmark = pytest.mark.skipif(bool(missing_layers()), reason=f"kernel layers missing: {missing_layers()}")

ATTEMPT = '''
def run(self, code, context):
    import os
    scope = {"os": os, **context}
    try:
        exec(code, scope)
    except BaseException as error:
        return {"refused": True, "error": f"{type(error).__name__}: {error}"}
    return {"refused": False, "error": "", "value": repr(scope.get("value"))[:300]}
'''

LEGITIMATE = '''
import numpy as np, cv2, supervision as sv
frame = np.zeros((64, 64, 3), np.uint8)
cv2.rectangle(frame, (10, 10), (30, 30), (255, 255, 255), -1)
blurred = cv2.GaussianBlur(frame, (5, 5), 0)
boxes = sv.Detections(xyxy=np.array([[10.0, 10.0, 30.0, 30.0]]))
value = (int(blurred[20, 20, 0]), float(boxes.area[0]))
'''

SYSCALL_SOCKET = {"x86_64": 41, "aarch64": 198}.get(platform.machine(), 41)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    (home / "workflows" / "local").mkdir(parents=True)
    (home / "argus.db").write_bytes(b"SQLite format 3\x00 secret rows")
    return home


@pytest.fixture
def sandbox(home: Path) -> Iterator[SandboxProcess]:
    settings = Settings(home=home)
    limits = SandboxLimits(timeout_s=3.0, protected_paths=tuple(settings.protected_paths))
    with SandboxProcess({"run_function_code": ATTEMPT}, "Escape", limits) as process:
        yield process


def attempt(sandbox: SandboxProcess, code: str, **context: Any) -> dict[str, Any]:
    return sandbox.call({"code": code, "context": context})  # type: ignore[return-value]


def assert_still_works(sandbox: SandboxProcess) -> None:
    outcome = attempt(sandbox, LEGITIMATE)
    assert outcome == {"refused": False, "error": "", "value": "(255, 400.0)"}


@pytest.fixture
def listener() -> Iterator[int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    yield server.getsockname()[1]
    server.close()


ESCAPES = {
    "read /etc/passwd": ("value = open('/etc/passwd').read()", "PermissionError"),
    "read the server's environ": ("value = open(f'/proc/{server_pid}/environ', 'rb').read()", "PermissionError"),
    "list the server's /proc": ("value = os.listdir(f'/proc/{server_pid}')", "PermissionError"),
    "subprocess.run": ("import subprocess; value = subprocess.run(['id'], capture_output=True)", "PermissionError"),
    "os.system": ("value = os.system('id'); assert value == 0, value", ""),
    "fork in a loop": ("value = [os.fork() for _ in range(60)]", "PermissionError"),
    "signal the server": ("os.kill(server_pid, 0)", "PermissionError"),
    "signal every process": ("os.kill(-1, 0)", "PermissionError"),
    "raw socket syscall through ctypes": (
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        f"fd = libc.syscall({SYSCALL_SOCKET}, 2, 1, 0)\nassert fd >= 0, ctypes.get_errno()", "AssertionError: 1"),
    "ptrace the server": (
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "assert libc.ptrace(16, server_pid, 0, 0) == 0, ctypes.get_errno()", "AssertionError: 1"),
}


@pytest.mark.parametrize("name", list(ESCAPES))
def test_escape_attempt_is_refused_and_the_next_call_works(sandbox: SandboxProcess, name: str) -> None:
    code, expected = ESCAPES[name]
    outcome = attempt(sandbox, code, server_pid=os.getpid())
    assert outcome["refused"], f"{name} was not refused: {outcome}"
    assert expected in outcome["error"]
    assert_still_works(sandbox)


def test_server_files_are_neither_readable_nor_writable(sandbox: SandboxProcess, home: Path) -> None:
    for code in (f"value = open({str(home / 'argus.db')!r}, 'rb').read()",
                 f"open({str(home / 'workflows/local/planted.json')!r}, 'w').write('{{}}')",
                 f"value = os.listdir({str(home)!r})",
                 f"value = open({str(Path(__file__))!r}).read()"):
        outcome = attempt(sandbox, code)
        assert outcome["refused"] and "PermissionError" in outcome["error"], (code, outcome)
    assert not (home / "workflows" / "local" / "planted.json").exists()
    assert_still_works(sandbox)


def test_the_private_folder_is_writable_and_removed_with_the_process(sandbox: SandboxProcess) -> None:
    outcome = attempt(sandbox, "import tempfile\nwith tempfile.NamedTemporaryFile('w', delete=False) as f:\n"
                               "    f.write('scratch')\nvalue = f.name")
    assert not outcome["refused"], outcome
    scratch = Path(eval(outcome["value"]))
    assert scratch.read_text() == "scratch"
    sandbox.close()
    assert not scratch.parent.exists()


def test_connecting_to_the_server_port_is_refused(sandbox: SandboxProcess, listener: int) -> None:
    outcome = attempt(sandbox, "import socket\nvalue = socket.create_connection(('127.0.0.1', port))", port=listener)
    assert outcome["refused"] and "PermissionError" in outcome["error"]
    assert_still_works(sandbox)


@pytest.mark.skipif(os.geteuid() != 0, reason="the uid is dropped only when the server runs as root")
def test_runs_unprivileged_when_the_server_is_root(sandbox: SandboxProcess) -> None:
    outcome = attempt(sandbox, "import resource\nvalue = (os.getuid(), os.getgid(), os.getgroups(), "
                               "resource.getrlimit(resource.RLIMIT_NPROC))")
    assert outcome["value"] == "(65534, 65534, [], (128, 128))"


def test_memory_spread_over_children_is_impossible(sandbox: SandboxProcess) -> None:
    code = ("chunks = []\nfor _ in range(4):\n    pid = os.fork()\n    if pid == 0:\n"
            "        chunks.append(bytearray(600 * 1024 * 1024))\n        while True: pass")
    outcome = attempt(sandbox, code)
    assert outcome["refused"] and "PermissionError" in outcome["error"]
    assert_still_works(sandbox)


def test_a_fork_before_an_endless_loop_leaves_nothing_behind(sandbox: SandboxProcess) -> None:
    code = "try:\n    os.fork()\nexcept OSError:\n    pass\nwhile True:\n    pass"
    attempt(sandbox, LEGITIMATE)
    pid = sandbox.pid
    assert pid is not None
    session = os.getsid(pid)
    with pytest.raises(CustomPythonError, match="timed out"):
        attempt(sandbox, code)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_in_session(p, session) for p in psutil.process_iter()):
        time.sleep(0.05)
    assert not any(_in_session(p, session) for p in psutil.process_iter())
    assert_still_works(sandbox)  # a fresh process


def _in_session(process: psutil.Process, session: int) -> bool:
    try:
        return os.getsid(process.pid) == session and process.status() != psutil.STATUS_ZOMBIE
    except (OSError, psutil.Error):
        return False


def test_a_server_path_inside_the_interpreter_fails_closed(tmp_path: Path) -> None:
    inside = Path(sys.prefix) / "argus-home-that-does-not-exist"
    limits = SandboxLimits(timeout_s=3.0, protected_paths=(inside,))
    with SandboxProcess({"run_function_code": ATTEMPT}, "Escape", limits) as process:
        with pytest.raises(SandboxUnavailableError, match="lies inside") as caught:
            attempt(process, "value = 1")
    assert caught.value.status_code == 503


def test_the_server_refuses_to_start_custom_python_without_the_layers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("argus.workflows.confinement.missing_layers",
                        lambda: ["Landlock (file rules): the kernel has no Landlock"])
    with pytest.raises(ConfinementError, match="Landlock") as caught:
        require_isolation(allow_custom_python=True, isolation="kernel")
    assert "ARGUS_CUSTOM_PYTHON_ISOLATION=none" in str(caught.value)
    require_isolation(allow_custom_python=True, isolation="none")  # the operator said so explicitly
    require_isolation(allow_custom_python=False, isolation="kernel")  # nothing to confine


def test_create_app_fails_closed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from argus.server.app import create_app

    monkeypatch.setattr("argus.workflows.confinement.missing_layers", lambda: ["seccomp: libseccomp missing"])
    with pytest.raises(ConfinementError, match="seccomp"):
        create_app(Settings(home=tmp_path, allow_custom_python=True))
