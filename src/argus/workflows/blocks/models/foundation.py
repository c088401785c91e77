# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Foundation-model blocks: OCR (``ocr_model``, ``pp_ocr``), CLIP embeddings (``clip``) and comparisons
(``clip_comparison`` v1 and v2), depth (``depth_estimation``), on the ModelManager the HTTP routes use.

Where the reference names a model version the step's field picks ``pp_ocr/{det}-{rec}`` or ``clip/{version}``;
left out, the server's default model runs (``ARGUS_OCR_MODEL``, ``ARGUS_CLIP_MODEL``). The reference's
``ocr_model`` block runs DocTR, which Argus does not have: here it runs the server's OCR model.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar, Literal, TypeVar

import cv2
import numpy as np
import supervision as sv
from pydantic import AliasChoices, Field

from argus.core.geometry import mask_to_polygons
from argus.errors import InvalidInputError, ServerError
from argus.models.foundation.base import FoundationModel
from argus.models.foundation.clip import ClipModel
from argus.models.foundation.depth import DepthModel, depth_picture
from argus.models.foundation.ocr import OcrModel, OcrResult
from argus.models.foundation.sam import SamModel
from argus.runtime.foundation import OcrSelection, select_ocr
from argus.workflows.blocks.base import (
    Block,
    BlockManifest,
    Element,
    ImageSelector,
    OutputDefinition,
    Selector,
    block_config,
)
from argus.workflows.data import (
    CLASS_NAME_KEY,
    DETECTION_ID_KEY,
    PARENT_ID_KEY,
    PREDICTION_TYPE_KEY,
    ROOT_PARENT_ID_KEY,
    WorkflowImageData,
    attach_lineage,
)
from argus.workflows.kinds import (
    BOOLEAN_KIND,
    BOX_DETECTION_KINDS,
    CLASSIFICATION_PREDICTION_KIND,
    EMBEDDING_KIND,
    FLOAT_KIND,
    FLOAT_ZERO_TO_ONE_KIND,
    IMAGE_KIND,
    INSTANCE_SEGMENTATION_PREDICTION_KIND,
    LIST_OF_VALUES_KIND,
    NUMPY_ARRAY_KIND,
    OBJECT_DETECTION_PREDICTION_KIND,
    PARENT_ID_KIND,
    PREDICTION_TYPE_KIND,
    STRING_KIND,
)

F = TypeVar("F", bound=FoundationModel)
OcrStage = Literal["none", "tiny", "small", "medium"]
ClipVersion = Literal["RN101", "RN50", "RN50x16", "RN50x4", "RN50x64", "ViT-B-16", "ViT-B-32", "ViT-L-14-336px",
                      "ViT-L-14"]

_OCR_OUTPUTS = [OutputDefinition(name="result", kind=[STRING_KIND]),
                OutputDefinition(name="predictions", kind=[OBJECT_DETECTION_PREDICTION_KIND]),
                OutputDefinition(name="parent_id", kind=[PARENT_ID_KIND]),
                OutputDefinition(name="root_parent_id", kind=[PARENT_ID_KIND]),
                OutputDefinition(name="prediction_type", kind=[PREDICTION_TYPE_KIND])]


class OcrManifest(BlockManifest):
    model_config = block_config(name="OCR Model", category="model",
                                description="Extract text from an image (the server's OCR model, PP-OCR).")
    type: Literal["roboflow_core/ocr_model@v1", "OCRModel"]
    images: ImageSelector() = Field(validation_alias=AliasChoices("images", "image"))

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return list(_OCR_OUTPUTS)


class PpOcrManifest(OcrManifest):
    model_config = block_config(name="PP-OCR", category="model",
                                description="Extract text from an image using PP-OCR (PaddleOCR).")
    type: Literal["roboflow_core/pp_ocr@v1"]  # type: ignore[assignment]
    text_detection: OcrStage | None = Field(default=None, description="Detection size; 'none' reads each image "
                                            "as one line; left out, the server's OCR model runs")
    text_recognition: OcrStage | None = Field(default=None, description="Recognition size; 'none' gives boxes "
                                              "without text")


class ClipManifest(BlockManifest):
    model_config = block_config(name="CLIP Embedding Model", category="model",
                                description="Generate an embedding of an image or string.")
    type: Literal["roboflow_core/clip@v1"]
    data: Selector(kind=[IMAGE_KIND, STRING_KIND]) | str = Field(description="The string or image to embed")
    version: ClipVersion | Selector(kind=[STRING_KIND]) | None = Field(
        default=None, description="CLIP variant (clip/<version> in the store); left out, ARGUS_CLIP_MODEL")

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="embedding", kind=[EMBEDDING_KIND])]


