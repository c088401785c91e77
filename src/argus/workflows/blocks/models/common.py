# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""What the Roboflow model blocks share: manifest fields, batched inference through the ModelManager."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import AliasChoices, Field, model_validator

from argus.core.predictions import ClassificationResult, DetectionResult
from argus.errors import InvalidInputError, ServerError
from argus.workflows.blocks.base import (
    Block,
    BlockManifest,
    Element,
    FloatZeroToOne,
    ImageSelector,
    OutputDefinition,
    PositiveInt,
    Selector,
)
from argus.workflows.data import (
    PARENT_ID_KEY,
    ROOT_PARENT_ID_KEY,
    WorkflowImageData,
    detections_from_result,
)
from argus.workflows.kinds import (
    BOOLEAN_KIND,
    FLOAT_ZERO_TO_ONE_KIND,
    INFERENCE_ID_KIND,
    INTEGER_KIND,
    LIST_OF_VALUES_KIND,
    ROBOFLOW_MODEL_ID_KIND,
    ROBOFLOW_PROJECT_KIND,
    STRING_KIND,
    Kind,
)

PARAMETER_NAMES = ("confidence", "iou_threshold", "class_agnostic_nms", "class_filter", "max_detections",
                   "max_candidates", "keypoint_confidence", "mask_decode_mode")


class ModelManifest(BlockManifest):
    """Fields every Roboflow model block has."""

    images: ImageSelector() = Field(validation_alias=AliasChoices("images", "image"),
                                    description="The image to infer on")
    model_id: str | Selector(kind=[ROBOFLOW_MODEL_ID_KIND]) = Field(description="Model id (store id or zoo alias)")
    confidence: FloatZeroToOne | Selector(kind=[FLOAT_ZERO_TO_ONE_KIND]) | None = 0.4
    disable_active_learning: bool | Selector(kind=[BOOLEAN_KIND]) = True
    active_learning_target_dataset: Selector(kind=[ROBOFLOW_PROJECT_KIND]) | str | None = None

    prediction_kind: ClassVar[Kind]

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="inference_id", kind=[INFERENCE_ID_KIND]),
                OutputDefinition(name="predictions", kind=[cls.prediction_kind])]


class DetectionModelManifest(ModelManifest):
    """Fields of the detection-type model blocks."""

    class_agnostic_nms: bool | Selector(kind=[BOOLEAN_KIND]) | None = False
    class_filter: list[str] | Selector(kind=[LIST_OF_VALUES_KIND]) | None = None
    iou_threshold: FloatZeroToOne | Selector(kind=[FLOAT_ZERO_TO_ONE_KIND]) | None = 0.3
    max_detections: PositiveInt | Selector(kind=[INTEGER_KIND]) | None = 300
    max_candidates: PositiveInt | Selector(kind=[INTEGER_KIND]) | None = 3000


