"""FoundationService: requests to the foundation models (OCR, CLIP, SAM, depth), protocol-free.

Each request goes the detectors' way: the model comes from the ModelManager (LRU, memory budget, zoo on first
use), its images are counted (413), admitted to the model's queue (503), read without decoding and checked
against the request's pixel share (413), decoded one at a time inside the server's decoded-memory budget,
and reported to the metrics as an :class:`InferenceRecord`.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import cv2
import numpy as np

from argus.core.images import encode_jpeg
from argus.errors import ImageTooLargeError, InvalidInputError, ModelNotFoundError, NotFoundError, ServerError
from argus.inputs.request_image import EncodedImage
from argus.models.foundation.base import FoundationModel
from argus.models.foundation.clip import ClipModel
from argus.models.foundation.depth import DepthModel, depth_picture
from argus.models.foundation.ocr import OcrModel, OcrResult
from argus.models.foundation.owl import ExampleBox, OwlDetections, OwlModel
from argus.models.foundation.sam import ImageEmbedding, SamMask, SamModel
from argus.runtime.service import InferenceService, check_image_count, read_request_images
from argus.settings import Settings

ClientGone = Callable[[], bool]
F = TypeVar("F", bound=FoundationModel)

MAX_IMAGE_ID = 256
"""Longest ``image_id`` a SAM cache key may be."""

OCR_STAGES = ("none", "tiny", "small", "medium")
"""The reference's PP-OCR stage sizes (``text_detection``, ``text_recognition``, ``pp_ocr_version_id``)."""


@dataclass(frozen=True)
class OcrSelection:
    """Which stored OCR model a request runs, and which of its stages."""

    model_id: str
    detect: bool = True
    recognize: bool = True


def select_ocr(body: dict[str, Any], default_model: str) -> OcrSelection:
    """The reference's PP-OCR model selection, read from a request body.

    ``text_detection`` / ``text_recognition`` or ``pp_ocr_version_id`` (``det-rec``, or one token for both) pick
    the stages; ``none`` skips one. With none of them, ``model_id`` (any stored OCR bundle) or else the server's
    default OCR model is used. ``pp_ocr/{det}-{rec}`` is the store id; a skipped stage uses the other stage's
    size for both (``small-none`` runs ``pp_ocr/small-small`` without recognition).
    """
    det, rec = body.get("text_detection", _UNSET), body.get("text_recognition", _UNSET)
    version = body.get("pp_ocr_version_id")
    if det is _UNSET and rec is _UNSET and not version:
        model_id = body.get("model_id")
        return OcrSelection(model_id if isinstance(model_id, str) and model_id else default_model)
    if det is _UNSET and rec is _UNSET:
        if not isinstance(version, str):
            raise InvalidInputError("'pp_ocr_version_id' must be a string such as 'tiny' or 'tiny-tiny'.")
        parts = version.lower().split("-")
        if len(parts) > 2:
            raise InvalidInputError(f"'pp_ocr_version_id' {version[:60]!r} is not 'detection-recognition' "
                                    f"(each one of {', '.join(OCR_STAGES)}).")
        det, rec = parts if len(parts) == 2 else (parts[0], parts[0])
    det, rec = _stage("text_detection", det), _stage("text_recognition", rec)
    if det == "none" and rec == "none":
        raise InvalidInputError("PP-OCR needs detection, recognition or both; both stages are 'none'.")
    det_size, rec_size = (rec, rec) if det == "none" else (det, det) if rec == "none" else (det, rec)
    return OcrSelection(f"pp_ocr/{det_size}-{rec_size}", detect=det != "none", recognize=rec != "none")


_UNSET: Any = object()


@dataclass(frozen=True)
class PointPrompt:
    """One SAM prompt: points (x, y in image pixels) with labels (1 positive, 0 negative), and / or a box
    (x1, y1, x2, y2 in pixels)."""

    points: list[tuple[float, float]]
    labels: list[int]
    box: tuple[float, float, float, float] | None = None


