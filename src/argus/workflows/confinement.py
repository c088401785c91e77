"""Kernel confinement of the custom-Python sandbox process: Landlock, seccomp, an unprivileged uid, rlimits.

:mod:`argus.workflows.sandbox_worker` calls :func:`confine` after it has imported numpy, OpenCV and
supervision and before it sees any user code. From then on the kernel, not Python, refuses:

- **files** (Landlock): reads outside the interpreter, its packages and the system libraries; writes
  outside the process's private temp folder. ``/etc/passwd``, ``/proc`` (so other processes'
  ``environ``), ``ARGUS_HOME`` and everything else are out of reach.
- **network** (seccomp, and Landlock's TCP rules from ABI 4): ``socket``, ``socketpair`` and io_uring
  fail with EPERM, so no connection to the server or anywhere else.
- **processes** (seccomp): ``fork``, ``vfork``, ``clone`` without ``CLONE_THREAD``, ``execve``; ``clone3``
  answers ENOSYS so the C library falls back to ``clone``, whose flags a filter can see. Threads work.
- **other processes** (seccomp, the uid, Landlock's signal scope from ABI 6): ``kill`` and friends only
  towards this process, no ``ptrace``, ``process_vm_*``, ``pidfd_*``.
- **privilege** (seccomp, ``no_new_privs``): no mounts, namespaces, BPF, keyrings, modules.
- **identity**: a server running as root drops the sandbox to uid/gid 65534 (``nobody``), with
  ``RLIMIT_NPROC`` bounding its threads; a non-root server's sandbox keeps the server's uid.

Written on ``ctypes`` for Landlock because the ``landlock`` package on PyPI is a pre-release that
handles file rules only (no TCP rules, no signal scope); seccomp goes through ``pyseccomp``
(``libseccomp``), which also rejects syscalls of foreign ABIs (i386, x32) on x86-64.

Fail closed: :func:`missing_layers` is what the server checks at start; :func:`confine` raises
:class:`ConfinementError` naming the layer it could not apply, and the worker then runs nothing.
"""

from __future__ import annotations

import ctypes
import errno
import os
import resource
import stat
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

UNPRIVILEGED_ID = 65534
"""uid and gid of the sandbox when the server runs as root (``nobody`` / ``nogroup`` on Debian)."""
SANDBOX_NPROC = 128
"""``RLIMIT_NPROC`` of the unprivileged sandbox uid: threads of all its sandboxes together."""

# Landlock (include/uapi/linux/landlock.h). The syscall numbers are the same on every architecture.
_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_FS_EXECUTE, _FS_WRITE_FILE, _FS_READ_FILE, _FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_FS_ABI1 = (1 << 13) - 1  # EXECUTE .. MAKE_SYM
_FS_REFER, _FS_TRUNCATE, _FS_IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
_FILE_RIGHTS = _FS_EXECUTE | _FS_WRITE_FILE | _FS_READ_FILE | _FS_TRUNCATE | _FS_IOCTL_DEV
_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1
_PR_SET_NO_NEW_PRIVS = 38

_CLONE_THREAD = 0x00010000

# Syscalls refused outright (EPERM). Only ever reached by code that tries to leave the sandbox.
_REFUSED_SYSCALLS = (
    "socket", "socketpair", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "fork", "vfork", "execve", "execveat",
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_open", "pidfd_getfd", "pidfd_send_signal",
    "tkill",
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen",
    "fsmount", "fsconfig", "fspick", "mount_setattr", "open_by_handle_at", "name_to_handle_at",
    "bpf", "perf_event_open", "userfaultfd", "keyctl", "add_key", "request_key", "fanotify_init",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot",
    "swapon", "swapoff", "acct", "quotactl", "mknod", "mknodat", "personality",
)
_SYSTEM_READ_PATHS = ("/usr", "/lib", "/lib64", "/lib32", "/etc/ld.so.cache", "/etc/localtime", "/dev/urandom")


class ConfinementError(RuntimeError):
    """A layer of the sandbox could not be applied (the worker must not run user code)."""


@dataclass(frozen=True)
class ConfinementPlan:
    """What the sandbox process may touch: read-only paths, its private read-write folder; the uid it runs as."""

    private_dir: Path
    read_paths: tuple[Path, ...]
    drop_to_uid: int | None = None


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def landlock_abi() -> int:
    """The kernel's Landlock ABI version; 0 when Landlock is missing or disabled."""
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    version = libc.syscall(ctypes.c_long(_SYS_CREATE_RULESET), None, ctypes.c_size_t(0),
                           ctypes.c_uint32(_CREATE_RULESET_VERSION))
    return max(0, int(version))


