"""Compile errors name the step and field; plans are cached by the definition's hash."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from argus.settings import Settings
from argus.workflows import WorkflowContext, compile_workflow
from argus.workflows.compiler import build_plan
from argus.workflows.errors import WorkflowDefinitionError

FILTER_OPERATIONS = [{"type": "DetectionsFilter", "filter_operation": {
    "type": "StatementGroup", "operator": "and", "statements": [{
        "type": "BinaryStatement",
        "left_operand": {"type": "DynamicOperand", "operand_name": "_",
                         "operations": [{"type": "ExtractDetectionProperty", "property_name": "confidence"}]},
        "comparator": {"type": "(Number) >="}, "right_operand": {"type": "StaticOperand", "value": 0.8}}]}}]


def base() -> dict[str, Any]:
    """The reference's own example definition (spec §5), minus the visualisation."""
    return {
        "version": "1.0",
        "inputs": [{"type": "WorkflowImage", "name": "image"},
                   {"type": "WorkflowParameter", "name": "model_id", "default_value": "bench-model/1"},
                   {"type": "WorkflowParameter", "name": "confidence", "default_value": 0.3}],
        "steps": [
            {"type": "roboflow_core/roboflow_object_detection_model@v2", "name": "model", "images": "$inputs.image",
             "model_id": "$inputs.model_id", "confidence": "$inputs.confidence"},
            {"type": "roboflow_core/detections_filter@v1", "name": "filter",
             "predictions": "$steps.model.predictions", "operations": FILTER_OPERATIONS},
            {"type": "roboflow_core/dynamic_crop@v1", "name": "crop", "images": "$inputs.image",
             "predictions": "$steps.filter.predictions"},
            {"type": "roboflow_core/property_definition@v1", "name": "count", "data": "$steps.model.predictions",
             "operations": [{"type": "SequenceLength"}]},
        ],
        "outputs": [{"type": "JsonField", "name": "predictions", "selector": "$steps.model.predictions"},
                    {"type": "JsonField", "name": "crops", "selector": "$steps.crop.crops"},
                    {"type": "JsonField", "name": "count", "selector": "$steps.count.output"}],
    }


def test_the_reference_example_compiles_with_batch_levels():
    plan = build_plan(base())
    assert plan.order.index("model") < plan.order.index("filter") < plan.order.index("crop")
    assert {name: step.dim for name, step in plan.steps.items()} == {"model": 1, "filter": 1, "crop": 2, "count": 1}
    assert plan.output_dims == {"predictions": 1, "crops": 2, "count": 1}


def test_legacy_aliases_resolve_to_the_same_blocks():
    definition = base()
    definition["steps"][0]["type"] = "ObjectDetectionModel"
    definition["steps"][2]["type"] = "Crop"
    plan = build_plan(definition)
    assert plan.steps["crop"].manifest.type == "Crop"


def broken(change: Any) -> dict[str, Any]:
    definition = copy.deepcopy(base())
    change(definition)
    return definition


def _set(path: tuple[Any, ...], value: Any) -> Any:
    def change(definition: dict[str, Any]) -> None:
        target = definition
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


