"""``python -m argus.cli.ray_start PARENT_PID start ...``: Ray's own CLI, in a process that ends with its parent.

:class:`argus.endpoints.ray_cluster.LocalRayCluster` runs ``ray start --head --block`` through this, so the local
cluster of ``ARGUS_RAY_START`` goes with the server even when the server is killed outright (``PR_SET_PDEATHSIG``,
then Ray's own fate sharing takes its children); a server that stops normally tears the cluster down by PID first.
"""

from __future__ import annotations

import sys

from argus.cli.parent_watch import die_with


def main(argv: list[str]) -> None:
    """Watch the parent, then run ``ray`` with the remaining arguments."""
    die_with(int(argv[0]))
    from ray.scripts.scripts import main as ray_main

    sys.argv = ["ray", *argv[1:]]
    ray_main()


if __name__ == "__main__":
    main(sys.argv[1:])