class ClipComparisonManifestV1(BlockManifest):
    model_config = block_config(name="Clip Comparison", category="model",
                                description="Compare CLIP image and text embeddings.")
    type: Literal["roboflow_core/clip_comparison@v1", "ClipComparison"]
    images: ImageSelector() = Field(validation_alias=AliasChoices("images", "image"))
    texts: Selector(kind=[LIST_OF_VALUES_KIND]) | list[str] = Field(validation_alias=AliasChoices("texts", "text"))

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="similarity", kind=[LIST_OF_VALUES_KIND]),
                OutputDefinition(name="parent_id", kind=[PARENT_ID_KIND]),
                OutputDefinition(name="root_parent_id", kind=[PARENT_ID_KIND]),
                OutputDefinition(name="prediction_type", kind=[PREDICTION_TYPE_KIND])]


class ClipComparisonManifestV2(BlockManifest):
    model_config = block_config(name="Clip Comparison", category="model",
                                description="Compare CLIP image and text embeddings.")
    type: Literal["roboflow_core/clip_comparison@v2"]
    images: ImageSelector() = Field(validation_alias=AliasChoices("images", "image"))
    classes: Selector(kind=[LIST_OF_VALUES_KIND]) | list[str] = Field(min_length=1)
    version: ClipVersion | Selector(kind=[STRING_KIND]) | None = None

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="similarities", kind=[LIST_OF_VALUES_KIND]),
                OutputDefinition(name="max_similarity", kind=[FLOAT_ZERO_TO_ONE_KIND]),
                OutputDefinition(name="most_similar_class", kind=[STRING_KIND]),
                OutputDefinition(name="min_similarity", kind=[FLOAT_ZERO_TO_ONE_KIND]),
                OutputDefinition(name="least_similar_class", kind=[STRING_KIND]),
                OutputDefinition(name="classification_predictions", kind=[CLASSIFICATION_PREDICTION_KIND]),
                OutputDefinition(name="parent_id", kind=[PARENT_ID_KIND]),
                OutputDefinition(name="root_parent_id", kind=[PARENT_ID_KIND])]


DepthVersion = Literal["depth-anything-v2/small", "depth-anything-v3/small", "depth-anything-v3/base",
                       "yolo26n-depth-768", "yolo26s-depth-768", "yolo26m-depth-768", "yolo26l-depth-768",
                       "yolo26x-depth-768"]


class DepthEstimationManifest(BlockManifest):
    model_config = block_config(name="Depth Estimation", category="model",
                                description="Predict the relative depth of every pixel (1 nearest, 0 farthest).")
    type: Literal["roboflow_core/depth_estimation@v1"]
    images: ImageSelector() = Field(validation_alias=AliasChoices("images", "image"))
    model_version: DepthVersion | Selector(kind=[STRING_KIND]) | None = Field(
        default=None, description="The depth model's store id; left out, ARGUS_DEPTH_MODEL")

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="image", kind=[IMAGE_KIND]),
                OutputDefinition(name="normalized_depth", kind=[NUMPY_ARRAY_KIND])]


SamVersion = Literal["hiera_large", "hiera_small", "hiera_tiny", "hiera_b_plus"]


class SegmentAnythingManifest(BlockManifest):
    model_config = block_config(name="Segment Anything 2 Model", category="model",
                                description="Convert bounding boxes to polygons, or run SAM2 on an entire image.")
    type: Literal["roboflow_core/segment_anything@v1"]
    images: ImageSelector() = Field(validation_alias=AliasChoices("images", "image"))
    boxes: Selector(kind=list(BOX_DETECTION_KINDS)) | None = None
    version: SamVersion | Selector(kind=[STRING_KIND]) | None = Field(
        default=None, description="sam2/<version> in the store; left out, ARGUS_SAM2_MODEL")
    threshold: float | Selector(kind=[FLOAT_KIND]) = 0.0
    multimask_output: bool | Selector(kind=[BOOLEAN_KIND]) | None = True

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="predictions", kind=[INSTANCE_SEGMENTATION_PREDICTION_KIND])]


