"""The executor's semantics with small test blocks: batches, nested batches, flow control, concurrency, state."""

from __future__ import annotations

import threading
from typing import Any, ClassVar, Literal

import numpy as np
import pytest

from argus.errors import InvalidInputError
from argus.settings import Settings
from argus.workflows import WorkflowContext, compile_workflow, serialize_outputs
from argus.workflows.blocks.base import (
    Block,
    BlockManifest,
    OutputDefinition,
    Selector,
    block_config,
)
from argus.workflows.errors import StepExecutionError, WorkflowInputError
from argus.workflows.kinds import INTEGER_KIND, LIST_OF_VALUES_KIND
from argus.workflows.registry import BlockRegistry, default_registry


class ToyManifest(BlockManifest):
    """What the toy blocks' manifests share: one config; each lists its outputs in ``outputs``."""

    model_config = block_config(name="test", category="test")
    outputs: ClassVar[tuple[OutputDefinition, ...]] = ()

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return list(cls.outputs)


class AddManifest(ToyManifest):
    type: Literal["test/add@v1"]
    value: Selector()
    amount: int | Selector() = 1
    outputs = (OutputDefinition(name="result", kind=[INTEGER_KIND]),)


class AddBlock(Block):
    manifest_class = AddManifest

    def run(self, value: int, amount: int) -> dict[str, Any]:
        return {"result": value + amount}


class SplitManifest(ToyManifest):
    type: Literal["test/split@v1"]
    value: Selector()
    outputs = (OutputDefinition(name="part", kind=[INTEGER_KIND]),)


class SplitBlock(Block):
    """value n -> nested batch [0, 1, ..., n-1]."""

    manifest_class = SplitManifest
    output_dimensionality_offset = 1

    def run(self, value: int) -> list[dict[str, Any]]:
        return [{"part": i} for i in range(value)]


class JoinManifest(ToyManifest):
    type: Literal["test/join@v1"]
    parts: Selector()
    label: Selector() | str = ""
    outputs = (OutputDefinition(name="joined", kind=[LIST_OF_VALUES_KIND]),)


class JoinBlock(Block):
    manifest_class = JoinManifest
    output_dimensionality_offset = -1

    def run(self, parts: list[int], label: str) -> dict[str, Any]:
        return {"joined": [label, *parts]}


class WaitManifest(ToyManifest):
    type: Literal["test/wait@v1"]
    value: Selector()
    outputs = (OutputDefinition(name="thread"),)


BARRIER = threading.Barrier(2, timeout=10)


class WaitBlock(Block):
    """Passes only when another step waits at the same time: proves independent steps run concurrently."""

    manifest_class = WaitManifest

    def run(self, value: Any) -> dict[str, Any]:
        BARRIER.wait()
        return {"thread": threading.get_ident()}


class CounterManifest(ToyManifest):
    type: Literal["test/counter@v1"]
    value: Selector()
    outputs = (OutputDefinition(name="count", kind=[INTEGER_KIND]),)


class CounterBlock(Block):
    manifest_class = CounterManifest
    stateful = True

    def run(self, value: Any) -> dict[str, Any]:
        state = self.video_state(self.element.video_metadata.video_identifier, lambda: {"n": 0})
        state["n"] += 1
        return {"count": state["n"]}


class FailManifest(ToyManifest):
    type: Literal["test/fail@v1"]
    value: Selector()
    client: bool = True


class FailBlock(Block):
    manifest_class = FailManifest

    def run(self, value: Any, client: bool) -> dict[str, Any]:
        if client:
            raise InvalidInputError("value must be odd")
        raise RuntimeError("boom")


@pytest.fixture(scope="module")
def context() -> WorkflowContext:
    registry = BlockRegistry(blocks=dict(default_registry().blocks))
    for block in (AddBlock, SplitBlock, JoinBlock, WaitBlock, CounterBlock, FailBlock):
        registry.register(block)
    return WorkflowContext(settings=Settings(), registry=registry)


def workflow(steps: list[dict[str, Any]], outputs: dict[str, str], inputs: list[dict[str, Any]] | None = None
             ) -> dict[str, Any]:
    return {"version": "1.0", "inputs": inputs if inputs is not None else [{"type": "WorkflowBatchInput", "name": "x"}],
            "steps": steps, "outputs": [{"type": "JsonField", "name": n, "selector": s} for n, s in outputs.items()]}