def _stage(field: str, value: Any) -> str:
    if value is _UNSET:
        return "small"  # the reference's default for an omitted stage
    if value is None:
        return "none"  # an explicit null disables the stage, as in the reference
    if not isinstance(value, str) or value.lower() not in OCR_STAGES:
        raise InvalidInputError(f"'{field}' must be one of {', '.join(OCR_STAGES)}, not {str(value)[:40]!r}.")
    return value.lower()


def check_prompt_count(prompts: list[Any], settings: Settings) -> None:
    """At least one prompt and at most ``max_images_per_request`` of them (400 / 413)."""
    if not prompts:
        raise InvalidInputError("No prompts were sent; send at least one text or image to compare with.")
    if len(prompts) > settings.max_images_per_request:
        raise ImageTooLargeError(f"The request carries {len(prompts)} prompts; the limit is "
                                 f"{settings.max_images_per_request} per request (ARGUS_MAX_IMAGES_PER_REQUEST).")


class FoundationService:
    """Runs foundation-model requests against the models of the inference service's manager."""

    def __init__(self, inference: InferenceService) -> None:
        self.inference = inference
        self.manager = inference.manager
        self.settings = inference.manager.settings

    def model(self, model_id: str, cls: type[F]) -> F:
        """The loaded model of class ``cls``; a missing one is a 404 that lists the stored models of its kind."""
        kind = cls.kind
        try:
            return self.manager.foundation(model_id, cls)
        except ModelNotFoundError as error:
            stored = [b.model_id for b in self.manager.repository.list_bundles() if b.manifest.kind == kind]
            zoo = [e.model_id for e in self.manager.zoo.entries()
                   if e.importer == "bundle" and e.manifest.get("kind") == kind.value]
            available = sorted(set(stored) | set(zoo))
            raise ModelNotFoundError(
                f"{error} {kind.value} models here: {', '.join(available) or 'none'}. Import another with "
                "`argus models import FOLDER --id name/version` (README, Foundation models).") from None

    def ocr(self, images: list[Any], selection: OcrSelection, client_gone: ClientGone | None = None
            ) -> list[dict[str, Any]]:
        """Read the text of each image: the reference's ``OCRInferenceResponse`` per image."""
        check_image_count(images, self.settings)
        model = self.model(selection.model_id, OcrModel)
        model.stages(selection.detect, selection.recognize)  # a missing stage is a 400 before any image is read
        with self.inference.recorded(model.model_id, len(images)):
            encoded = read_request_images(images, self.settings)
            results = model.read_images(len(encoded), self._decode_each(encoded), selection.detect,
                                        selection.recognize, client_gone)
        return [ocr_body(result, boxes=selection.detect) for result in results]

    def embed_images(self, model_id: str, images: list[Any], client_gone: ClientGone | None = None) -> np.ndarray:
        """Normalised CLIP embeddings of the images, ``(N, D)``, batched through the model's batcher."""
        check_image_count(images, self.settings)
        model = self.model(model_id, ClipModel)
        with self.inference.recorded(model.model_id, len(images)):
            encoded = read_request_images(images, self.settings)
            return model.embed_images(len(encoded), self._decode_each(encoded), client_gone)

    def embed_texts(self, model_id: str, texts: list[str]) -> tuple[np.ndarray, list[bool]]:
        """Normalised CLIP embeddings of the prompts, ``(N, D)``, and which were cut to the model's context."""
        check_prompt_count(texts, self.settings)
        model = self.model(model_id, ClipModel)
        with self.inference.recorded(model.model_id, len(texts)):
            return model.embed_texts(texts)

    def depth(self, model_id: str, images: list[Any], client_gone: ClientGone | None = None) -> list[np.ndarray]:
        """Normalised depth maps (1 nearest, 0 farthest), one per image at its size."""
        check_image_count(images, self.settings)
        model = self.model(model_id, DepthModel)
        with self.inference.recorded(model.model_id, len(images)):
            encoded = read_request_images(images, self.settings)
            return model.estimate(len(encoded), self._decode_each(encoded), client_gone)

    def sam_embed(self, model_id: str, image: Any | None, image_id: str | None) -> tuple[str, ImageEmbedding]:
        """The image's embedding (cached by ``image_id``); without an image the id must be in the cache (404)."""
        return self._sam_embedding(self.model(model_id, SamModel), image, image_id)

    def _sam_embedding(self, model: SamModel, image: Any | None, image_id: str | None
                       ) -> tuple[str, ImageEmbedding]:
        if image_id is not None and (not isinstance(image_id, str) or not 0 < len(image_id) <= MAX_IMAGE_ID):
            raise InvalidInputError(f"'image_id' must be a string of 1 to {MAX_IMAGE_ID} characters.")
        if image is None:
            cached = model.cached(image_id) if image_id else None
            if cached is None:
                raise NotFoundError(f"No image embedding is cached under image_id {str(image_id)[:64]!r}: send the "
                                    "image (with that image_id to cache it).")
            return str(image_id), cached
        if image_id is not None:
            cached = model.cached(image_id)
            if cached is not None:
                return image_id, cached
        with self.inference.recorded(model.model_id, 1):
            encoded = read_request_images([image], self.settings)
            (array,) = self._decode_each(encoded)
            return model.embed(array, image_id)

    def sam_segment(self, model_id: str, image: Any | None, image_id: str | None, prompts: list[PointPrompt]
                    ) -> tuple[str, list[SamMask]]:
        """The best mask for each prompt; the image's embedding comes from the cache when it is there. No prompt
        at all is one empty prompt, as the reference does."""
        prompts = prompts or [PointPrompt([], [])]
        check_prompt_count(prompts, self.settings)
        model = self.model(model_id, SamModel)
        image_id, embedding = self._sam_embedding(model, image, image_id)
        with self.inference.recorded(model.model_id, len(prompts)), model.admitted(len(prompts)):
            return image_id, [model.segment(embedding, prompt.points, prompt.labels, prompt.box) for prompt in prompts]

    def detect_text(self, model_id: str, images: list[Any], queries: list[str], confidence: float,
                    iou_threshold: float | None, client_gone: ClientGone | None = None) -> list[dict[str, Any]]:
        """Open-vocabulary detection of the text queries: an object-detection answer per image."""
        check_image_count(images, self.settings)
        check_prompt_count(queries, self.settings)
        model = self.model(model_id, OwlModel)
        bodies = []
        with self.inference.recorded(model.model_id, len(images)):
            encoded = read_request_images(images, self.settings)
            for image in self._decode_each(encoded):
                started = time.perf_counter()
                found = model.detect(image, queries, confidence, iou_threshold, client_gone)
                bodies.append(detection_body(found, queries, image.shape[1], image.shape[0],
                                             time.perf_counter() - started))
        return bodies

    def detect_by_example(self, model_id: str, images: list[Any], examples: list[tuple[Any, list[ExampleBox]]],
                          confidence: float, iou_threshold: float, client_gone: ClientGone | None = None
                          ) -> list[dict[str, Any]]:
        """Image-guided detection (the reference's OWLv2 ``training_data``): boxes like the examples' boxes."""
        check_image_count(images, self.settings)
        if not examples:
            raise InvalidInputError("'training_data' is empty: send example images with boxes around what to find.")
        check_image_count([*images, *(image for image, _ in examples)], self.settings)
        model = self.model(model_id, OwlModel)
        bodies = []
        with self.inference.recorded(model.model_id, len(images)):
            example_images = read_request_images([image for image, _ in examples], self.settings)
            targets = read_request_images(images, self.settings)
            decoded = [(image, boxes) for image, (_, boxes) in zip(self._decode_each(example_images), examples)]
            class_examples = model.class_examples(decoded, iou_threshold, client_gone)
            for image in self._decode_each(targets):
                started = time.perf_counter()
                found, names = model.detect_like(image, class_examples, confidence, iou_threshold, client_gone)
                bodies.append(detection_body(found, names, image.shape[1], image.shape[0],
                                             time.perf_counter() - started))
        return bodies

    def compare(self, model_id: str, subject: Any, subject_type: str, prompts: list[Any], prompt_type: str,
                client_gone: ClientGone | None = None) -> tuple[list[float], list[bool]]:
        """Cosine similarity of the subject to each prompt (each an image or a text), and which texts were cut."""
        check_prompt_count(prompts, self.settings)
        kinds = {"image", "text"}
        if subject_type not in kinds or prompt_type not in kinds:
            raise InvalidInputError(f"'subject_type' and 'prompt_type' are 'image' or 'text', not "
                                    f"{subject_type[:20]!r} and {prompt_type[:20]!r}.")

        def embed(items: list[Any], kind: str) -> tuple[np.ndarray, list[bool]]:
            if kind == "image":
                return self.embed_images(model_id, items, client_gone), [False] * len(items)
            bad = [type(item).__name__ for item in items if not isinstance(item, str)]
            if bad:
                raise InvalidInputError(f"A text prompt or subject must be a string, not {bad[0]}.")
            return self.embed_texts(model_id, items)

        subject_embedding, subject_cut = embed([subject], subject_type)
        prompt_embeddings, prompts_cut = embed(prompts, prompt_type)
        return [float(v) for v in prompt_embeddings @ subject_embedding[0]], subject_cut + prompts_cut

    def _decode_each(self, encoded: list[EncodedImage]) -> Iterator[np.ndarray]:
        """The images decoded one at a time, each inside the server's decoded-memory budget while the consumer
        holds it."""
        for item in encoded:
            with self.inference.decode_budget.reserve(item.decoded_bytes):
                yield item.decode(self.settings)