def _seccomp_module():  # type: ignore[no-untyped-def]
    import pyseccomp  # type: ignore[import-untyped]

    return pyseccomp


def missing_layers() -> list[str]:
    """The kernel layers this machine cannot enforce, each named with why (empty: all there)."""
    missing = []
    if not sys.platform.startswith("linux"):
        return [f"Linux (this is {sys.platform}; Landlock and seccomp are Linux features)"]
    if landlock_abi() < 1:
        missing.append("Landlock (file rules): the kernel has no Landlock or it is not in the 'lsm=' list")
    try:
        _seccomp_module().SyscallFilter(_seccomp_module().ALLOW)
    except Exception as error:  # noqa: BLE001 - any failure to load libseccomp means no seccomp layer
        missing.append(f"seccomp: libseccomp could not be loaded ({error}); install Debian's libseccomp2")
    else:
        status = Path("/proc/self/status").read_text() if Path("/proc/self/status").exists() else ""
        if "Seccomp:" not in status:
            missing.append("seccomp: the kernel was built without seccomp filters")
    return missing


def require_isolation(allow_custom_python: bool, isolation: str) -> None:
    """Refuse to start a server whose custom Python could not be confined (fail closed).

    Raises:
        ConfinementError: custom Python is on, isolation is ``kernel`` and a layer is missing (each named).
    """
    if not allow_custom_python or isolation == "none":
        return
    missing = missing_layers()
    if missing:
        raise ConfinementError(
            "ARGUS_ALLOW_CUSTOM_PYTHON=true, but this machine cannot confine custom Python: missing "
            + "; ".join(missing) + ". Fix the kernel or libraries, turn custom Python off, or set "
            "ARGUS_CUSTOM_PYTHON_ISOLATION=none to run it unconfined (only for code you trust).")


def plan_for(private_dir: Path, protected: list[Path], drop_to_uid: int | None) -> ConfinementPlan:
    """The plan for this interpreter (run it in the sandbox process itself, whose ``sys.path`` it reads): its
    prefixes, packages and the system libraries, read-only.

    Raises:
        ConfinementError: a protected server path (``ARGUS_HOME``, the model store ...) lies inside a path the
            sandbox must read, so Landlock could not keep it out.
    """
    candidates = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
                  str(Path(__file__).resolve().parents[1]), *_SYSTEM_READ_PATHS}
    candidates.update(value for key, value in sysconfig.get_paths().items() if key != "scripts")
    candidates.update(entry for entry in sys.path if entry and os.path.isabs(entry)
                      and Path(entry).resolve() != private_dir.resolve())
    read_paths = sorted({Path(p).resolve() for p in candidates if os.path.exists(p)})
    for secret in protected:
        resolved = secret.expanduser().resolve()
        for allowed in read_paths:
            if resolved == allowed or allowed in resolved.parents:
                raise ConfinementError(f"{resolved} (a server path) lies inside {allowed}, which the custom-Python "
                                       "sandbox must read; move it out so the sandbox cannot read it")
    return ConfinementPlan(private_dir=private_dir, read_paths=tuple(read_paths), drop_to_uid=drop_to_uid)


def confine(plan: ConfinementPlan) -> list[str]:
    """Apply every layer to the calling process, in order; the names of the layers applied.

    Raises:
        ConfinementError: naming the layer that failed (the caller must exit without running user code).
    """
    applied: list[str] = []
    if plan.drop_to_uid is not None:
        kept = _drop_privileges(plan.drop_to_uid, plan.read_paths)
        resource.setrlimit(resource.RLIMIT_NPROC, (SANDBOX_NPROC, SANDBOX_NPROC))
        applied.append(f"uid {plan.drop_to_uid}, RLIMIT_NPROC {SANDBOX_NPROC}{kept}")
    if _libc().prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise ConfinementError(f"no_new_privs: prctl failed ({os.strerror(ctypes.get_errno())})")
    applied.append(_landlock(plan))
    applied.append(_seccomp())
    return applied


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


_CAPABILITY_VERSION_3 = 0x20080522
_CAP_DAC_READ_SEARCH = 2
_PR_SET_KEEPCAPS = 8


