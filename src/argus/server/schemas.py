"""Request bodies of the Roboflow Inference protocol (field names and defaults of the reference)."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from argus.errors import InvalidInputError


class ImageObject(BaseModel):
    """``{"type": "base64" | "url" | "numpy", "value": ...}``."""

    model_config = ConfigDict(extra="ignore")

    type: str
    value: Any = None


ImageField = ImageObject | list[ImageObject] | str


class ImagesRequest(BaseModel):
    """A request with an ``image`` field holding one image object or a list of them."""

    model_config = ConfigDict(extra="ignore", protected_namespaces=())

    image: ImageField

    def images(self) -> list[Any]:
        """The image objects as a list (a single one becomes a list of one)."""
        return list(self.image) if isinstance(self.image, list) else [self.image]

    def image_dicts(self) -> list[Any]:
        """Image objects as plain dicts/strings for the resolver."""
        return [i.model_dump() if isinstance(i, ImageObject) else i for i in self.images()]

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
        return [v.model_dump() if isinstance(v, ImageObject) else v for v in values]

    def subject_value(self) -> Any:
        """The subject as a wire image (dict) or a string."""
        return self.subject.model_dump() if isinstance(self.subject, ImageObject) else self.subject


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
