"""The public surface is exactly ``argus.__all__``, and every name in it exists."""

from __future__ import annotations

import argus


def test_all_names_exist_and_are_exported() -> None:
    assert sorted(argus.__all__) == sorted(set(argus.__all__))
    for name in argus.__all__:
        assert hasattr(argus, name), name
    assert {"get_model", "Detections", "DetectionResult", "Settings", "ModelManager"} <= set(argus.__all__)


def test_heavy_parts_load_on_first_use() -> None:
    import subprocess
    import sys

    probe = ("import sys, argus; heavy = {'supervision', 'av', 'argus.workflows.compiler', 'argus.streams.pipeline'}; "
             "assert not heavy & set(sys.modules), heavy & set(sys.modules); "
             "assert argus.compile_workflow.__module__ == 'argus.workflows.executor'; "
             "assert argus.Client.__module__ == 'argus.sdk.client'")
    subprocess.run([sys.executable, "-c", probe], check=True)