class _FoundationBlock(Block):
    """Model access shared by the foundation blocks."""

    def _model(self, model_id: str, kind: type[F]) -> F:
        if self.context.manager is None:
            raise ServerError("this workflow runs without a model manager; model blocks cannot run")
        return self.context.manager.foundation(model_id, kind)

    def _clip(self, version: str | None) -> ClipModel:
        return self._model(f"clip/{version}" if version else self.context.settings.clip_model, ClipModel)


def _image(value: Any, field: str = "images") -> WorkflowImageData:
    if not isinstance(value, WorkflowImageData):
        raise InvalidInputError(f"field '{field}' needs an image, got {type(value).__name__}")
    return value


def _lineage(image: WorkflowImageData) -> dict[str, Any]:
    return {PARENT_ID_KEY: image.parent_metadata.parent_id,
            ROOT_PARENT_ID_KEY: image.workflow_root_ancestor_metadata.parent_id}


class OcrModelBlockV1(_FoundationBlock):
    manifest_class: ClassVar[type[BlockManifest]] = OcrManifest

    def run(self, **kwargs: Any) -> dict[str, Any]:
        return self.run_batch([Element(kwargs)])[0]  # type: ignore[return-value]

    def selection(self, kwargs: dict[str, Any]) -> OcrSelection:
        """The server's OCR model (this block has no size fields)."""
        return OcrSelection(self.context.settings.ocr_model)

    def run_batch(self, elements: list[Element]) -> list[Any]:
        outputs: list[Any] = []
        for element in elements:
            image = _image(element.kwargs["images"])
            selection = self.selection(element.kwargs)
            model = self._model(selection.model_id, OcrModel)
            result = model.read_images(1, [image.numpy_image], selection.detect, selection.recognize)[0]
            outputs.append({"result": result.text, "predictions": _ocr_detections(result, image, selection.detect),
                            PREDICTION_TYPE_KEY: "ocr", **_lineage(image)})
        return outputs


class PpOcrBlockV1(OcrModelBlockV1):
    manifest_class = PpOcrManifest

    def selection(self, kwargs: dict[str, Any]) -> OcrSelection:
        """The stage fields as ``/ocr/pp-ocr`` reads them (both left out: the server's OCR model)."""
        given = {name: kwargs[name] for name in ("text_detection", "text_recognition") if kwargs.get(name)}
        return select_ocr(given, self.context.settings.ocr_model)


def _ocr_detections(result: OcrResult, image: WorkflowImageData, boxes: bool) -> sv.Detections:
    """The lines as ``sv.Detections`` whose class names are the texts (the reference's OCR predictions)."""
    lines = result.lines if boxes else []
    if not lines:
        detections = sv.Detections.empty()
        detections.data[CLASS_NAME_KEY] = np.array([], dtype=object)
    else:
        detections = sv.Detections(xyxy=np.array([line.xyxy for line in lines], np.float32),
                                   confidence=np.array([line.box_confidence for line in lines], np.float32),
                                   class_id=np.zeros(len(lines), int))
        detections.data[CLASS_NAME_KEY] = np.array([line.text for line in lines], dtype=object)
    detections.data[DETECTION_ID_KEY] = np.array([str(uuid.uuid4()) for _ in lines], dtype=object)
    detections.data[PREDICTION_TYPE_KEY] = np.array(["ocr"] * len(lines), dtype=object)
    return attach_lineage(detections, image)


class ClipBlockV1(_FoundationBlock):
    manifest_class: ClassVar[type[BlockManifest]] = ClipManifest

    def run(self, data: Any, version: str | None = None) -> dict[str, Any]:
        model = self._clip(version)
        if isinstance(data, str):
            embedding = model.embed_texts([data])[0][0]
        else:
            embedding = model.embed_images(1, [_image(data, "data").numpy_image])[0]
        return {"embedding": [float(v) for v in embedding]}


class ClipComparisonBlockV1(_FoundationBlock):
    manifest_class: ClassVar[type[BlockManifest]] = ClipComparisonManifestV1

    def similarities(self, images: Any, prompts: Any, version: str | None) -> list[float]:
        """Cosine similarity of the image to each prompt."""
        if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) for p in prompts):
            raise InvalidInputError("the prompts must be a non-empty list of strings")
        model = self._clip(version)
        image_embedding = model.embed_images(1, [_image(images).numpy_image])[0]
        text_embeddings, _ = model.embed_texts(prompts)
        return [float(v) for v in text_embeddings @ image_embedding]

    def run(self, images: Any, texts: Any) -> dict[str, Any]:
        image = _image(images)
        return {"similarity": self.similarities(image, texts, None), PREDICTION_TYPE_KEY: "classification",
                **_lineage(image)}


