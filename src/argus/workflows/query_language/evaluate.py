"""Evaluating operation chains and statements of the query language."""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import supervision as sv

from argus.errors import InvalidInputError
from argus.workflows.data import pick
from argus.workflows.query_language import entities as e
from argus.workflows.query_language.detections import (
    detection_property,
    detections_property,
    offset_detections,
    pick_by_parent_class,
    rename_detections,
    select_detections,
    shift_detections,
    sort_detections,
)

OperationFn = Callable[[Any, Any, dict[str, Any]], Any]


def _check(value: Any, types: type | tuple[type, ...], operation: str) -> Any:
    if not isinstance(value, types):
        names = types.__name__ if isinstance(types, type) else " or ".join(t.__name__ for t in types)
        raise InvalidInputError(f"operation {operation} expects {names}, got {type(value).__name__}")
    return value


def _lookup(table: dict, value: Any, operation: str) -> Any:
    if value in table:
        return table[value]
    if str(value) in table:
        return table[str(value)]
    raise InvalidInputError(f"operation {operation}: value {value!r} is not in the lookup table")


def _aggregate(values: list, mode: str) -> Any:
    if not values:
        raise InvalidInputError("operation SequenceAggregate: the sequence is empty")
    if mode == "first":
        return values[0]
    if mode == "last":
        return values[-1]
    counts = Counter(values).most_common()
    return counts[0][0] if mode == "most_common" else counts[-1][0]


def _numeric_aggregate(values: list, op: e.NumericSequenceAggregate) -> Any:
    if not values:
        return op.neutral_value
    functions: dict[str, Callable[[list], Any]] = {"min": min, "max": max, "sum": sum}
    return functions[op.function](values)


def _classification_property(value: dict, name: str) -> Any:
    _check(value, dict, "ClassificationPropertyExtract")
    predictions = value.get("predictions")
    if "predicted_classes" in value:  # multi-label
        scores = predictions or {}
        picked = value["predicted_classes"]
        if name == "top_class":
            return picked
        if name in ("top_class_confidence", "top_class_confidence_single"):
            found = [scores[c]["confidence"] for c in picked if c in scores]
            return (max(found) if found else 0.0) if name.endswith("single") else found
        if name == "all_classes":
            return list(scores)
        return [scores[c]["confidence"] for c in scores]
    if name == "top_class":
        return value.get("top")
    if name in ("top_class_confidence", "top_class_confidence_single"):
        return value.get("confidence")
    if name == "all_classes":
        return [p["class"] for p in predictions or []]
    return [p["confidence"] for p in predictions or []]


def _image_property(value: Any, name: str) -> Any:
    image = getattr(value, "numpy_image", value)
    _check(image, np.ndarray, "ExtractImageProperty")
    height, width = image.shape[:2]
    values = {"size": height * width, "height": height, "width": width, "aspect_ratio": width / height if height else 0}
    return values[name]


def _filter(value: sv.Detections, op: e.DetectionsFilter, params: dict[str, Any]) -> sv.Detections:
    _check(value, sv.Detections, "DetectionsFilter")
    keep = [evaluate_statement(op.filter_operation, {**params, "_": detection}) for detection in value]
    return pick(value, np.array(keep, dtype=bool)) if len(value) else value


def _jpeg(value: Any, op: e.ConvertImageToJPEG) -> bytes:
    import cv2

    _, buffer = cv2.imencode(".jpg", value.numpy_image, [cv2.IMWRITE_JPEG_QUALITY, op.compression_level])
    return buffer.tobytes()


def _to_dictionary(value: sv.Detections) -> dict:
    from argus.workflows.serialization import serialise_sv_detections

    return serialise_sv_detections(value)


_OPS: dict[str, OperationFn] = {
    "StringToLowerCase": lambda v, op, p: _check(v, str, op.type).lower(),
    "StringToUpperCase": lambda v, op, p: _check(v, str, op.type).upper(),
    "LookupTable": lambda v, op, p: _lookup(op.lookup_table, v, op.type),
    "ToNumber": lambda v, op, p: int(float(v)) if op.cast_to == "int" else float(v),
    "NumberRound": lambda v, op, p: round(v, op.decimal_digits) if op.decimal_digits else round(v),
    "SequenceMap": lambda v, op, p: [_lookup(op.lookup_table, x, op.type) for x in v],
    "SequenceApply": lambda v, op, p: [apply_operations(op.operations, x, p) for x in v],
    "NumericSequenceAggregate": lambda v, op, p: _numeric_aggregate(list(v), op),
    "SequenceAggregate": lambda v, op, p: _aggregate(list(v), op.mode),
    "ToString": lambda v, op, p: str(v),
    "ToBoolean": lambda v, op, p: bool(v),
    "StringSubSequence": lambda v, op, p: _check(v, str, op.type)[op.start:op.end],
    "DetectionsPropertyExtract": lambda v, op, p: detections_property(_check(v, sv.Detections, op.type),
                                                                      op.property_name.value),
    "ExtractDetectionProperty": lambda v, op, p: detection_property(v, op.property_name.value),
    "DetectionsFilter": _filter,
    "DetectionsOffset": lambda v, op, p: offset_detections(_check(v, sv.Detections, op.type), op.offset_x,
                                                           op.offset_y),
    "DetectionsShift": lambda v, op, p: shift_detections(_check(v, sv.Detections, op.type), op.shift_x, op.shift_y),
    "DetectionsRename": lambda v, op, p: rename_detections(_check(v, sv.Detections, op.type), op, p),
    "RandomNumber": lambda v, op, p: random.uniform(op.min_value, op.max_value),
    "StringMatches": lambda v, op, p: re.match(op.regex, _check(v, str, op.type)) is not None,
    "ExtractImageProperty": lambda v, op, p: _image_property(v, op.property_name),
    "SequenceLength": lambda v, op, p: len(v),
    "SequenceElementsCount": lambda v, op, p: dict(Counter(v)),
    "Multiply": lambda v, op, p: v * op.other,
    "Divide": lambda v, op, p: v / op.other if op.other else _zero_division(),
    "DetectionsSelection": lambda v, op, p: select_detections(_check(v, sv.Detections, op.type), op.mode),
    "SortDetections": lambda v, op, p: sort_detections(_check(v, sv.Detections, op.type), op.mode, op.ascending),
    "ClassificationPropertyExtract": lambda v, op, p: _classification_property(v, op.property_name),
    "ConvertImageToJPEG": lambda v, op, p: _jpeg(v, op),
    "ConvertImageToBase64": lambda v, op, p: v.base64_image,
    "DetectionsToDictionary": lambda v, op, p: _to_dictionary(_check(v, sv.Detections, op.type)),
    "ConvertDictionaryToJSON": lambda v, op, p: json.dumps(v),
    "PickDetectionsByParentClass": lambda v, op, p: pick_by_parent_class(_check(v, sv.Detections, op.type),
                                                                         op.parent_class),
}


