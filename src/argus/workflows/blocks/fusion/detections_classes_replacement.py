# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Detections Classes Replacement: each detection takes the class its crop was classified as (two-stage
detection), as the reference. Classifications are matched to detections by ``parent_id``; string predictions (OCR,
LMMs) by position. A detection without a usable classification is dropped, or given ``fallback_class_name``."""

from __future__ import annotations

import sys
import uuid
from typing import Any, ClassVar, Literal

import numpy as np
import supervision as sv
from pydantic import Field

from argus.errors import InvalidInputError
from argus.workflows.blocks.base import Block, BlockManifest, OutputDefinition, Selector, block_config
from argus.workflows.data import CLASS_NAME_KEY, DETECTION_ID_KEY, PARENT_ID_KEY, pick
from argus.workflows.kinds import (
    CLASSIFICATION_PREDICTION_KIND,
    DETECTION_KINDS,
    INTEGER_KIND,
    LIST_OF_VALUES_KIND,
    STRING_KIND,
)

Leading = tuple[str, int, float]


class DetectionsClassesReplacementManifest(BlockManifest):
    model_config = block_config(name="Detections Classes Replacement", category="fusion",
                                description="Replace the class of each detection with the class predicted by a "
                                            "classifier on its crop.")
    type: Literal["roboflow_core/detections_classes_replacement@v1", "DetectionsClassesReplacement"]
    object_detection_predictions: Selector(kind=list(DETECTION_KINDS)) = Field(description="Regions of interest")
    classification_predictions: Selector(kind=[CLASSIFICATION_PREDICTION_KIND, LIST_OF_VALUES_KIND, STRING_KIND]
                                         ) = Field(description="One classification (or string) per region")
    fallback_class_name: str | Selector(kind=[STRING_KIND]) | None = None
    fallback_class_id: int | Selector(kind=[INTEGER_KIND]) | None = None

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="predictions", kind=list(DETECTION_KINDS))]


class DetectionsClassesReplacementBlockV1(Block):
    manifest_class = DetectionsClassesReplacementManifest
    output_dimensionality_offset: ClassVar[int] = -1
    accepts_empty_values: ClassVar[bool] = True

    def run(self, object_detection_predictions: sv.Detections | None, classification_predictions: list[Any] | None,
            fallback_class_name: str | None = None, fallback_class_id: int | None = None) -> dict[str, Any]:
        detections = object_detection_predictions
        if detections is None:
            return {"predictions": None}
        if not classification_predictions:
            return {"predictions": sv.Detections.empty()}
        first = next((p for p in classification_predictions if p is not None), None)
        if isinstance(first, (str, list)):  # OCR / LMM strings: matched by position
            padded = list(classification_predictions) + [None] * (len(detections) - len(classification_predictions))
            leading = [_fallback(fallback_class_name, fallback_class_id) if p is None
                       else leading_class(p, fallback_class_name, fallback_class_id) for p in padded[:len(detections)]]
        else:
            if all(p is None or ("top" in p and not p["top"]) or "predictions" not in p
                   for p in classification_predictions):
                return {"predictions": sv.Detections.empty()}
            by_parent = {p[PARENT_ID_KEY]: leading_class(p, fallback_class_name, fallback_class_id)
                         for p in classification_predictions if p is not None}
            leading = [by_parent.get(detection_id) for detection_id in detections.data[DETECTION_ID_KEY]]
        keep = [index for index, item in enumerate(leading) if item is not None]
        if not keep:
            return {"predictions": sv.Detections.empty()}
        chosen = pick(detections, np.array(keep))
        rows = [leading[index] for index in keep]
        chosen.class_id = np.array([row[1] for row in rows if row is not None])
        chosen.confidence = np.array([row[2] for row in rows if row is not None], dtype=float)
        chosen.data[CLASS_NAME_KEY] = np.array([row[0] for row in rows if row is not None])
        chosen.data[DETECTION_ID_KEY] = np.array([str(uuid.uuid4()) for _ in rows])
        return {"predictions": chosen}


def _fallback(name: str | None, class_id: Any) -> Leading | None:
    """The fallback class (id ``sys.maxsize`` when none or a negative one is given), when a name is set."""
    if not name:
        return None
    try:
        number = int(class_id)
    except (TypeError, ValueError):
        number = -1
    return name, number if number >= 0 else sys.maxsize, 0.0


def leading_class(prediction: Any, fallback_name: str | None, fallback_id: Any) -> Leading | None:
    """The predicted class of one classification (single- or multi-label) or string answer."""
    if isinstance(prediction, str):
        return prediction, 0, 1.0
    if isinstance(prediction, list):
        if not prediction:
            return _fallback(fallback_name, fallback_id)
        return (prediction[0], 0, 1.0) if isinstance(prediction[0], str) else None
    if not isinstance(prediction, dict):
        raise InvalidInputError(f"a classification prediction is a dict or a string, not {type(prediction).__name__}")
    if "top" in prediction:
        if not prediction.get("predictions"):
            return _fallback(fallback_name, fallback_id)
        matches = [(p["class_id"], p["confidence"]) for p in prediction["predictions"] if p["class"] == prediction["top"]]
        if len(matches) != 1:
            raise InvalidInputError(f"could not resolve the class id of the top class {prediction['top']!r}")
        return prediction["top"], int(matches[0][0]), float(matches[0][1])
    if not prediction.get("predicted_classes"):
        return None
    best = max(prediction["predictions"].items(), key=lambda item: item[1]["confidence"], default=None)
    if best is None or not best[1]["confidence"]:
        return None
    return best[0], int(best[1]["class_id"]), float(best[1]["confidence"])
