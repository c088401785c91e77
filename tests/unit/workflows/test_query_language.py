"""The query language against hand-computed answers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import supervision as sv
from pydantic import TypeAdapter

from argus.errors import InvalidInputError
from argus.workflows.query_language import (
    AllOperationsType,
    StatementGroup,
    apply_operations,
    evaluate_statement,
)

OPS = TypeAdapter(list[AllOperationsType])
GROUP = TypeAdapter(StatementGroup)


def detections() -> sv.Detections:
    return sv.Detections(
        xyxy=np.array([[0, 0, 10, 10], [20, 0, 40, 30], [5, 5, 7, 9]], dtype=np.float32),
        confidence=np.array([0.9, 0.5, 0.7], dtype=np.float32),
        class_id=np.array([0, 1, 0]),
        data={"class_name": np.array(["cat", "dog", "cat"], dtype=object),
              "detection_id": np.array(["a", "b", "c"], dtype=object),
              "image_dimensions": np.array([[50, 45]] * 3)})


def run(operations: list[dict[str, Any]], value: Any, **params: Any) -> Any:
    return apply_operations(OPS.validate_python(operations), value, params)


def binary(left: dict[str, Any], comparator: str, right: dict[str, Any], negate: bool = False) -> dict[str, Any]:
    return {"type": "BinaryStatement", "left_operand": left, "comparator": {"type": comparator},
            "right_operand": right, "negate": negate}


def static(value: Any) -> dict[str, Any]:
    return {"type": "StaticOperand", "value": value}


def dynamic(name: str = "_", operations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"type": "DynamicOperand", "operand_name": name, "operations": operations or []}


def confidence_at_least(threshold: float) -> dict[str, Any]:
    return {"type": "DetectionsFilter", "filter_operation": {"type": "StatementGroup", "statements": [binary(
        dynamic("_", [{"type": "ExtractDetectionProperty", "property_name": "confidence"}]), "(Number) >=",
        static(threshold))]}}


def test_detections_filter_keeps_matching_detections_in_order():
    kept = run([confidence_at_least(0.6)], detections())
    assert list(kept.data["detection_id"]) == ["a", "c"]


def test_detections_property_extract_and_sequence_operations():
    dets = detections()
    assert run([{"type": "DetectionsPropertyExtract", "property_name": "class_name"}], dets) == ["cat", "dog", "cat"]
    assert run([{"type": "DetectionsPropertyExtract", "property_name": "size"}], dets) == [100.0, 600.0, 8.0]
    assert run([{"type": "SequenceLength"}], dets) == 3
    assert run([{"type": "DetectionsPropertyExtract", "property_name": "class_name"},
                {"type": "SequenceAggregate", "mode": "most_common"}], dets) == "cat"
    assert run([{"type": "DetectionsPropertyExtract", "property_name": "class_name"},
                {"type": "SequenceElementsCount"}], dets) == {"cat": 2, "dog": 1}
    assert run([{"type": "DetectionsPropertyExtract", "property_name": "center"}], dets)[1] == (30.0, 15.0)
    assert run([{"type": "NumericSequenceAggregate", "function": "sum"}], [1, 2, 3.5]) == 6.5
    assert run([{"type": "NumericSequenceAggregate", "function": "max", "neutral_value": -1}], []) == -1


def test_detections_selection_sort_offset_shift_and_rename():
    dets = detections()
    assert list(run([{"type": "DetectionsSelection", "mode": "top_confidence"}], dets).data["detection_id"]) == ["a"]
    assert list(run([{"type": "DetectionsSelection", "mode": "right_most"}], dets).data["detection_id"]) == ["b"]
    ordered = run([{"type": "SortDetections", "mode": "confidence", "ascending": False}], dets)
    assert list(ordered.data["detection_id"]) == ["a", "c", "b"]
    grown = run([{"type": "DetectionsOffset", "offset_x": 10, "offset_y": 4}], dets)
    assert grown.xyxy[1].tolist() == [15.0, 0.0, 45.0, 32.0]  # clipped at the top and at width 45
    shifted = run([{"type": "DetectionsShift", "shift_x": 3, "shift_y": 1}], dets)
    assert shifted.xyxy[0].tolist() == [3.0, 1.0, 13.0, 11.0]
    renamed = run([{"type": "DetectionsRename", "class_map": {"cat": "feline"}, "strict": False}], dets)
    assert list(renamed.data["class_name"]) == ["feline", "dog", "feline"]
    assert renamed.class_id.tolist() == [1024, 1, 1024]
    with pytest.raises(InvalidInputError, match="'dog' is not in class_map"):
        run([{"type": "DetectionsRename", "class_map": {"cat": "feline"}}], dets)


def test_scalar_and_string_operations():
    assert run([{"type": "StringToUpperCase"}, {"type": "StringSubSequence", "start": 1, "end": 3}], "hello") == "EL"
    assert run([{"type": "ToNumber", "cast_to": "float"}, {"type": "Multiply", "other": 2},
                {"type": "NumberRound", "decimal_digits": 1}], "1.26") == 2.5
    assert run([{"type": "LookupTable", "lookup_table": {"a": 1}}], "a") == 1
    assert run([{"type": "SequenceMap", "lookup_table": {"a": 1, "b": 2}}], ["b", "a"]) == [2, 1]
    assert run([{"type": "StringMatches", "regex": "^ab+c$"}], "abbbc") is True
    assert run([{"type": "SequenceApply", "operations": [{"type": "StringToLowerCase"}]}], ["A", "B"]) == ["a", "b"]
    assert run([{"type": "Divide", "other": 4}], 10) == 2.5
    with pytest.raises(InvalidInputError, match="division by zero"):
        run([{"type": "Divide", "other": 0}], 1)
    with pytest.raises(InvalidInputError, match="StringToLowerCase expects str"):
        run([{"type": "StringToLowerCase"}], 3)


def test_classification_property_extract():
    single = {"predictions": [{"class": "cat", "class_id": 1, "confidence": 0.8},
                              {"class": "dog", "class_id": 0, "confidence": 0.2}], "top": "cat", "confidence": 0.8}
    assert run([{"type": "ClassificationPropertyExtract", "property_name": "top_class"}], single) == "cat"
    assert run([{"type": "ClassificationPropertyExtract", "property_name": "all_confidences"}], single) == [0.8, 0.2]
    multi = {"predictions": {"cat": {"confidence": 0.9, "class_id": 0}, "dog": {"confidence": 0.7, "class_id": 1}},
             "predicted_classes": ["cat", "dog"]}
    assert run([{"type": "ClassificationPropertyExtract", "property_name": "top_class"}], multi) == ["cat", "dog"]
    assert run([{"type": "ClassificationPropertyExtract", "property_name": "top_class_confidence_single"}],
               multi) == 0.9


@pytest.mark.parametrize(("statement", "params", "expected"), [
    (binary(static(3), "(Number) >", static(2)), {}, True),
    (binary(static(3), "(Number) <=", static(2)), {}, False),
    (binary(static(3), "(Number) <=", static(2), negate=True), {}, True),
    (binary(dynamic("s"), "(String) startsWith", static("ca")), {"s": "cat"}, True),
    (binary(dynamic("s"), "(String) endsWith", static("x")), {"s": "cat"}, False),
    (binary(dynamic("s"), "(String) contains", static("a")), {"s": "cat"}, True),
    (binary(dynamic("s"), "in (Sequence)", static(["cat", "dog"])), {"s": "dog"}, True),
    (binary(dynamic("l"), "all in (Sequence)", static(["a", "b", "c"])), {"l": ["a", "c"]}, True),
    (binary(dynamic("l"), "any in (Sequence)", static(["x"])), {"l": ["a", "c"]}, False),
    (binary(dynamic("a"), "==", dynamic("b")), {"a": 1, "b": 1}, True),
    (binary(dynamic("a"), "!=", dynamic("b")), {"a": 1, "b": 1}, False),
    ({"type": "UnaryStatement", "operand": dynamic("v"), "operator": {"type": "Exists"}}, {"v": None}, False),
    ({"type": "UnaryStatement", "operand": dynamic("v"), "operator": {"type": "(Boolean) is True"}}, {"v": True}, True),
    ({"type": "UnaryStatement", "operand": dynamic("v"), "operator": {"type": "(Sequence) is empty"}}, {"v": []}, True),
])
def test_statements(statement, params, expected):
    group = GROUP.validate_python({"type": "StatementGroup", "statements": [statement]})
    assert evaluate_statement(group, params) is expected


def test_groups_combine_with_and_or_and_nest():
    true, false = binary(static(1), "==", static(1)), binary(static(1), "==", static(2))
    assert evaluate_statement(GROUP.validate_python(
        {"type": "StatementGroup", "operator": "and", "statements": [true, false]}), {}) is False
    assert evaluate_statement(GROUP.validate_python(
        {"type": "StatementGroup", "statements": [false, true]}), {}) is True  # default operator: or
    nested = {"type": "StatementGroup", "operator": "and", "statements": [
        true, {"type": "StatementGroup", "operator": "or", "statements": [false, true]}]}
    assert evaluate_statement(GROUP.validate_python(nested), {}) is True


def test_detection_in_zone_uses_the_box_centre():
    dets = detections()
    zone = [[0, 0], [12, 0], [12, 12], [0, 12]]
    filtered = run([{"type": "DetectionsFilter", "filter_operation": {"type": "StatementGroup", "statements": [
        binary(dynamic("_"), "(Detection) in zone", dynamic("zone"))]}}], dets, zone=zone)
    assert list(filtered.data["detection_id"]) == ["a", "c"]


def test_unknown_operand_and_type_mismatch_are_client_errors():
    group = GROUP.validate_python({"type": "StatementGroup", "statements": [
        binary(dynamic("missing"), "==", static(1))]})
    with pytest.raises(InvalidInputError, match="'missing'"):
        evaluate_statement(group, {"present": 1})
    group = GROUP.validate_python({"type": "StatementGroup", "statements": [
        binary(static("a"), "(Number) >", static(1))]})
    with pytest.raises(InvalidInputError, match="compares numbers"):
        evaluate_statement(group, {})
