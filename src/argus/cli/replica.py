"""Entry point of a local replica: ``argus serve`` that dies with the server that started it.

``python -m argus.cli.replica PARENT_PID serve --port ...``. Linux's
``PR_SET_PDEATHSIG`` sends SIGTERM the moment the parent dies; a watchdog thread checks the parent
pid once a second as well (other platforms, and the window before prctl took effect).
"""

from __future__ import annotations

import sys

from argus.cli.parent_watch import die_with


def main(argv: list[str]) -> None:
    """Watch the parent, then run the CLI with the remaining arguments."""
    die_with(int(argv[0]))
    from argus.cli.main import app

    app(argv[1:], prog_name="argus")


if __name__ == "__main__":
    main(sys.argv[1:])