def test_element_wise_step_runs_once_per_batch_element(context):
    definition = workflow([{"type": "test/add@v1", "name": "add", "value": "$inputs.x", "amount": 10}],
                          {"y": "$steps.add.result"})
    result = compile_workflow(definition, context).run({"x": [1, 2, 3]})
    assert result.outputs == [{"y": 11}, {"y": 12}, {"y": 13}]


def test_parameters_are_broadcast_and_defaults_apply(context):
    inputs = [{"type": "WorkflowBatchInput", "name": "x"},
              {"type": "WorkflowParameter", "name": "k", "default_value": 5}]
    definition = workflow([{"type": "test/add@v1", "name": "add", "value": "$inputs.x", "amount": "$inputs.k"}],
                          {"y": "$steps.add.result", "k": "$inputs.k"}, inputs)
    compiled = compile_workflow(definition, context)
    assert compiled.run({"x": [1, 2]}).outputs == [{"y": 6, "k": 5}, {"y": 7, "k": 5}]
    assert compiled.run({"x": [1], "k": 100}).outputs == [{"y": 101, "k": 100}]


def test_nested_batch_and_its_collapse_stay_aligned_with_parents(context):
    definition = workflow([
        {"type": "test/split@v1", "name": "split", "value": "$inputs.x"},
        {"type": "test/add@v1", "name": "per_part", "value": "$steps.split.part", "amount": 100},
        {"type": "test/join@v1", "name": "join", "parts": "$steps.per_part.result", "label": "$inputs.x"},
    ], {"parts": "$steps.per_part.result", "joined": "$steps.join.joined"})
    result = compile_workflow(definition, context).run({"x": [2, 0, 3]})
    assert result.outputs == [
        {"parts": [100, 101], "joined": [2, 100, 101]},
        {"parts": [], "joined": [0]},
        {"parts": [100, 101, 102], "joined": [3, 100, 101, 102]},
    ]


def test_continue_if_skips_downstream_steps_per_element(context):
    condition = {"type": "StatementGroup", "statements": [{
        "type": "BinaryStatement",
        "left_operand": {"type": "DynamicOperand", "operand_name": "v"},
        "comparator": {"type": "(Number) >"}, "right_operand": {"type": "StaticOperand", "value": 1}}]}
    definition = workflow([
        {"type": "roboflow_core/continue_if@v1", "name": "gate", "condition_statement": condition,
         "evaluation_parameters": {"v": "$inputs.x"}, "next_steps": ["$steps.add"]},
        {"type": "test/add@v1", "name": "add", "value": "$inputs.x"},
        {"type": "test/add@v1", "name": "after", "value": "$steps.add.result"},
        {"type": "roboflow_core/first_non_empty_or_default@v1", "name": "either",
         "data": ["$steps.after.result"], "default": -1},
    ], {"after": "$steps.after.result", "either": "$steps.either.output"})
    result = compile_workflow(definition, context).run({"x": [1, 2, 0, 5]})
    assert result.outputs == [{"after": None, "either": -1}, {"after": 4, "either": 4},
                              {"after": None, "either": -1}, {"after": 7, "either": 7}]


def test_wildcard_selector_returns_every_output_of_a_step(context):
    definition = workflow([{"type": "test/add@v1", "name": "add", "value": "$inputs.x"}], {"all": "$steps.add.*"})
    assert compile_workflow(definition, context).run({"x": [4]}).outputs == [{"all": {"result": 5}}]


def test_independent_steps_run_concurrently(context):
    definition = workflow([{"type": "test/wait@v1", "name": "a", "value": "$inputs.x"},
                           {"type": "test/wait@v1", "name": "b", "value": "$inputs.x"}],
                          {"a": "$steps.a.thread", "b": "$steps.b.thread"})
    outputs = compile_workflow(definition, context).run({"x": [1]}).outputs[0]
    assert outputs["a"] != outputs["b"]  # both waited at the barrier at once, on two threads


def test_stateful_block_keeps_state_per_video_across_runs(context):
    inputs = [{"type": "WorkflowBatchInput", "name": "x"}, {"type": "WorkflowVideoMetadata", "name": "meta"}]
    definition = workflow([{"type": "test/counter@v1", "name": "count", "value": "$inputs.x"}],
                          {"count": "$steps.count.count"}, inputs)
    compiled = compile_workflow(definition, context)
    counts = [compiled.run({"x": [0], "meta": {"video_identifier": video, "frame_number": i}}).outputs[0]["count"]
              for i, video in enumerate(["a", "a", "b", "a", "b"])]
    assert counts == [1, 2, 1, 3, 2]
    fresh = compile_workflow(definition, context)  # a new compile starts with no state
    assert fresh.run({"x": [0], "meta": {"video_identifier": "a"}}).outputs[0]["count"] == 1