def _frozen(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


class ConfidenceMode(BlockManifest):
    """v3's confidence fields (mixed into a v2 manifest): ``best`` and ``default`` use the model's own threshold,
    ``custom`` uses ``custom_confidence``. v3 has no ``confidence`` field; one sent anyway is ignored, as there."""

    confidence_mode: str | Selector(kind=[STRING_KIND]) = "best"
    custom_confidence: FloatZeroToOne | Selector(kind=[FLOAT_ZERO_TO_ONE_KIND]) | None = 0.4
    allowed_modes: ClassVar[tuple[str, ...]] = ("best", "default", "custom")

    @model_validator(mode="after")
    def _custom_needs_a_value(self) -> ConfidenceMode:
        mode = self.confidence_mode
        if isinstance(mode, str) and not mode.startswith("$") and mode not in self.allowed_modes:
            raise ValueError(f"confidence_mode must be one of {', '.join(self.allowed_modes)}, not {mode!r}")
        if mode == "custom" and self.custom_confidence is None:
            raise ValueError("`custom_confidence` is required when `confidence_mode` is 'custom'")
        return self


class DefaultConfidenceMode(ConfidenceMode):
    """The classifiers' and keypoint detectors' v3 fields: ``default`` or ``custom`` (no ``best``)."""

    confidence_mode: str | Selector(kind=[STRING_KIND]) = "default"
    allowed_modes: ClassVar[tuple[str, ...]] = ("default", "custom")


def confidence_from_mode(kwargs: dict[str, Any]) -> dict[str, Any]:
    """A v3 step's inputs with ``confidence`` derived from ``confidence_mode`` (None: the model's threshold)."""
    out = dict(kwargs)
    mode = out.pop("confidence_mode", "best")
    custom = out.pop("custom_confidence", None)
    out.pop("enforce_dense_masks_in_inference_models", None)  # a switch of the reference's own backend
    out["confidence"] = custom if mode == "custom" else None
    return out


class ModelBlock(Block):
    """Runs the step's model on every image of the batch, grouping images that share parameters."""

    tasks: ClassVar[tuple[str, ...]]
    prediction_type: ClassVar[str]

    def run(self, **kwargs: Any) -> dict[str, Any]:
        return self.run_batch([Element(kwargs)])[0]  # type: ignore[return-value]

    confidence_modes: ClassVar[bool] = False
    """v3 blocks: the confidence comes from ``confidence_mode`` / ``custom_confidence``."""

    def run_batch(self, elements: list[Element]) -> list[Any]:
        if self.confidence_modes:
            elements = [Element(confidence_from_mode(e.kwargs), e.index, e.video_metadata, e.disable_sinks)
                        for e in elements]
        groups: dict[tuple[Any, ...], list[int]] = {}
        for position, element in enumerate(elements):
            kwargs = element.kwargs
            key = (kwargs["model_id"],) + tuple(_frozen(kwargs.get(name)) for name in PARAMETER_NAMES)
            groups.setdefault(key, []).append(position)
        results: list[Any] = [None] * len(elements)
        for key, positions in groups.items():
            params = {name: value for name, value in zip(PARAMETER_NAMES, key[1:]) if value is not None}
            images = [elements[p].kwargs["images"] for p in positions]
            for position, output in zip(positions, self._infer(str(key[0]), images, params)):
                results[position] = output
        return results

    def _infer(self, model_id: str, images: Sequence[WorkflowImageData], params: dict[str, Any]) -> list[Any]:
        for image in images:
            if not isinstance(image, WorkflowImageData):
                raise InvalidInputError(f"field 'images' needs an image, got {type(image).__name__}; wire it to a "
                                        "WorkflowImage input or a step's image output")
        manager = self.context.manager
        if manager is None:
            raise ServerError("this workflow runs without a model manager; model blocks cannot run")
        model = manager.get(model_id)
        if model.task.value not in self.tasks:
            raise InvalidInputError(f"model '{model_id}' is a {model.task.value} model; this block "
                                    f"({self.step.type}) needs a {' or '.join(self.tasks)} model.")
        if "class_filter" in params:
            params["class_filter"] = list(params["class_filter"])
        predictions = model.infer_arrays([image.numpy_image for image in images], model.params(**params))
        return [self.to_output(prediction, image) for prediction, image in zip(predictions, images)]

    def to_output(self, prediction: Any, image: WorkflowImageData) -> dict[str, Any]:
        """The block's outputs for one image."""
        if isinstance(prediction, DetectionResult):
            detections = detections_from_result(prediction, image, self.prediction_type)
            return {"inference_id": prediction.inference_id, "predictions": detections}
        assert isinstance(prediction, ClassificationResult)
        body = prediction.to_roboflow()
        body["prediction_type"] = self.prediction_type
        body[PARENT_ID_KEY] = image.parent_metadata.parent_id
        body[ROOT_PARENT_ID_KEY] = image.workflow_root_ancestor_metadata.parent_id
        return {"inference_id": prediction.inference_id, "predictions": body}