def _zero_division() -> Any:
    raise InvalidInputError("operation Divide: division by zero")


def apply_operations(operations: list[Any], value: Any, params: dict[str, Any] | None = None) -> Any:
    """Run a chain of operations on ``value`` (``params``: the named values statements may refer to)."""
    params = params or {}
    for op in operations:
        try:
            value = _OPS[op.type](value, op, params)
        except InvalidInputError:
            raise
        except (TypeError, ValueError, KeyError, AttributeError, IndexError) as error:
            raise InvalidInputError(f"operation {op.type} cannot be applied to {type(value).__name__}: "
                                    f"{error}") from None
    return value


def _operand(operand: e.StaticOperand | e.DynamicOperand, params: dict[str, Any]) -> Any:
    if isinstance(operand, e.StaticOperand):
        return apply_operations(operand.operations, operand.value, params)
    if operand.operand_name not in params:
        raise InvalidInputError(f"statement refers to operand '{operand.operand_name}', which is not among the "
                                f"evaluation parameters ({', '.join(sorted(params)) or 'none'})")
    return apply_operations(operand.operations, params[operand.operand_name], params)


def _in_zone(detection: Any, zone: Any) -> bool:
    import cv2

    xyxy = np.asarray(detection[0], dtype=np.float32)
    centre = (float(xyxy[0] + xyxy[2]) / 2, float(xyxy[1] + xyxy[3]) / 2)
    polygon = np.asarray(zone, dtype=np.float32).reshape(-1, 1, 2)
    return cv2.pointPolygonTest(polygon, centre, False) >= 0


def _number(value: Any, comparator: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise InvalidInputError(f"comparator '{comparator}' compares numbers, got {type(value).__name__}")
    return float(value)


def _compare(comparator: str, left: Any, right: Any) -> bool:
    if comparator in ("==", "(Number) =="):
        return bool(left == right)
    if comparator in ("!=", "(Number) !="):
        return bool(left != right)
    if comparator.startswith("(Number)"):
        a, b = _number(left, comparator), _number(right, comparator)
        return {">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}[comparator.split(" ")[1]]
    if comparator.startswith("(String)"):
        if not isinstance(left, str) or not isinstance(right, str):
            raise InvalidInputError(f"comparator '{comparator}' compares strings")
        return {"startsWith": left.startswith, "endsWith": left.endswith,
                "contains": left.__contains__}[comparator.split(" ")[1]](right)
    if comparator == "in (Sequence)":
        return left in right
    if comparator == "all in (Sequence)":
        return all(item in right for item in left)
    if comparator == "any in (Sequence)":
        return any(item in right for item in left)
    return _in_zone(left, right)


def _unary(operator: str, value: Any) -> bool:
    if operator == "Exists":
        return value is not None
    if operator == "DoesNotExist":
        return value is None
    if operator == "(Boolean) is True":
        return value is True or value is np.True_
    if operator == "(Boolean) is False":
        return value is False or value is np.False_
    if operator == "(Sequence) is empty":
        return len(value) == 0
    return len(value) > 0


def evaluate_statement(statement: Any, params: dict[str, Any]) -> bool:
    """Evaluate a StatementGroup, BinaryStatement or UnaryStatement against named values."""
    if isinstance(statement, e.StatementGroup):
        results = (evaluate_statement(s, params) for s in statement.statements)
        return all(results) if statement.operator == "and" else any(results)
    if isinstance(statement, e.BinaryStatement):
        try:
            result = _compare(statement.comparator.type, _operand(statement.left_operand, params),
                              _operand(statement.right_operand, params))
        except TypeError as error:
            raise InvalidInputError(f"comparator '{statement.comparator.type}': {error}") from None
    else:
        try:
            result = _unary(statement.operator.type, _operand(statement.operand, params))
        except TypeError as error:
            raise InvalidInputError(f"operator '{statement.operator.type}': {error}") from None
    return not result if statement.negate else bool(result)
