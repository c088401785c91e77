"""Pydantic models of the query language (names and fields as in the reference, so definitions validate)."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field


class DetectionsProperty(str, Enum):
    """Properties of a detection the language can read."""

    CONFIDENCE = "confidence"
    CLASS_NAME = "class_name"
    X_MIN = "x_min"
    X_MAX = "x_max"
    Y_MIN = "y_min"
    Y_MAX = "y_max"
    SIZE = "size"
    CLASS_ID = "class_id"
    CENTER = "center"
    TOP_LEFT = "top_left"
    TOP_RIGHT = "top_right"
    BOTTOM_LEFT = "bottom_left"
    BOTTOM_RIGHT = "bottom_right"
    IN_OUT = "in_out"
    PATH_DEVIATION = "path_deviation"
    POLYGON = "polygon"
    TIME_IN_ZONE = "time_in_zone"
    TRACKER_ID = "tracker_id"
    VELOCITY = "velocity"
    SPEED = "speed"
    SMOOTHED_VELOCITY = "smoothed_velocity"
    SMOOTHED_SPEED = "smoothed_speed"
    DIMENSIONS = "image_dimensions"
    PREDICTION_TYPE = "prediction_type"
    KEYPOINTS_XY = "keypoints_xy"
    BOUNDING_RECT = "rect"
    BOUNDING_RECT_WIDTH = "width"
    BOUNDING_RECT_HEIGHT = "height"
    BOUNDING_RECT_ANGLE = "angle"


class Op(BaseModel):
    """Base of operations."""

    type: str


class StringToLowerCase(Op):
    type: Literal["StringToLowerCase"]


class StringToUpperCase(Op):
    type: Literal["StringToUpperCase"]


class LookupTable(Op):
    type: Literal["LookupTable"]
    lookup_table: dict


class ToNumber(Op):
    type: Literal["ToNumber"]
    cast_to: Literal["int", "float"]


class NumberRound(Op):
    type: Literal["NumberRound"]
    decimal_digits: int


class SequenceMap(Op):
    type: Literal["SequenceMap"]
    lookup_table: dict


class SequenceApply(Op):
    type: Literal["SequenceApply"]
    operations: list[AllOperationsType]


class NumericSequenceAggregate(Op):
    type: Literal["NumericSequenceAggregate"]
    function: Literal["min", "max", "sum"]
    neutral_value: Any = None


class SequenceAggregate(Op):
    type: Literal["SequenceAggregate"]
    mode: Literal["first", "last", "most_common", "least_common"]


class ToString(Op):
    type: Literal["ToString"]


class ToBoolean(Op):
    type: Literal["ToBoolean"]


class StringSubSequence(Op):
    type: Literal["StringSubSequence"]
    start: int = 0
    end: int = -1


class DetectionsPropertyExtract(Op):
    type: Literal["DetectionsPropertyExtract"]
    property_name: DetectionsProperty


class ExtractDetectionProperty(Op):
    type: Literal["ExtractDetectionProperty"]
    property_name: DetectionsProperty


class DetectionsFilter(Op):
    type: Literal["DetectionsFilter"]
    filter_operation: StatementGroup


class DetectionsOffset(Op):
    type: Literal["DetectionsOffset"]
    offset_x: int
    offset_y: int


class DetectionsShift(Op):
    type: Literal["DetectionsShift"]
    shift_x: int
    shift_y: int


class DetectionsRename(Op):
    type: Literal["DetectionsRename"]
    class_map: dict[str, str] | str
    strict: bool | str = True
    new_classes_id_offset: int = 1024


class RandomNumber(Op):
    type: Literal["RandomNumber"]
    min_value: float = 0.0
    max_value: float = 1.0


class StringMatches(Op):
    type: Literal["StringMatches"]
    regex: str


class ExtractImageProperty(Op):
    type: Literal["ExtractImageProperty"]
    property_name: Literal["size", "height", "width", "aspect_ratio"]


class SequenceLength(Op):
    type: Literal["SequenceLength"]


class SequenceElementsCount(Op):
    type: Literal["SequenceElementsCount"]


class Multiply(Op):
    type: Literal["Multiply"]
    other: int | float


class Divide(Op):
    type: Literal["Divide"]
    other: int | float


class DetectionsSelection(Op):
    type: Literal["DetectionsSelection"]
    mode: Literal["left_most", "right_most", "top_confidence", "first", "last"]


class SortDetections(Op):
    type: Literal["SortDetections"]
    mode: Literal["confidence", "x_min", "x_max", "y_min", "y_max", "size", "center_x", "center_y"]
    ascending: bool = True


class ClassificationPropertyExtract(Op):
    type: Literal["ClassificationPropertyExtract"]
    property_name: Literal["top_class", "top_class_confidence", "top_class_confidence_single", "all_classes",
                           "all_confidences"]


class ConvertImageToJPEG(Op):
    type: Literal["ConvertImageToJPEG"]
    compression_level: int = Field(default=95, ge=1, le=100)


class ConvertImageToBase64(Op):
    type: Literal["ConvertImageToBase64"]


class DetectionsToDictionary(Op):
    type: Literal["DetectionsToDictionary"]


class ConvertDictionaryToJSON(Op):
    type: Literal["ConvertDictionaryToJSON"]


class PickDetectionsByParentClass(Op):
    type: Literal["PickDetectionsByParentClass"]
    parent_class: str


AllOperationsType = Annotated[
    StringToLowerCase | StringToUpperCase | LookupTable | ToNumber | NumberRound | SequenceMap | SequenceApply | NumericSequenceAggregate | ToString | ToBoolean | StringSubSequence | DetectionsPropertyExtract | SequenceAggregate | ExtractDetectionProperty | DetectionsFilter | DetectionsOffset | DetectionsShift | DetectionsRename | RandomNumber | StringMatches | ExtractImageProperty | SequenceLength | SequenceElementsCount | Multiply | Divide | DetectionsSelection | SortDetections | ClassificationPropertyExtract | ConvertImageToJPEG | ConvertImageToBase64 | DetectionsToDictionary | ConvertDictionaryToJSON | PickDetectionsByParentClass,
    Field(discriminator="type"),
]


class Comparator(BaseModel):
    """A binary comparator, by its reference name."""

    type: Literal["==", "(Number) ==", "!=", "(Number) !=", "(Number) >", "(Number) >=", "(Number) <",
                  "(Number) <=", "(String) startsWith", "(String) endsWith", "(String) contains", "in (Sequence)",
                  "all in (Sequence)", "any in (Sequence)", "(Detection) in zone"]


class UnaryOperator(BaseModel):
    """A unary operator, by its reference name."""

    type: Literal["Exists", "DoesNotExist", "(Boolean) is True", "(Boolean) is False", "(Sequence) is empty",
                  "(Sequence) is not empty"]


class StaticOperand(BaseModel):
    type: Literal["StaticOperand"]
    value: Any
    operations: list[AllOperationsType] = Field(default_factory=list)


class DynamicOperand(BaseModel):
    type: Literal["DynamicOperand"]
    operations: list[AllOperationsType] = Field(default_factory=list)
    operand_name: str = "_"


Operand = Annotated[StaticOperand | DynamicOperand, Field(discriminator="type")]


class BinaryStatement(BaseModel):
    type: Literal["BinaryStatement"]
    left_operand: Operand
    comparator: Comparator
    right_operand: Operand
    negate: bool = False


class UnaryStatement(BaseModel):
    type: Literal["UnaryStatement"]
    operand: Operand
    operator: UnaryOperator
    negate: bool = False


class StatementGroup(BaseModel):
    type: Literal["StatementGroup"]
    statements: list[Annotated[BinaryStatement | UnaryStatement | StatementGroup,
                               Field(discriminator="type")]] = Field(min_length=1)
    operator: Literal["and", "or"] = "or"


for _model in (SequenceApply, DetectionsFilter, StaticOperand, DynamicOperand, BinaryStatement, UnaryStatement,
               StatementGroup):
    _model.model_rebuild()