def test_images_carry_video_metadata_for_stateful_blocks_without_a_metadata_input(context):
    inputs = [{"type": "WorkflowImage", "name": "image"}]
    definition = workflow([{"type": "test/counter@v1", "name": "count", "value": "$inputs.image"}],
                          {"count": "$steps.count.count"}, inputs)
    compiled = compile_workflow(definition, context)
    frame = np.zeros((8, 8, 3), np.uint8)
    runs = [compiled.run({"image": {"type": "numpy_object", "value": frame, "video_metadata": {
        "video_identifier": video, "frame_number": 0}}}).outputs[0]["count"] for video in ["cam1", "cam2", "cam1"]]
    assert runs == [1, 1, 2]
    assert compiled.run({"image": frame}).outputs[0]["count"] == 1  # no metadata: the "default" video


def test_profiler_trace_lists_steps(context):
    definition = workflow([{"type": "test/add@v1", "name": "add", "value": "$inputs.x"}], {"y": "$steps.add.result"})
    compiled = compile_workflow(definition, context)
    assert compiled.run({"x": [1]}).profiler_trace == []
    trace = compiled.run({"x": [1, 2]}, profile=True).profiler_trace
    step = next(event for event in trace if event["name"] == "add")
    assert step["args"] == {"block_type": "test/add@v1", "elements": 2} and step["dur"] >= 0 and step["ph"] == "X"


def test_a_client_error_in_a_step_names_the_step_and_keeps_its_status(context):
    definition = workflow([{"type": "test/fail@v1", "name": "checker", "value": "$inputs.x"}], {})
    with pytest.raises(InvalidInputError, match="Step 'checker': value must be odd") as caught:
        compile_workflow(definition, context).run({"x": [2]})
    assert caught.value.status_code == 400


def test_an_unexpected_error_in_a_step_is_a_500_naming_the_step(context):
    definition = workflow([{"type": "test/fail@v1", "name": "checker", "value": "$inputs.x", "client": False}], {})
    with pytest.raises(StepExecutionError, match="Step 'checker'.*RuntimeError: boom"):
        compile_workflow(definition, context).run({"x": [2]})


def test_missing_inputs_are_client_errors_and_undeclared_ones_are_ignored(context):
    definition = workflow([{"type": "test/add@v1", "name": "add", "value": "$inputs.x"}], {"y": "$steps.add.result"})
    compiled = compile_workflow(definition, context)
    with pytest.raises(WorkflowInputError, match="Workflow input 'x' is required"):
        compiled.run({})
    assert compiled.run({"x": [1], "other": 2}).outputs == [{"y": 2}]  # as the reference does


def test_batches_of_different_lengths_are_refused(context):
    inputs = [{"type": "WorkflowBatchInput", "name": "x"}, {"type": "WorkflowBatchInput", "name": "z"}]
    definition = workflow([{"type": "test/add@v1", "name": "add", "value": "$inputs.x", "amount": "$inputs.z"}],
                          {"y": "$steps.add.result"}, inputs)
    compiled = compile_workflow(definition, context)
    assert compiled.run({"x": [1, 2], "z": [10]}).outputs == [{"y": 11}, {"y": 12}]  # length 1 broadcasts
    with pytest.raises(WorkflowInputError, match="same length"):
        compiled.run({"x": [1, 2], "z": [10, 20, 30]})


def test_serialize_outputs_drops_excluded_fields(context):
    definition = workflow([{"type": "test/add@v1", "name": "add", "value": "$inputs.x"}],
                          {"y": "$steps.add.result", "x": "$inputs.x"})
    result = compile_workflow(definition, context).run({"x": [np.int64(1)]})
    assert serialize_outputs(result.outputs, excluded_fields=["x"]) == [{"y": 2}]


def test_batch_inputs_of_kind_image_are_decoded_into_images(context):
    inputs = [{"type": "WorkflowBatchInput", "name": "frames", "kind": ["image"]}]
    definition = workflow([{"type": "PropertyDefinition", "name": "width", "data": "$inputs.frames",
                            "operations": [{"type": "ExtractImageProperty", "property_name": "width"}]}],
                          {"width": "$steps.width.output"}, inputs)
    frames = [np.zeros((4, 5, 3), np.uint8), {"type": "numpy_object", "value": np.zeros((2, 7, 3), np.uint8)}]
    assert compile_workflow(definition, context).run({"frames": frames}).outputs == [{"width": 5}, {"width": 7}]