CASES = {
    "unknown_block": (_set(("steps", 1, "type"), "roboflow_core/teleporter@v1"), "filter",
                      "'roboflow_core/teleporter@v1' is not implemented", "UnknownManifestType"),
    "bad_selector": (_set(("steps", 2, "predictions"), "$steps.filter"), "crop", "cannot take '\\$steps.filter'",
                     "InvalidReferenceTargetError"),
    "malformed_selector": (_set(("steps", 3, "data"), "$steps..predictions"), "count", "not a selector",
                           "InvalidReferenceTargetError"),
    "missing_step": (_set(("steps", 3, "data"), "$steps.detector.predictions"), "count",
                     "step 'detector', which does not exist", "InvalidReferenceTargetError"),
    "missing_output": (_set(("steps", 3, "data"), "$steps.model.boxes"), "count",
                       "has outputs: inference_id, predictions", "InvalidReferenceTargetError"),
    "missing_input": (_set(("steps", 0, "images"), "$inputs.picture"), "model",
                      "input 'picture', which the workflow does not declare", "InvalidReferenceTargetError"),
    "kind_mismatch": (_set(("steps", 0, "confidence"), "$steps.crop.crops"), "model",
                      "field 'confidence' expects float_zero_to_one but '\\$steps.crop.crops' is image",
                      "ReferenceTypeError"),
    "image_into_detections": (_set(("steps", 1, "predictions"), "$inputs.image"), "filter",
                              ("expects object_detection_prediction or instance_segmentation_prediction or "
                               "keypoint_detection_prediction but '\\$inputs.image' is image"), "ReferenceTypeError"),
    "duplicate_step": (_set(("steps", 3, "name"), "filter"), "filter", "used by more than one step",
                       "DuplicatedNameError"),
    "bad_field_value": (_set(("steps", 1, "operations"), [{"type": "NoSuchOperation"}]), "filter",
                        "operations", "ManifestValidationError"),
    "cycle": (_set(("steps", 0, "images"), "$steps.crop.crops"), None, "cycle", "ExecutionGraphStructureError"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_compile_errors_name_the_step_and_say_what_to_fix(case):
    change, step, message, error_type = CASES[case]
    with pytest.raises(WorkflowDefinitionError, match=message) as caught:
        build_plan(broken(change))
    error = caught.value
    assert error.status_code == 400
    assert error.error_type == error_type
    body = error.body()
    assert set(body) >= {"message", "error_type", "context", "blocks_errors"}
    if step is not None:
        assert error.message.startswith(f"Step '{step}'")
        assert body["blocks_errors"][0]["block_id"] == step
    else:
        assert "model" in error.message and "crop" in error.message  # the steps of the cycle


def test_missing_document_parts_are_syntax_errors():
    with pytest.raises(WorkflowDefinitionError, match="inputs.0"):
        build_plan({"version": "1.0", "inputs": [{"type": "Nope", "name": "x"}], "steps": [], "outputs": []})
    with pytest.raises(WorkflowDefinitionError, match="must be a JSON object"):
        build_plan(["not", "a", "dict"])


def test_output_selector_must_exist():
    definition = base()
    definition["outputs"].append({"type": "JsonField", "name": "extra", "selector": "$steps.ghost.x"})
    with pytest.raises(WorkflowDefinitionError, match="'ghost', which does not exist"):
        build_plan(definition)


def test_plans_are_cached_by_hash_but_each_compile_gets_its_own_blocks():
    context = WorkflowContext(settings=Settings())
    first = compile_workflow(base(), context)
    second = compile_workflow(base(), context)
    assert first.plan is second.plan
    assert first.blocks["crop"] is not second.blocks["crop"]
    changed = base()
    changed["steps"][3]["name"] = "n"
    changed["outputs"][2]["selector"] = "$steps.n.output"
    assert compile_workflow(changed, context).plan is not first.plan


def test_reference_blocks_argus_lacks_are_501_naming_them():
    from argus.workflows.errors import BlockNotImplementedError

    definition = base()
    definition["steps"][3] = {"type": "roboflow_core/anthropic_claude@v1", "name": "llm", "images": "$inputs.image"}
    definition["outputs"] = definition["outputs"][:2]
    with pytest.raises(BlockNotImplementedError, match="Step 'llm': block type 'roboflow_core/anthropic_claude@v1'"
                       ) as caught:
        build_plan(definition)
    assert caught.value.status_code == 501


@pytest.mark.parametrize(("block_type", "reason"), [
    ("roboflow_enterprise/kafka_producer_sink@v1", "enterprise block"),
    ("roboflow_core/plc_writer@v1", "enterprise block"),
    ("mqtt_writer_sink@v1", "enterprise block"),
    ("roboflow_core/segment_anything3_3d_objects@v1", "offline"),
])
def test_enterprise_and_offline_only_blocks_are_501_with_their_reason(block_type: str, reason: str) -> None:
    from argus.workflows.errors import BlockNotImplementedError

    definition = base()
    definition["steps"][3] = {"type": block_type, "name": "x"}
    definition["outputs"] = definition["outputs"][:2]
    with pytest.raises(BlockNotImplementedError, match=reason) as caught:
        build_plan(definition)
    assert caught.value.status_code == 501
