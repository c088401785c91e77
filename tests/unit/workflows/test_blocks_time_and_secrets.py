"""current_time (checked against the clock and the zone's offset) and the secrets store's allowlist."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from argus.errors import ForbiddenError, InvalidInputError
from argus.settings import Settings
from argus.workflows import WorkflowContext, compile_workflow
from argus.workflows.errors import WorkflowDefinitionError


def run_step(tmp_path: Path, step: dict, outputs: list[str], **settings: object) -> dict:
    definition = {"version": "1.0", "inputs": [], "steps": [{"name": "s", **step}],
                  "outputs": [{"type": "JsonField", "name": o, "selector": f"$steps.s.{o}"} for o in outputs]}
    context = WorkflowContext(settings=Settings(home=tmp_path, **settings))
    return compile_workflow(definition, context).run({}).outputs[0]


def test_current_time_is_now_in_the_zone_asked_for(tmp_path: Path) -> None:
    before = datetime.now(UTC)
    out = run_step(tmp_path, {"type": "roboflow_core/current_time@v1", "timezone": "Asia/Kolkata"},
                   ["timestamp", "iso_string", "date", "time"])
    after = datetime.now(UTC)
    stamp = out["timestamp"]
    assert before <= stamp <= after
    assert stamp.utcoffset() == timedelta(hours=5, minutes=30)
    local = stamp.astimezone(ZoneInfo("Asia/Kolkata"))
    assert out["iso_string"] == local.isoformat()
    assert (out["date"], out["time"]) == (local.strftime("%Y-%m-%d"), local.strftime("%H:%M:%S"))


def test_current_time_refuses_a_zone_outside_its_list(tmp_path: Path) -> None:
    with pytest.raises(WorkflowDefinitionError, match="timezone"):  # written in the definition: at compile time
        run_step(tmp_path, {"type": "roboflow_core/current_time@v1", "timezone": "Mars/Olympus"}, ["date"])
    definition = {"version": "1.0", "inputs": [{"type": "WorkflowParameter", "name": "tz"}],
                  "steps": [{"name": "s", "type": "roboflow_core/current_time@v1", "timezone": "$inputs.tz"}],
                  "outputs": [{"type": "JsonField", "name": "d", "selector": "$steps.s.date"}]}
    workflow = compile_workflow(definition, WorkflowContext(settings=Settings(home=tmp_path)))
    with pytest.raises(InvalidInputError, match="'Mars/Olympus' is not one of"):  # given at run time
        workflow.run({"tz": "Mars/Olympus"})


def test_the_secrets_store_reads_only_variables_the_operator_lists(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARGUS_TEST_TOKEN", "t0ken")
    monkeypatch.setenv("ARGUS_API_KEYS", "server-key")
    step = {"type": "roboflow_core/environment_secrets_store@v1", "variables_storing_secrets": ["ARGUS_TEST_TOKEN"]}
    allowed = run_step(tmp_path, step, ["argus_test_token"], workflow_secret_variables=["ARGUS_TEST_TOKEN"])
    assert allowed == {"argus_test_token": "t0ken"}
    with pytest.raises(ForbiddenError, match="ARGUS_WORKFLOW_SECRET_VARIABLES"):
        run_step(tmp_path, step, ["argus_test_token"])
    fishing = {**step, "variables_storing_secrets": ["ARGUS_API_KEYS"]}
    with pytest.raises(ForbiddenError, match="ARGUS_API_KEYS"):
        run_step(tmp_path, fishing, ["argus_api_keys"], workflow_secret_variables=["ARGUS_TEST_TOKEN"])
