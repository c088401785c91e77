# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""VLM as Detector v1: a language model's answer turned into object detections, as the reference reads it.

Gemini and Claude answers are JSON boxes (``box_2d`` as y/x on a 0-1000 grid, or ``x_min``… as fractions of the
image) with a class and an optional confidence; Florence-2 answers go through supervision's ``from_vlm`` for the
task's prompt. An unreadable answer is ``error_status: true`` with no predictions. (v2 reads several more model
families' formats; it is not implemented yet.)
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from typing import Any, Literal

import numpy as np
import supervision as sv
from pydantic import model_validator

from argus.workflows.blocks.base import Block, BlockManifest, OutputDefinition, Selector, block_config
from argus.workflows.blocks.formatters.vlm_json import confidence, extract_json_payload
from argus.workflows.data import (
    CLASS_NAME_KEY,
    INFERENCE_ID_KEY,
    PREDICTION_TYPE_KEY,
    WorkflowImageData,
    attach_lineage,
)
from argus.workflows.kinds import (
    BOOLEAN_KIND,
    IMAGE_KIND,
    LANGUAGE_MODEL_OUTPUT_KIND,
    LIST_OF_VALUES_KIND,
    OBJECT_DETECTION_PREDICTION_KIND,
    STRING_KIND,
)

logger = logging.getLogger(__name__)
TASKS = ("object-detection", "object-detection-and-caption", "open-vocabulary-object-detection",
         "phrase-grounded-object-detection", "region-proposal", "ocr-with-text-detection")
FLORENCE_PROMPTS = {"object-detection": "<OD>", "open-vocabulary-object-detection": "<OPEN_VOCABULARY_DETECTION>",
                    "object-detection-and-caption": "<DENSE_REGION_CAPTION>",
                    "phrase-grounded-object-detection": "<CAPTION_TO_PHRASE_GROUNDING>",
                    "region-proposal": "<REGION_PROPOSAL>", "ocr-with-text-detection": "<OCR_WITH_REGION>"}
GRID = 1000.0


class VLMAsDetectorManifest(BlockManifest):
    model_config = block_config(name="VLM As Detector", category="formatter", version="v1",
                                description="Parse a language model's answer into object detections.")
    type: Literal["roboflow_core/vlm_as_detector@v1"]
    image: Selector(kind=[IMAGE_KIND])
    vlm_output: Selector(kind=[LANGUAGE_MODEL_OUTPUT_KIND])
    classes: Selector(kind=[LIST_OF_VALUES_KIND]) | list[str] | None
    model_type: Literal["google-gemini", "anthropic-claude", "florence-2"]
    task_type: Literal[TASKS]  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _supported(self) -> VLMAsDetectorManifest:
        if self.model_type != "florence-2" and self.task_type != "object-detection":
            raise ValueError(f"Could not parse result of task {self.task_type} for model {self.model_type}")
        if self.model_type != "florence-2" and self.classes is None:
            raise ValueError("Must pass list of classes to this block when using gemini or claude")
        return self

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="error_status", kind=[BOOLEAN_KIND]),
                OutputDefinition(name="predictions", kind=[OBJECT_DETECTION_PREDICTION_KIND]),
                OutputDefinition(name="inference_id", kind=[STRING_KIND])]


def _finish(detections: sv.Detections, image: WorkflowImageData, inference_id: str) -> sv.Detections:
    n = len(detections)
    detections.data[INFERENCE_ID_KEY] = np.array([inference_id] * n)
    detections.data[PREDICTION_TYPE_KEY] = np.array(["object-detection"] * n)
    return attach_lineage(detections, image)


def gemini_detections(image: WorkflowImageData, parsed: Any, classes: list[str], inference_id: str) -> sv.Detections:
    """Boxes from a Gemini/Claude-style answer: a list, or ``{"detections": [...]}``."""
    entries = parsed if isinstance(parsed, list) else parsed["detections"] if isinstance(parsed, dict) \
        and "detections" in parsed else None
    if entries is None:
        raise ValueError("unexpected detection response format")
    height, width = image.numpy_image.shape[:2]
    ids = {name: i for i, name in enumerate(classes)}
    boxes, names, confidences = [], [], []
    for entry in entries:
        if "box_2d" in entry:
            y1, x1, y2, x2 = entry["box_2d"]
            boxes.append([x1 / GRID * width, y1 / GRID * height, x2 / GRID * width, y2 / GRID * height])
        else:
            boxes.append([entry["x_min"] * width, entry["y_min"] * height, entry["x_max"] * width,
                          entry["y_max"] * height])
        names.append(next((str(entry[k]) for k in ("class_name", "label", "class") if entry.get(k) is not None),
                          "unknown"))
        confidences.append(confidence(entry.get("confidence", 1.0)))
    n = len(boxes)
    detections = sv.Detections(
        xyxy=np.array(boxes, dtype=float).round(0).reshape(n, 4), confidence=np.array(confidences, dtype=float),
        class_id=np.array([ids.get(name, -1) for name in names], dtype=int),
        data={CLASS_NAME_KEY: np.array(names, dtype=str)})
    return _finish(detections, image, inference_id)


def _class_number(name: str) -> int:
    """The reference's stable id of a free-form Florence-2 class name (from its MD5)."""
    return int(hashlib.md5(name.encode("utf-8")).hexdigest()[:9], 16) % 10_000


def florence_detections(image: WorkflowImageData, parsed: Any, classes: list[str] | None, inference_id: str,
                        task: str) -> sv.Detections:
    """Boxes from a Florence-2 answer to the task's prompt (read by supervision's ``from_vlm``)."""
    height, width = image.numpy_image.shape[:2]
    prompt = FLORENCE_PROMPTS[task]
    detections = sv.Detections.from_vlm(sv.VLM.FLORENCE_2, result={prompt: parsed}, resolution_wh=(width, height))
    names = detections.data.get(CLASS_NAME_KEY, ["unknown"] * len(detections))
    if prompt == "<REGION_PROPOSAL>":
        detections.data[CLASS_NAME_KEY] = np.array(["roi"] * len(detections))
        ids = [0] * len(detections)
    elif prompt in ("<OD>", "<CAPTION_TO_PHRASE_GROUNDING>"):
        ids = [_class_number(str(name)) for name in names]
    elif prompt == "<OPEN_VOCABULARY_DETECTION>":
        index = {name: i for i, name in enumerate(classes or [])}
        ids = [index.get(str(name), -1) for name in names]
    else:
        ids = [0] * len(detections)
    detections.class_id = np.array(ids, dtype=int)
    detections.confidence = np.ones(len(detections))
    return _finish(detections, image, inference_id)


class VLMAsDetectorBlockV1(Block):
    manifest_class = VLMAsDetectorManifest

    def run(self, image: WorkflowImageData, vlm_output: Any, classes: list[str] | None, model_type: str,
            task_type: str) -> dict[str, Any]:
        inference_id = str(uuid.uuid4())
        error, parsed = extract_json_payload(vlm_output)
        if error:
            return {"error_status": True, "predictions": None, "inference_id": inference_id}
        try:
            if model_type == "florence-2":
                predictions = florence_detections(image, parsed, classes, inference_id, task_type)
            else:
                predictions = gemini_detections(image, parsed, [str(c) for c in classes or []], inference_id)
        except (KeyError, TypeError, ValueError, IndexError) as exc:  # a readable answer of the wrong shape
            logger.warning("could not read detections from the model's answer: %r", exc)
            return {"error_status": True, "predictions": None, "inference_id": inference_id}
        return {"error_status": False, "predictions": predictions, "inference_id": inference_id}
