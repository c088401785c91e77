"""Inner workflows: stored ones by id, and what a malformed or hostile composition gets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from argus.errors import NotImplementedFeatureError
from argus.settings import Settings
from argus.workflows import WorkflowContext, compile_workflow
from argus.workflows.errors import WorkflowDefinitionError
from argus.workflows.store import WorkflowStore

GRAY = {"version": "1.0", "inputs": [{"type": "WorkflowImage", "name": "picture"}],
        "steps": [{"type": "roboflow_core/convert_grayscale@v1", "name": "gray", "image": "$inputs.picture"}],
        "outputs": [{"type": "JsonField", "name": "gray", "selector": "$steps.gray.image"}]}


def outer(inner_step: dict[str, Any]) -> dict[str, Any]:
    return {"version": "1.0", "inputs": [{"type": "WorkflowImage", "name": "image"}],
            "steps": [{"type": "roboflow_core/inner_workflow@v1", "name": "inner", **inner_step}],
            "outputs": [{"type": "JsonField", "name": "gray", "selector": "$steps.inner.gray"}]}


def compile_in(home: Path, definition: dict[str, Any]):  # type: ignore[no-untyped-def]
    return compile_workflow(definition, WorkflowContext(settings=Settings(home=home)))


def test_a_stored_workflow_runs_as_a_step(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    WorkflowStore(settings.workflow_store_dir).add("team", "gray", GRAY)
    workflow = compile_in(tmp_path, outer({"workflow_workspace_id": "team", "workflow_id": "gray",
                                           "parameter_bindings": {"picture": "$inputs.image"}}))
    pixel = np.zeros((1, 1, 3), np.uint8)
    pixel[0, 0] = (0, 0, 255)  # red, BGR
    assert workflow.run({"image": pixel}).outputs[0]["gray"].numpy_image.tolist() == [[76]]


@pytest.mark.parametrize(("bindings", "message"), [
    ({"picture": "$inputs.image", "extra": "$inputs.image"}, "does not declare"),
    ({}, "bind the inner workflow's inputs"),
])
def test_bindings_must_match_the_inner_inputs(tmp_path: Path, bindings: dict, message: str) -> None:
    with pytest.raises(WorkflowDefinitionError, match=message):
        compile_in(tmp_path, outer({"workflow_definition": GRAY, "parameter_bindings": bindings}))


def test_a_stored_workflow_that_contains_itself_is_refused(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    loop = outer({"workflow_workspace_id": "team", "workflow_id": "loop", "parameter_bindings": {"image": "$inputs.image"}})
    WorkflowStore(settings.workflow_store_dir).add("team", "loop", loop)
    with pytest.raises(WorkflowDefinitionError, match="contains itself"):
        compile_in(tmp_path, loop)


def test_nesting_is_bounded(tmp_path: Path) -> None:
    definition: dict[str, Any] = GRAY
    for _ in range(10):
        definition = {"version": "1.0", "inputs": [{"type": "WorkflowImage", "name": "picture"}],
                      "steps": [{"type": "roboflow_core/inner_workflow@v1", "name": "inner", "workflow_definition":
                                 definition, "parameter_bindings": {"picture": "$inputs.picture"}}],
                      "outputs": [{"type": "JsonField", "name": "gray", "selector": "$steps.inner.gray"}]}
    with pytest.raises(WorkflowDefinitionError, match="nest more than"):
        compile_in(tmp_path, definition)


def test_remote_dispatch_is_not_implemented(tmp_path: Path) -> None:
    with pytest.raises(NotImplementedFeatureError, match="embedded"):
        compile_in(tmp_path, outer({"workflow_definition": GRAY, "execution_mode": "remote_dispatch",
                                    "parameter_bindings": {"picture": "$inputs.image"}}))
