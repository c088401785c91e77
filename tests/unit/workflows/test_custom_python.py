"""Custom Python blocks: off by default (403), and when on they run in a sandbox process with limits."""

from __future__ import annotations

import base64
import os
from typing import Any

import cv2
import numpy as np
import pytest
import supervision as sv

from argus.errors import ArgusError, ForbiddenError
from argus.settings import Settings
from argus.workflows import WorkflowContext, compile_workflow, serialize_outputs
from argus.workflows.errors import WorkflowDefinitionError
from argus.workflows.sandbox import CustomPythonError

RUN_INFO = """
def run(self, image, predictions, factor):
    kept = predictions[predictions.confidence > self._init_results["threshold"]]
    return {"pid": os.getpid(), "brightness": float(image.numpy_image.mean()) * factor, "kept": kept,
            "root": math.sqrt(16)}
"""
INIT = "def init():\n    return {'threshold': 0.6}"


def block(code: str, block_type: str = "Inspector", init: str | None = None,
          inputs: dict[str, Any] | None = None, outputs: dict[str, list[str]] | None = None) -> dict:
    inputs = inputs if inputs is not None else {
        "image": {"type": "DynamicInputDefinition", "selector_types": ["input_image"]},
        "predictions": {"type": "DynamicInputDefinition", "selector_types": ["input_parameter", "step_output"],
                        "selector_data_kind": {"input_parameter": ["object_detection_prediction"]}},
        "factor": {"type": "DynamicInputDefinition", "selector_types": ["input_parameter"],
                   "value_types": ["float", "integer"], "has_default_value": True, "default_value": 2},
    }
    outputs = outputs or {"pid": ["integer"], "brightness": ["float"], "kept": ["object_detection_prediction"],
                          "root": []}
    code_part: dict[str, Any] = {"type": "PythonCode", "run_function_code": code}
    if init:
        code_part["init_function_code"] = init
    return {"type": "DynamicBlockDefinition",
            "manifest": {"type": "ManifestDescription", "block_type": block_type, "inputs": inputs,
                         "outputs": {k: {"type": "DynamicOutputDefinition", "kind": v} for k, v in outputs.items()}},
            "code": code_part}


def workflow(code: str = RUN_INFO, init: str | None = INIT, **step_fields: Any) -> dict:
    step = {"type": "Inspector", "name": "custom", "image": "$inputs.image", "predictions": "$inputs.dets",
            **step_fields}
    return {"version": "1.0",
            "inputs": [{"type": "WorkflowImage", "name": "image"},
                       {"type": "WorkflowBatchInput", "name": "dets", "kind": ["object_detection_prediction"]}],
            "dynamic_blocks_definitions": [block(code, init=init)],
            "steps": [step],
            "outputs": [{"type": "JsonField", "name": "out", "selector": "$steps.custom.*"}]}


def detections() -> sv.Detections:
    return sv.Detections(xyxy=np.array([[0, 0, 10, 10], [5, 5, 20, 20]], dtype=float),
                         confidence=np.array([0.9, 0.3]), class_id=np.array([1, 2]),
                         data={"class_name": np.array(["cat", "dog"])})


def inputs() -> dict[str, Any]:
    return {"image": np.full((8, 8, 3), 10, dtype=np.uint8), "dets": [detections()]}


def enabled(tmp_path, **extra: Any) -> WorkflowContext:
    settings = Settings(home=tmp_path / "home", allow_custom_python=True, custom_python_timeout=2.0, **extra)
    return WorkflowContext(settings=settings)


def test_disabled_by_default_with_a_403_saying_how_to_enable(tmp_path) -> None:
    with pytest.raises(ForbiddenError) as caught:
        compile_workflow(workflow(), WorkflowContext(settings=Settings(home=tmp_path / "home")))
    assert caught.value.status_code == 403
    assert "Inspector" in caught.value.message and "ARGUS_ALLOW_CUSTOM_PYTHON=true" in caught.value.message


