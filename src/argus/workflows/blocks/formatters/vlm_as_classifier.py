# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""VLM as Classifier (v1, v2): a language model's JSON answer turned into a classification prediction.

``{"class_name", "confidence"}`` becomes a single-label result over ``classes`` (a class the model named but the
list lacks gets id -1); ``{"predicted_classes": [{"class", "confidence"}, ...]}`` (or a bare list of such entries)
becomes a multi-label result. Anything unreadable is ``error_status: true`` with no prediction, as the reference.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any, Literal

from argus.workflows.blocks.base import Block, BlockManifest, OutputDefinition, Selector, block_config
from argus.workflows.blocks.formatters.vlm_json import coerce_classification_payload, confidence, extract_json_payload
from argus.workflows.data import WorkflowImageData
from argus.workflows.kinds import (
    BOOLEAN_KIND,
    CLASSIFICATION_PREDICTION_KIND,
    IMAGE_KIND,
    INFERENCE_ID_KIND,
    LANGUAGE_MODEL_OUTPUT_KIND,
    LIST_OF_VALUES_KIND,
    STRING_KIND,
)

logger = logging.getLogger(__name__)


class VLMAsClassifierManifest(BlockManifest):
    model_config = block_config(name="VLM As Classifier", category="formatter", version="v1",
                                description="Parse a language model's answer into a classification.")
    type: Literal["roboflow_core/vlm_as_classifier@v1"]
    image: Selector(kind=[IMAGE_KIND])
    vlm_output: Selector(kind=[LANGUAGE_MODEL_OUTPUT_KIND])
    classes: Selector(kind=[LIST_OF_VALUES_KIND]) | list[str]

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="error_status", kind=[BOOLEAN_KIND]),
                OutputDefinition(name="predictions", kind=[CLASSIFICATION_PREDICTION_KIND]),
                OutputDefinition(name="inference_id", kind=[STRING_KIND])]


class VLMAsClassifierV2Manifest(VLMAsClassifierManifest):
    model_config = block_config(name="VLM As Classifier", category="formatter", version="v2",
                                description="Parse a language model's answer into a classification.")
    type: Literal["roboflow_core/vlm_as_classifier@v2"]  # type: ignore[assignment]

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [*super().describe_outputs()[:2], OutputDefinition(name="inference_id", kind=[INFERENCE_ID_KIND])]


def classification_from_vlm(image: WorkflowImageData, vlm_output: Any, classes: list[str], inference_id: str
                            ) -> dict[str, Any] | None:
    """The classification the model's answer describes, in the reference's shape; None if it describes none."""
    error, payload = extract_json_payload(vlm_output)
    parsed = None if error else coerce_classification_payload(payload)
    if parsed is None:
        return None
    height, width = image.numpy_image.shape[:2]
    ids = {name: i for i, name in enumerate(classes)}
    common = {"image": {"width": width, "height": height}, "inference_id": inference_id,
              "parent_id": image.parent_metadata.parent_id}
    try:
        if "class_name" in parsed and "confidence" in parsed:
            top, top_confidence = parsed["class_name"], confidence(parsed["confidence"])
            rows = [] if top in ids else [{"class": top, "class_id": -1, "confidence": top_confidence}]
            rows += [{"class": name, "class_id": i, "confidence": top_confidence if name == top else 0.0}
                     for name, i in ids.items()]
            return {**common, "predictions": rows, "top": top, "confidence": top_confidence}
        if "predicted_classes" in parsed:
            found: dict[str, float] = {}
            for entry in parsed["predicted_classes"]:
                ids.setdefault(entry["class"], -1)
                found[entry["class"]] = max(found.get(entry["class"], 0.0), confidence(entry["confidence"]))
            return {**common, "predictions": {name: {"confidence": found.get(name, 0.0), "class_id": i}
                                              for name, i in ids.items()},
                    "predicted_classes": list(found)}
    except (KeyError, TypeError, ValueError) as exc:  # the JSON has the wrong shape: an error status, as the reference
        logger.warning("could not read a classification from the model's answer: %r", exc)
    return None


class VLMAsClassifierBlockV1(Block):
    manifest_class = VLMAsClassifierManifest

    def run(self, image: WorkflowImageData, vlm_output: Any, classes: list[str]) -> dict[str, Any]:
        inference_id = str(uuid.uuid4())
        prediction = classification_from_vlm(image, vlm_output, [str(c) for c in classes or []], inference_id)
        return {"error_status": prediction is None, "predictions": prediction, "inference_id": inference_id}


class VLMAsClassifierBlockV2(VLMAsClassifierBlockV1):
    manifest_class = VLMAsClassifierV2Manifest  # type: ignore[assignment]  # (v2 differs only in an output kind)
