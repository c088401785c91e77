"""Request bodies of the Roboflow Inference protocol (field names and defaults of the reference)."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from argus.errors import InvalidInputError


class ImageObject(BaseModel):
    """``{"type": "base64" | "url" | "numpy", "value": ...}``."""

    model_config = ConfigDict(extra="ignore")

    type: str
    value: Any = None


ImageField = ImageObject | list[ImageObject] | str


MAX_PROMPT_POINTS = 64
"""Points one SAM prompt may carry (SAM's own tools use a handful)."""
MAX_EXAMPLE_BOXES = 256
"""Boxes one OWL example image may carry (each is matched against every patch)."""


def wire_image(value: Any) -> Any:
    """An image field as the resolver reads it: an image object as a dict, anything else as it came."""
    return value.model_dump() if isinstance(value, ImageObject) else value


class ImagesRequest(BaseModel):
    """A request with an ``image`` field holding one image object or a list of them."""

    model_config = ConfigDict(extra="ignore", protected_namespaces=())

    image: ImageField

    def images(self) -> list[Any]:
        """The image objects as a list (a single one becomes a list of one)."""
        return list(self.image) if isinstance(self.image, list) else [self.image]

    def image_dicts(self) -> list[Any]:
        """Image objects as plain dicts/strings for the resolver."""
        return [wire_image(i) for i in self.images()]

    @property
    def is_batch(self) -> bool:
        """True when ``image`` was a list (the response is then a list)."""
        return isinstance(self.image, list)


class BaseInferenceRequest(ImagesRequest):
    """Fields every inference request carries."""

    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    api_key: str | None = None
    usage_billable: bool = True
    start: float | None = None
    source: str | None = None
    source_info: str | None = None
    disable_model_monitoring: bool = False
    model_id: str
    model_type: str | None = None
    disable_preproc_auto_orient: bool = False
    disable_preproc_contrast: bool = False
    disable_preproc_grayscale: bool = False
    disable_preproc_static_crop: bool = False
    disable_active_learning: bool = False
    active_learning_target_dataset: str | None = None


class ObjectDetectionRequest(BaseInferenceRequest):
    """``ObjectDetectionInferenceRequest``."""

    class_agnostic_nms: bool | None = False
    class_filter: list[str] | None = None
    confidence: float | str | None = 0.4
    fix_batch_size: bool = False
    iou_threshold: float | None = 0.3
    max_detections: int | None = 300
    max_candidates: int | None = 3000
    visualization_labels: bool | None = False
    visualization_stroke_width: int | None = Field(default=1, ge=0, le=100)
    visualize_predictions: bool = False


class InstanceSegmentationRequest(ObjectDetectionRequest):
    """``InstanceSegmentationInferenceRequest``."""

    mask_decode_mode: Literal["accurate", "fast", "tradeoff"] | None = "accurate"
    tradeoff_factor: float | None = 0.0
    response_mask_format: Literal["polygon", "rle"] | None = "polygon"
    enforce_dense_masks_in_inference_models: bool = False


class KeypointsDetectionRequest(ObjectDetectionRequest):
    """``KeypointsDetectionInferenceRequest``."""

    keypoint_confidence: float | None = 0.0


class ClassificationRequest(BaseInferenceRequest):
    """``ClassificationInferenceRequest``."""

    confidence: float | str | None = 0.4
    visualization_stroke_width: int | None = Field(default=1, ge=0, le=100)
    visualize_predictions: bool = False


class AddModelRequest(BaseModel):
    """``/model/add`` body."""

    model_config = ConfigDict(extra="ignore", protected_namespaces=())

    model_id: str
    model_type: str | None = None
    api_key: str | None = None


class ClearModelRequest(BaseModel):
    """``/model/remove`` body."""

    model_config = ConfigDict(extra="ignore", protected_namespaces=())

    model_id: str


class PpOcrRequest(ImagesRequest):
    """``PPOCRInferenceRequest``: an omitted stage means the reference's default, an explicit null skips it."""

    api_key: str | None = None
    model_id: str | None = None
    text_detection: str | None = None
    text_recognition: str | None = None
    pp_ocr_version_id: str | None = None

    def given(self) -> dict[str, Any]:
        """The fields the client sent (so an omitted stage and an explicit null differ)."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class ClipRequest(BaseModel):
    """What every CLIP request carries: the model, by ``clip_version_id`` (``clip/<it>``) or ``model_id``."""

    model_config = ConfigDict(extra="ignore", protected_namespaces=())

    api_key: str | None = None
    model_id: str | None = None
    clip_version_id: str | None = None

    def clip_model(self, default: str) -> str:
        """The store id: ``model_id``, else ``clip/<clip_version_id>``, else the server's default CLIP model."""
        if self.model_id:
            return self.model_id
        return f"clip/{self.clip_version_id}" if self.clip_version_id else default


class ClipImageEmbeddingRequest(ClipRequest, ImagesRequest):
    """``ClipImageEmbeddingRequest``."""


class ClipTextEmbeddingRequest(ClipRequest):
    """``ClipTextEmbeddingRequest``."""

    text: str | list[str]

    def texts(self) -> list[str]:
        """The prompts as a list."""
        return list(self.text) if isinstance(self.text, list) else [self.text]


ClipPrompt = list[ImageObject] | ImageObject | str | list[str] | dict[str, ImageObject | str]


class ClipCompareRequest(ClipRequest):
    """``ClipCompareRequest``: one subject against prompts given as one, a list, or a dict of named ones."""

    subject: ImageObject | str
    subject_type: str = "image"
    prompt: ClipPrompt
    prompt_type: str = "text"

    def prompts(self) -> list[Any]:
        """The prompts as a list of wire images (dicts) or strings, in order."""
        values = list(self.prompt.values()) if isinstance(self.prompt, dict) else (
            list(self.prompt) if isinstance(self.prompt, list) else [self.prompt])
        return [wire_image(v) for v in values]

    def subject_value(self) -> Any:
        """The subject as a wire image (dict) or a string."""
        return wire_image(self.subject)


class DepthEstimationRequest(ImagesRequest):
    """``DepthEstimationRequest``: ``model_id``, else ``depth-anything-v2/<depth_version_id>``, else the default."""

    api_key: str | None = None
    model_id: str | None = None
    depth_version_id: str | None = None
    depth_map_format: Literal["json", "png16", "png8"] = "json"

    def depth_model(self, default: str, path_model_id: str | None = None) -> str:
        """The store id, with the path's model id winning (a different one in the body is a 400)."""
        if path_model_id is not None:
            if self.model_id and self.model_id != path_model_id:
                raise InvalidInputError(f"Model ID mismatch: the path names '{path_model_id[:100]}' but the body "
                                        f"names '{self.model_id[:100]}'.")
            return path_model_id
        if self.model_id:
            return self.model_id
        return f"depth-anything-v2/{self.depth_version_id}" if self.depth_version_id else default


class SamPoint(BaseModel):
    """A SAM 2 prompt point in image pixels."""

    x: float
    y: float
    positive: bool = True


class SamBox(BaseModel):
    """A SAM 2 prompt box: centre x, y and size, in image pixels."""

    x: float
    y: float
    width: float
    height: float


class SamPrompt(BaseModel):
    """One SAM 2 prompt: a box and / or points."""

    box: SamBox | None = None
    points: list[SamPoint] | None = Field(default=None, max_length=MAX_PROMPT_POINTS)


class SamImageRequest(BaseModel):
    """What the SAM and SAM 2 requests share: the image (or the id of its cached embedding) and the model."""

    model_config = ConfigDict(extra="ignore", protected_namespaces=())

    api_key: str | None = None
    model_id: str | None = None
    image: ImageObject | str | None = None
    image_id: str | None = None

    def image_value(self) -> Any:
        """The image as a wire dict or string, or None."""
        return wire_image(self.image)

    def store_id(self, default: str, family: str, version: str | None) -> str:
        """``model_id``, else ``<family>/<version>``, else the server's default."""
        if self.model_id:
            return self.model_id
        return f"{family}/{version}" if version else default


class Sam2Request(SamImageRequest):
    """Fields of the ``/sam2/*`` requests: the model is ``model_id``, else ``sam2/<sam2_version_id>``."""

    sam2_version_id: str | None = None

    def sam_model(self, default: str) -> str:
        """The store id."""
        return self.store_id(default, "sam2", self.sam2_version_id)


class Sam2SegmentationRequest(Sam2Request):
    """``Sam2SegmentationRequest``: prompts as ``{"prompts": [...]}``, a flat list, or one prompt."""

    prompts: list[SamPrompt] = Field(default_factory=list)
    multimask_output: bool = True
    format: Literal["json", "rle", "binary"] = "json"
    save_logits_to_cache: bool = False
    load_logits_from_cache: bool = False

    @field_validator("prompts", mode="before")
    @classmethod
    def _flatten(cls, value: Any) -> Any:
        """The reference's accepted shapes, as a list of prompts."""
        if value is None:
            return []
        if isinstance(value, dict):
            return value.get("prompts") or [] if "prompts" in value else [value]
        return value


class SamRequest(SamImageRequest):
    """Fields of the ``/sam/*`` requests: the model is ``model_id``, else ``sam/<sam_version_id>``."""

    sam_version_id: str | None = None
    format: Literal["json", "binary"] = "json"

    def sam_model(self, default: str) -> str:
        """The store id."""
        return self.store_id(default, "sam", self.sam_version_id)


class SamSegmentationRequest(SamRequest):
    """``SamSegmentationRequest``: one prompt of points (label 1 foreground, 0 background, -1 none)."""

    embeddings: Any = None
    point_coords: list[list[float]] | None = Field(default=None, max_length=MAX_PROMPT_POINTS)
    point_labels: list[Literal[-1, 0, 1]] | None = Field(default=None, max_length=MAX_PROMPT_POINTS)


class TrainBox(BaseModel):
    """An example box: centre and size in pixels, its class, and whether it is a counter-example."""

    model_config = ConfigDict(allow_inf_nan=False)  # a NaN or infinite box matches nothing, silently

    x: float
    y: float
    w: float = Field(ge=0)
    h: float = Field(ge=0)
    cls: str = Field(min_length=1, max_length=200)
    negative: bool = False


class TrainingImage(BaseModel):
    """An example image and the boxes drawn on it."""

    image: ImageObject | str
    boxes: list[TrainBox] = Field(max_length=MAX_EXAMPLE_BOXES)

    def image_value(self) -> Any:
        """The image as a wire dict or string."""
        return wire_image(self.image)


class OwlRequest(ImagesRequest):
    """``OwlV2InferenceRequest`` (image-guided, by ``training_data``) plus ``text``: classes to find by name."""

    api_key: str | None = None
    model_id: str | None = None
    owlv2_version_id: str | None = None
    text: list[str] | None = None
    training_data: list[TrainingImage] | None = None
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    iou_threshold: float | None = Field(default=0.3, ge=0.0, le=1.0)

    def owl_model(self, default: str) -> str:
        """``model_id``, else ``owlv2/<owlv2_version_id>``, else the server's default."""
        if self.model_id:
            return self.model_id
        return f"owlv2/{self.owlv2_version_id}" if self.owlv2_version_id else default
