"""Entry point of a local replica: ``argus serve`` that dies with the server that started it.

``python -m argus.cli.replica PARENT_PID serve --port ...``. Linux's
``PR_SET_PDEATHSIG`` sends SIGTERM the moment the parent dies; a watchdog thread checks the parent
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


def _die_with(parent_pid: int) -> None:
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


def main(argv: list[str]) -> None:
    """Watch the parent, then run the CLI with the remaining arguments."""
    _die_with(int(argv[0]))
    from argus.cli.main import app

    app(argv[1:], prog_name="argus")


if __name__ == "__main__":
    main(sys.argv[1:])