def ocr_body(result: OcrResult, boxes: bool = True) -> dict[str, Any]:
    """``OCRInferenceResponse``: the joined text and one prediction per line in reading order.

    As in the reference each line is an object-detection prediction whose class is its text and whose
    confidence is the detector's; Argus adds the recogniser's ``text_confidence`` and the line's quadrilateral
    as ``points``. Without detection (``boxes`` False) there are no predictions, only the text.
    """
    predictions = []
    for line in result.lines if boxes else []:
        x0, y0, x1, y1 = line.xyxy
        predictions.append({
            "x": (x0 + x1) / 2, "y": (y0 + y1) / 2, "width": x1 - x0, "height": y1 - y0,
            "confidence": round(line.box_confidence, 6), "class": line.text, "class_id": 0,
            "detection_id": str(uuid.uuid4()), "text_confidence": round(line.text_confidence, 6),
            "points": [{"x": float(x), "y": float(y)} for x, y in line.quad],
        })
    width, height = result.size
    return {"result": result.text, "image": {"width": width, "height": height}, "predictions": predictions,
            "time": sum(result.stage_seconds.values()), "parent_id": None}


DEPTH_FORMATS = ("json", "png16", "png8")


def depth_body(depth: np.ndarray, depth_format: str, seconds: float) -> dict[str, Any]:
    """``DepthEstimationResponse``: the map as nested floats or a base64 grayscale PNG, and a viridis picture."""
    if depth_format == "json":
        serialised: Any = depth.tolist()
    else:
        levels, dtype = (65535, np.uint16) if depth_format == "png16" else (255, np.uint8)
        serialised = _png_base64(np.round(np.clip(depth, 0.0, 1.0) * levels).astype(dtype))
    picture = depth_picture(depth)
    return {"normalized_depth": serialised, "depth_map_format": depth_format,
            "image": base64.b64encode(encode_jpeg(picture)).decode(), "time": seconds}


def _png_base64(image: np.ndarray) -> str:
    ok, buffer = cv2.imencode(".png", image)
    if not ok:
        raise ServerError("could not encode the depth map as PNG")
    return base64.b64encode(buffer.tobytes()).decode("ascii")


def detection_body(found: OwlDetections, queries: list[str], width: int, height: int, seconds: float
                   ) -> dict[str, Any]:
    """``ObjectDetectionInferenceResponse``: each box as centre and size, its query as the class."""
    predictions = [{"x": (x0 + x1) / 2, "y": (y0 + y1) / 2, "width": x1 - x0, "height": y1 - y0,
                    "confidence": float(score), "class": queries[int(label)], "class_id": int(label),
                    "detection_id": str(uuid.uuid4())}
                   for (x0, y0, x1, y1), score, label in zip(found.xyxy.tolist(), found.scores, found.labels)]
    return {"predictions": predictions, "image": {"width": width, "height": height}, "time": seconds}
