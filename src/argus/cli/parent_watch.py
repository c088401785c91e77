"""Ending a child process when the process that started it is gone (replicas, ``--workers`` processes).

Linux's ``PR_SET_PDEATHSIG`` sends SIGTERM the moment the parent dies; a watchdog thread checks the parent
pid once a second as well (other platforms, and the window before prctl took effect).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1


def die_with(parent_pid: int) -> None:
    """End this process (SIGTERM, then exit) when ``parent_pid`` is no longer its parent."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # not Linux: the watchdog below does the job

    def watchdog() -> None:
        while True:
            if os.getppid() != parent_pid:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)
                os._exit(1)  # SIGTERM did not end it in time
            time.sleep(1.0)

    threading.Thread(target=watchdog, name="argus-parent-watchdog", daemon=True).start()
    if os.getppid() != parent_pid:  # the parent died before prctl
        sys.exit(1)