def _drop_privileges(uid: int, read_paths: tuple[Path, ...]) -> str:
    """Switch to ``uid``; keep only ``CAP_DAC_READ_SEARCH``, and only if the interpreter's files need it.

    An interpreter installed under ``/root`` (pyenv) cannot be read by ``nobody``; the sandbox then keeps the
    one capability that lets it read, and Landlock, not file modes, decides what it reads.
    """
    libc = _libc()
    is_dir = {path: path.is_dir() for path in read_paths}
    try:
        libc.prctl(_PR_SET_KEEPCAPS, 1, 0, 0, 0)
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    except OSError as error:
        raise ConfinementError(f"unprivileged uid: could not switch to uid {uid} ({error})") from None
    unreadable = [p for p in read_paths if not os.access(p, os.R_OK | (os.X_OK if is_dir[p] else 0))]
    keep = (1 << _CAP_DAC_READ_SEARCH) if unreadable else 0
    header = _CapHeader(version=_CAPABILITY_VERSION_3, pid=0)
    data = (_CapData * 2)(_CapData(effective=keep, permitted=keep, inheritable=0), _CapData(0, 0, 0))
    if libc.capset(ctypes.byref(header), data) != 0:
        raise ConfinementError(f"unprivileged uid: capset failed ({os.strerror(ctypes.get_errno())})")
    libc.prctl(_PR_SET_KEEPCAPS, 0, 0, 0, 0)
    return f" (keeps CAP_DAC_READ_SEARCH: {unreadable[0]} is not readable by uid {uid})" if unreadable else ""


def _landlock(plan: ConfinementPlan) -> str:
    abi = landlock_abi()
    if abi < 1:
        raise ConfinementError("Landlock: not available in this kernel")
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    fs = _FS_ABI1 | (_FS_REFER if abi >= 2 else 0) | (_FS_TRUNCATE if abi >= 3 else 0) | \
        (_FS_IOCTL_DEV if abi >= 5 else 0)
    attr = _RulesetAttr(handled_access_fs=fs,
                        handled_access_net=(_NET_BIND_TCP | _NET_CONNECT_TCP) if abi >= 4 else 0,
                        scoped=(_SCOPE_SIGNAL | _SCOPE_ABSTRACT_UNIX_SOCKET) if abi >= 6 else 0)
    ruleset = libc.syscall(ctypes.c_long(_SYS_CREATE_RULESET), ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)),
                           ctypes.c_uint32(0))
    if ruleset < 0:
        raise ConfinementError(f"Landlock: creating the ruleset failed ({os.strerror(ctypes.get_errno())})")
    try:
        read = _FS_EXECUTE | _FS_READ_FILE | _FS_READ_DIR
        for path in plan.read_paths:
            _add_rule(libc, ruleset, path, read & fs)
        _add_rule(libc, ruleset, plan.private_dir, fs)
        _add_rule(libc, ruleset, Path("/dev/null"), (_FS_READ_FILE | _FS_WRITE_FILE | _FS_TRUNCATE) & fs)
        if libc.syscall(ctypes.c_long(_SYS_RESTRICT_SELF), ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
            raise ConfinementError(f"Landlock: restrict_self failed ({os.strerror(ctypes.get_errno())})")
    finally:
        os.close(ruleset)
    extras = (["TCP"] if abi >= 4 else []) + (["signal scope"] if abi >= 6 else [])
    return f"Landlock ABI {abi} (files{', ' if extras else ''}{', '.join(extras)})"


def _add_rule(libc: ctypes.CDLL, ruleset: int, path: Path, access: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError as error:
        raise ConfinementError(f"Landlock: cannot open {path} for a rule ({error})") from None
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            access &= _FILE_RIGHTS
        rule = _PathBeneathAttr(allowed_access=access, parent_fd=fd)
        if libc.syscall(ctypes.c_long(_SYS_ADD_RULE), ctypes.c_int(ruleset), ctypes.c_int(_RULE_PATH_BENEATH),
                        ctypes.byref(rule), ctypes.c_uint32(0)) != 0:
            raise ConfinementError(f"Landlock: rule for {path} refused ({os.strerror(ctypes.get_errno())})")
    finally:
        os.close(fd)


def _seccomp() -> str:
    try:
        seccomp = _seccomp_module()
        pid = os.getpid()
        refuse = seccomp.ERRNO(errno.EPERM)
        flt = seccomp.SyscallFilter(seccomp.ALLOW)
        for name in _REFUSED_SYSCALLS:
            try:
                flt.add_rule(refuse, name)
            except (OSError, ValueError, RuntimeError):
                continue  # a syscall this architecture does not have (fork on arm64, ...)
        # New processes: clone only with CLONE_THREAD (threads); clone3 hides its flags, so ENOSYS sends glibc
        # back to clone.
        flt.add_rule(refuse, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, _CLONE_THREAD, 0))
        flt.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
        # Signals: to this process only.
        for name in ("kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo"):
            flt.add_rule(refuse, name, seccomp.Arg(0, seccomp.NE, pid))
        flt.load()
    except ConfinementError:
        raise
    except Exception as error:  # noqa: BLE001 - libseccomp reports failures as assorted exceptions
        raise ConfinementError(f"seccomp: the filter could not be loaded ({error})") from None
    return "seccomp"
