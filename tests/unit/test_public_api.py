"""The public surface is exactly ``argus.__all__``, and every name in it exists."""

from __future__ import annotations

import argus


def test_all_names_exist_and_are_exported() -> None:
    assert sorted(argus.__all__) == sorted(set(argus.__all__))
    for name in argus.__all__:
        assert hasattr(argus, name), name
    assert {"get_model", "Detections", "DetectionResult", "Settings", "ModelManager"} <= set(argus.__all__)
