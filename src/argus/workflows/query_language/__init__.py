"""The reference's small query language: operation chains and statements over workflow data.

Used by detections filter/transformation, property definition, continue-if and expression blocks.

Example:
    >>> from pydantic import TypeAdapter
    >>> group = TypeAdapter(StatementGroup).validate_python({"type": "StatementGroup", "statements": [
    ...     {"type": "BinaryStatement", "left_operand": {"type": "DynamicOperand", "operand_name": "n"},
    ...      "comparator": {"type": "(Number) >="}, "right_operand": {"type": "StaticOperand", "value": 3}}]})
    >>> evaluate_statement(group, {"n": 5})
    True
"""

from __future__ import annotations

from argus.workflows.query_language.entities import (
    AllOperationsType,
    BinaryStatement,
    DynamicOperand,
    StatementGroup,
    StaticOperand,
    UnaryStatement,
)
from argus.workflows.query_language.evaluate import apply_operations, evaluate_statement

__all__ = [
    "AllOperationsType",
    "BinaryStatement",
    "DynamicOperand",
    "StatementGroup",
    "StaticOperand",
    "UnaryStatement",
    "apply_operations",
    "evaluate_statement",
]
