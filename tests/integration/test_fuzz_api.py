"""Schemathesis over the whole OpenAPI of a live server finds no server error (a bounded run; the longer one is
``scripts/fuzz_api.py``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[2] / "scripts"))
from fuzz_api import fuzz


def test_the_openapi_is_fuzz_clean(launch_server: Any) -> None:
    server = launch_server({"ARGUS_ENABLE_STREAM_API": "true"}, name="fuzz")
    result = fuzz(server.url, examples=20, max_time=90)
    assert result.returncode == 0, result.stdout[-8000:]
    assert "Selected: 66/66" in result.stdout or "Tested:" in result.stdout
    assert "passed" in result.stdout and " failed" not in result.stdout.split("Test cases:")[-1]
    assert "Traceback" not in server.log() and "unhandled error" not in server.log()
    server.stop()