class ClipComparisonBlockV2(ClipComparisonBlockV1):
    manifest_class = ClipComparisonManifestV2

    def run(self, images: Any, classes: Any, version: str | None = None) -> dict[str, Any]:  # type: ignore[override]
        image = _image(images)
        similarities = self.similarities(image, classes, version)
        best, worst = int(np.argmax(similarities)), int(np.argmin(similarities))
        classification = {
            "predictions": [{"class": name, "class_id": index, "confidence": score}
                            for index, (name, score) in enumerate(zip(classes, similarities))],
            "top": classes[best], "confidence": similarities[best], PARENT_ID_KEY: image.parent_metadata.parent_id}
        return {"similarities": similarities, "max_similarity": similarities[best], "most_similar_class": classes[best],
                "min_similarity": similarities[worst], "least_similar_class": classes[worst],
                "classification_predictions": classification, **_lineage(image)}


class DepthEstimationBlockV1(_FoundationBlock):
    manifest_class: ClassVar[type[BlockManifest]] = DepthEstimationManifest

    def run(self, images: Any, model_version: str | None = None) -> dict[str, Any]:
        image = _image(images)
        model = self._model(model_version or self.context.settings.depth_model, DepthModel)
        depth = model.estimate(1, [image.numpy_image])[0]
        return {"image": image.with_image(depth_picture(depth)), "normalized_depth": depth}


class SegmentAnythingBlockV1(_FoundationBlock):
    """SAM prompted by each detection's box (or, without detections, one empty prompt), one instance per outline
    of each mask, classed as the box that prompted it (``foreground`` without boxes), as the reference."""

    manifest_class: ClassVar[type[BlockManifest]] = SegmentAnythingManifest

    def run(self, images: Any, boxes: sv.Detections | None = None, version: str | None = None,
            threshold: float = 0.0, multimask_output: bool | None = True) -> dict[str, Any]:
        image = _image(images)
        model = self._model(f"sam2/{version}" if version else self.context.settings.sam2_model, SamModel)
        prompts: list[tuple[tuple[float, float, float, float] | None, str, int]]
        if boxes is not None and len(boxes):
            names = boxes.data.get(CLASS_NAME_KEY, np.array([""] * len(boxes), dtype=object))
            class_ids = boxes.class_id if boxes.class_id is not None else np.zeros(len(boxes), int)
            prompts = [((float(x1), float(y1), float(x2), float(y2)), str(name), int(class_id))
                       for (x1, y1, x2, y2), name, class_id in zip(boxes.xyxy, names, class_ids)]
        else:
            prompts = [(None, "foreground", 0)]
        _, embedding = model.embed(image.numpy_image)
        rows: list[tuple[np.ndarray, np.ndarray, float, str, int]] = []
        with model.admitted(len(prompts)):
            for box, name, class_id in prompts:
                result = model.segment(embedding, [], [], box)
                if result.score < threshold:
                    continue
                for polygon in mask_to_polygons(result.mask):
                    if len(polygon) < 3:
                        continue
                    mask = np.zeros(result.mask.shape, np.uint8)
                    cv2.fillPoly(mask, [polygon.astype(np.int32)], 1)
                    corners = np.array([*polygon.min(axis=0), *polygon.max(axis=0)], np.float32)
                    rows.append((corners, mask.astype(bool), result.score, name, class_id))
        return {"predictions": _instances(rows, image)}


def _instances(rows: list[tuple[np.ndarray, np.ndarray, float, str, int]], image: WorkflowImageData
               ) -> sv.Detections:
    """Instance-segmentation ``sv.Detections`` from (box, mask, score, class name, class id) rows."""
    if not rows:
        detections = sv.Detections.empty()
        detections.data[CLASS_NAME_KEY] = np.array([], dtype=object)
    else:
        detections = sv.Detections(xyxy=np.stack([r[0] for r in rows]), mask=np.stack([r[1] for r in rows]),
                                   confidence=np.array([r[2] for r in rows], np.float32),
                                   class_id=np.array([r[4] for r in rows], int))
        detections.data[CLASS_NAME_KEY] = np.array([r[3] for r in rows], dtype=object)
    detections.data[DETECTION_ID_KEY] = np.array([str(uuid.uuid4()) for _ in rows], dtype=object)
    detections.data[PREDICTION_TYPE_KEY] = np.array(["instance-segmentation"] * len(rows), dtype=object)
    return attach_lineage(detections, image)