def test_reference_environment_variable_enables_it(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ALLOW_CUSTOM_PYTHON_EXECUTION_IN_WORKFLOWS", "True")
    assert Settings(home=tmp_path).allow_custom_python is True
    monkeypatch.delenv("ALLOW_CUSTOM_PYTHON_EXECUTION_IN_WORKFLOWS")
    assert Settings(home=tmp_path).allow_custom_python is False


def test_runs_in_another_process_with_init_results_and_workflow_data(tmp_path) -> None:
    compiled = compile_workflow(workflow(factor=3), enabled(tmp_path))
    first = compiled.run(inputs()).outputs[0]["out"]
    second = compiled.run(inputs()).outputs[0]["out"]
    assert first["pid"] != os.getpid() and first["pid"] == second["pid"]  # one sandbox process per step
    assert first["brightness"] == 30.0 and first["root"] == 4.0
    kept = first["kept"]
    assert isinstance(kept, sv.Detections) and kept.data["class_name"].tolist() == ["cat"]
    serialised = serialize_outputs([{"out": first}])[0]["out"]
    assert [p["class"] for p in serialised["kept"]["predictions"]] == ["cat"]


def test_the_sandbox_does_not_see_the_servers_secrets(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ARGUS_SMTP_PASSWORD", "hunter2")
    monkeypatch.setenv("ARGUS_API_KEYS", "secret-key")
    code = "def run(self, image, predictions, factor):\n    return {'pid': sorted(k for k in os.environ if 'ARGUS' in k)}"
    out = compile_workflow(workflow(code, init=None), enabled(tmp_path)).run(inputs()).outputs[0]["out"]
    assert out["pid"] == []


def test_a_finished_workflow_hands_its_sandbox_to_the_next_one_with_the_same_code(tmp_path) -> None:
    import gc

    first = compile_workflow(workflow(), enabled(tmp_path))
    pid = first.run(inputs()).outputs[0]["out"]["pid"]
    del first
    gc.collect()
    again = compile_workflow(workflow(), enabled(tmp_path)).run(inputs()).outputs[0]["out"]["pid"]
    assert again == pid
    other_limits = compile_workflow(workflow(), enabled(tmp_path, custom_python_memory_mb=900))
    assert other_limits.run(inputs()).outputs[0]["out"]["pid"] not in (pid, os.getpid())


def test_an_endless_loop_times_out_and_the_next_call_gets_a_fresh_process(tmp_path) -> None:
    code = "def run(self, image, predictions, factor):\n    if factor == 0:\n        while True:\n            pass\n" \
           "    return {'pid': os.getpid()}"
    definition = workflow(code, init=None, factor="$inputs.factor")
    definition["inputs"].append({"type": "WorkflowParameter", "name": "factor", "default_value": 1})
    compiled = compile_workflow(definition, enabled(tmp_path))
    before = compiled.run(inputs()).outputs[0]["out"]["pid"]
    with pytest.raises(CustomPythonError, match=r"Step 'custom': Custom Python block 'Inspector' timed out after 2 s"):
        compiled.run({**inputs(), "factor": 0})
    with pytest.raises(OSError):
        os.kill(before, 0)  # the looping process was stopped
    after = compiled.run(inputs()).outputs[0]["out"]["pid"]
    assert after not in (before, os.getpid())


@pytest.mark.parametrize("hog", ["bytearray(3 * 1024 ** 3)", "np.ones((1024, 1024, 512))"])
def test_memory_hog_is_an_error_for_the_step(tmp_path, hog) -> None:
    code = f"def run(self, image, predictions, factor):\n    data = {hog}\n    return {{'pid': 1}}"
    compiled = compile_workflow(workflow(code, init=None), enabled(tmp_path, custom_python_memory_mb=1024))
    with pytest.raises(CustomPythonError, match="memory limit") as caught:
        compiled.run(inputs())
    assert caught.value.status_code == 422


@pytest.mark.parametrize(("code", "message"), [
    ("def run(self, image, predictions, factor):\n    return {'pid': 1 / 0}", "ZeroDivisionError: division by zero"),
    ("def run(self, image, predictions, factor):\n    return [1]", "run\\(\\) must return a dict"),
    ("def run(self, image, predictions, factor):\n    os._exit(7)", "exited with status 7"),
    ("def helper():\n    pass", "defines no function named 'run'"),
    (("class Evil:\n    def __reduce__(self):\n        return (os.system, ('echo pwned',))\n"
     "def run(self, image, predictions, factor):\n    return {'pid': Evil()}"), "refused type posix.system"),
])
def test_failures_of_the_code_are_clear_step_errors(tmp_path, code, message) -> None:
    compiled = compile_workflow(workflow(code, init=None), enabled(tmp_path))
    with pytest.raises(CustomPythonError, match=message):
        compiled.run(inputs())


def test_server_process_keeps_working_after_a_sandbox_dies(tmp_path) -> None:
    context = enabled(tmp_path)
    crashing = compile_workflow(workflow("def run(self, image, predictions, factor):\n    os._exit(1)", init=None),
                                context)
    with pytest.raises(ArgusError):
        crashing.run(inputs())
    healthy = compile_workflow(workflow(), context).run(inputs()).outputs[0]["out"]
    assert healthy["brightness"] == 20.0


@pytest.mark.parametrize(("change", "message"), [
    ({"outputs": {"x": {"type": "DynamicOutputDefinition", "kind": ["no_such_kind"]}}},
     "unknown kinds \\['no_such_kind'\\]"),
    ({"inputs": {"name": {"type": "DynamicInputDefinition", "value_types": ["string"]}}}, "reserved"),
])
def test_bad_dynamic_block_definitions_are_400s(tmp_path, change, message) -> None:
    definition = workflow()
    definition["dynamic_blocks_definitions"][0]["manifest"].update(change)
    with pytest.raises(WorkflowDefinitionError, match=message) as caught:
        compile_workflow(definition, enabled(tmp_path))
    assert caught.value.status_code == 400


def test_output_dimensionality_offset_one_returns_a_nested_batch(tmp_path) -> None:
    split = block("def run(self, image):\n    return [{'part': i * 10} for i in range(3)]", block_type="Split",
                  inputs={"image": {"type": "DynamicInputDefinition", "selector_types": ["input_image"]}},
                  outputs={"part": ["integer"]})
    split["manifest"]["output_dimensionality_offset"] = 1
    definition = {"version": "1.0", "inputs": [{"type": "WorkflowImage", "name": "image"}],
                  "dynamic_blocks_definitions": [split],
                  "steps": [{"type": "Split", "name": "split", "image": "$inputs.image"}],
                  "outputs": [{"type": "JsonField", "name": "parts", "selector": "$steps.split.part"}]}
    out = compile_workflow(definition, enabled(tmp_path)).run({"image": inputs()["image"]}).outputs
    assert serialize_outputs(out) == [{"parts": [0, 10, 20]}]


def test_step_fields_are_checked_against_the_generated_manifest(tmp_path) -> None:
    with pytest.raises(WorkflowDefinitionError, match="Step 'custom'.*factor"):
        compile_workflow(workflow(factor="three"), enabled(tmp_path))


def _http_body(definition: dict) -> dict:
    png = cv2.imencode(".png", np.full((8, 8, 3), 10, np.uint8))[1].tobytes()
    image = {"type": "base64", "value": base64.b64encode(png).decode()}
    return {"specification": definition, "inputs": {"image": image, "factor": 1}}


def _http_workflow(code: str) -> dict:
    definition = {"version": "1.0",
                  "inputs": [{"type": "WorkflowImage", "name": "image"},
                             {"type": "WorkflowParameter", "name": "factor", "default_value": 1}],
                  "dynamic_blocks_definitions": [block(code, inputs={
                      "image": {"type": "DynamicInputDefinition", "selector_types": ["input_image"]},
                      "factor": {"type": "DynamicInputDefinition", "selector_types": ["input_parameter"]}},
                      outputs={"pid": ["integer"]})],
                  "steps": [{"type": "Inspector", "name": "custom", "image": "$inputs.image",
                             "factor": "$inputs.factor"}],
                  "outputs": [{"type": "JsonField", "name": "pid", "selector": "$steps.custom.pid"}]}
    return _http_body(definition)


def test_http_403_when_disabled_and_the_server_keeps_serving_after_a_sandbox_timeout(tmp_path) -> None:
    from fastapi.testclient import TestClient

    from argus.server.app import create_app

    ok = _http_workflow("def run(self, image, factor):\n    return {'pid': os.getpid()}")
    loop = _http_workflow("def run(self, image, factor):\n    while True:\n        pass")
    with TestClient(create_app(Settings(home=tmp_path / "off"))) as client:
        refused = client.post("/workflows/run", json=ok)
        assert refused.status_code == 403
        assert "ARGUS_ALLOW_CUSTOM_PYTHON=true" in refused.json()["message"]
    settings = Settings(home=tmp_path / "on", allow_custom_python=True, custom_python_timeout=1.0)
    with TestClient(create_app(settings)) as client:
        stuck = client.post("/workflows/run", json=loop)
        assert stuck.status_code == 422 and "timed out after 1 s" in stuck.json()["message"]
        assert client.get("/healthz").status_code == 200
        answer = client.post("/workflows/run", json=ok)
        assert answer.status_code == 200
        assert answer.json()["outputs"][0]["pid"] not in (os.getpid(), None)


ORPHAN_SCRIPT = """
import os, threading, time
from argus.workflows.sandbox import SandboxLimits, SandboxProcess
sandbox = SandboxProcess({"run_function_code": "def run(self):\\n    while True:\\n        pass"}, "Loop",
                         SandboxLimits(timeout_s=600))
threading.Thread(target=lambda: sandbox.call({}), daemon=True).start()
while sandbox.pid is None:
    time.sleep(0.05)
time.sleep(1.5)  # the child is in the endless loop now
print(sandbox.pid, flush=True)
os._exit(0)  # the "server" dies without cleaning up
"""


def test_a_looping_sandbox_does_not_outlive_a_dead_server() -> None:
    import subprocess
    import sys
    import time

    done = subprocess.run([sys.executable, "-c", ORPHAN_SCRIPT], check=True, capture_output=True, text=True,
                          timeout=120)
    child = int(done.stdout.split()[-1])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.2)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_describe_gives_the_json_schema_a_custom_block_definition_is_checked_against() -> None:
    import jsonschema

    from argus.workflows.describe import describe_blocks

    schema = describe_blocks()["dynamic_block_definition_schema"]
    jsonschema.validate(block("def run(self, image, predictions, factor):\n    return {}\n"), schema)
    broken = block("x = 1")
    del broken["code"]
    with pytest.raises(jsonschema.ValidationError, match="'code' is a required property"):
        jsonschema.validate(broken, schema)
