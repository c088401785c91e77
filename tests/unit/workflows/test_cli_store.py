"""``argus workflows add|list|rm|run`` and the local workflow store."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from argus.cli.main import app
from argus.errors import ConflictError, InvalidInputError, NotFoundError
from argus.workflows.store import WorkflowStore

SIZE_WORKFLOW = {
    "version": "1.0",
    "inputs": [{"type": "WorkflowImage", "name": "image"},
               {"type": "WorkflowParameter", "name": "factor", "default_value": 1}],
    "steps": [{"type": "PropertyDefinition", "name": "size", "data": "$inputs.image",
               "operations": [{"type": "ExtractImageProperty", "property_name": "size"}]},
              {"type": "roboflow_core/expression@v1", "name": "scaled",
               "data": {"size": "$steps.size.output", "factor": "$inputs.factor"},
               "switch": {"type": "CasesDefinition", "cases": [], "default": {
                   "type": "DynamicCaseResult", "parameter_name": "size",
                   "operations": [{"type": "Multiply", "other": 2}]}}}],
    "outputs": [{"type": "JsonField", "name": "size", "selector": "$steps.size.output"},
                {"type": "JsonField", "name": "doubled", "selector": "$steps.scaled.output"},
                {"type": "JsonField", "name": "factor", "selector": "$inputs.factor"}],
}


def test_store_round_trip_and_errors(tmp_path: Path):
    store = WorkflowStore(tmp_path)
    store.add("acme", "w1", SIZE_WORKFLOW)
    assert store.get("acme", "w1").load() == SIZE_WORKFLOW
    with pytest.raises(ConflictError):
        store.add("acme", "w1", SIZE_WORKFLOW)
    store.add("acme", "w1", {"specification": SIZE_WORKFLOW}, overwrite=True)
    assert store.get("acme", "w1").load() == SIZE_WORKFLOW  # a saved request body is unwrapped
    with pytest.raises(InvalidInputError, match="not valid"):
        store.get("..", "w1")
    with pytest.raises(InvalidInputError, match="not valid"):
        store.add("acme", "../escape", SIZE_WORKFLOW)
    store.remove("acme", "w1")
    with pytest.raises(NotFoundError, match="argus workflows add"):
        store.get("acme", "w1")


def test_cli_add_list_run_rm(tmp_path: Path):
    runner = CliRunner()
    env = {"ARGUS_HOME": str(tmp_path / "home")}
    spec = tmp_path / "size.json"
    spec.write_text(json.dumps(SIZE_WORKFLOW))
    images = tmp_path / "images"
    images.mkdir()
    for name, (h, w) in {"a.png": (10, 20), "b.png": (7, 3)}.items():
        cv2.imwrite(str(images / name), np.zeros((h, w, 3), np.uint8))

    added = runner.invoke(app, ["workflows", "add", str(spec), "--workspace", "acme"], env=env)
    assert added.exit_code == 0, added.output
    listed = runner.invoke(app, ["workflows", "list", "--json"], env=env)
    assert json.loads(listed.output.strip())["workflow_id"] == "size"

    ran = runner.invoke(app, ["workflows", "run", str(spec), "--image", str(images), "--param", "factor=3"], env=env)
    assert ran.exit_code == 0, ran.output
    lines = [json.loads(line) for line in ran.stdout.splitlines() if line.startswith("{")]
    assert [(Path(line["image"]).name, line["outputs"]) for line in lines] == [
        ("a.png", {"size": 200, "doubled": 400, "factor": 3}), ("b.png", {"size": 21, "doubled": 42, "factor": 3})]
    unknown = runner.invoke(app, ["workflows", "run", str(spec), "--image", str(images), "--param", "confidence=0.5"],
                            env=env)
    assert unknown.exit_code == 2 and "no input named confidence" in unknown.output and "factor" in unknown.output
    from_store = runner.invoke(app, ["workflows", "run", "acme/size", "--image", str(images / "b.png")], env=env)
    assert json.loads(from_store.stdout.strip().splitlines()[-1])["outputs"]["factor"] == 1

    removed = runner.invoke(app, ["workflows", "rm", "size", "--workspace", "acme"], env=env)
    assert removed.exit_code == 0
    again = runner.invoke(app, ["workflows", "rm", "size", "--workspace", "acme"], env=env)
    assert again.exit_code == 1 and "not in the local workflow store" in again.output


def test_cli_add_refuses_a_definition_that_does_not_compile(tmp_path: Path):
    broken = dict(SIZE_WORKFLOW, steps=[dict(SIZE_WORKFLOW["steps"][0], data="$inputs.nothing")])
    spec = tmp_path / "broken.json"
    spec.write_text(json.dumps(broken))
    result = CliRunner().invoke(app, ["workflows", "add", str(spec)], env={"ARGUS_HOME": str(tmp_path)})
    assert result.exit_code == 1 and "Step 'size'" in result.output
    assert not (tmp_path / "workflows").exists()
