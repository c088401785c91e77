"""InferenceService: the request-level logic shared by every protocol front end.

Given raw image objects and request parameters it resolves the model (loading it if needed),
decodes the images, runs the model, and renders Roboflow response JSON (with an optional
visualisation). It knows nothing about HTTP.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from argus.core.annotate import annotate
from argus.core.images import encode_jpeg
from argus.core.predictions import DetectionResult, Result
from argus.core.rle import mask_to_rle
from argus.errors import ClientGoneError, ImageTooLargeError, InvalidInputError
from argus.inputs.request_image import EncodedImage, read_image
from argus.models.vision import VisionModel
from argus.runtime.decode_budget import DecodeBudget
from argus.runtime.manager import ModelManager
from argus.settings import Settings
from argus.store.manifest import Task

logger = logging.getLogger(__name__)

DETECTION_TASKS = (Task.OBJECT_DETECTION, Task.INSTANCE_SEGMENTATION, Task.KEYPOINT_DETECTION)
CLASSIFICATION_TASKS = (Task.CLASSIFICATION, Task.MULTI_LABEL_CLASSIFICATION)

ROUTE_TASKS: dict[str, tuple[Task, ...]] = {
    "object_detection": DETECTION_TASKS,
    "instance_segmentation": (Task.INSTANCE_SEGMENTATION,),
    "keypoints_detection": (Task.KEYPOINT_DETECTION,),
    "classification": CLASSIFICATION_TASKS,
}
TASK_ROUTE = {
    Task.OBJECT_DETECTION: "object_detection",
    Task.INSTANCE_SEGMENTATION: "instance_segmentation",
    Task.KEYPOINT_DETECTION: "keypoints_detection",
    Task.CLASSIFICATION: "classification",
    Task.MULTI_LABEL_CLASSIFICATION: "classification",
}


MAX_STROKE = 100  # pixels; visualisation stroke widths beyond this are refused


@dataclass(frozen=True)
class RenderOptions:
    """How results become JSON: visualisation and mask format."""

    visualize: bool = False
    labels: bool = False
    stroke: int = 1
    mask_format: str = "polygon"
    keypoint_confidence: float = 0.0


@dataclass
class InferenceOutcome:
    """Rendered responses plus what the response headers report."""

    bodies: list[dict[str, Any]]
    model_id: str
    cold_start: bool
    load_seconds: float
    seconds: float
    stages: dict[str, float] = field(default_factory=dict)
    """Seconds per stage: decode, queue (waiting for a batch), model (the batch's run), pre/post, render."""


@dataclass(frozen=True)
class InferenceRecord:
    """One inference request as the metrics see it (every protocol reports through the same record)."""

    model_id: str
    images: int
    seconds: float
    model_seconds: float
    ok: bool


InferenceObserver = Callable[[InferenceRecord], None]


@dataclass
class RecordedRequest:
    """A request being timed for its :class:`InferenceRecord`; the caller may refine what it reports."""

    images: int
    model_seconds: float | None = None  # None: the whole request counts as model time
    seconds: float = 0.0  # set when the request ends


def check_image_count(images: list[Any], settings: Settings) -> None:
    """At least one image and at most ``max_images_per_request`` (400 / 413)."""
    if not images:
        raise InvalidInputError("'image' is an empty list; send at least one image.")
    if len(images) > settings.max_images_per_request:
        raise ImageTooLargeError(f"The request carries {len(images)} images; the limit is "
                                 f"{settings.max_images_per_request} per request (ARGUS_MAX_IMAGES_PER_REQUEST). "
                                 "Split it into several requests.")


def read_request_images(images: list[Any], settings: Settings) -> list[EncodedImage]:
    """Read a request's wire images without decoding them; their pixels together stay under the limit (413)."""
    encoded = [read_image(image, settings) for image in images]
    pixels = sum(item.pixels for item in encoded)
    if pixels > settings.max_request_pixels:
        raise ImageTooLargeError(f"The request's images hold {pixels} pixels; the limit is "
                                 f"{settings.max_request_pixels} per request (ARGUS_MAX_REQUEST_PIXELS). "
                                 "Send fewer or smaller images per request.")
    return encoded


class InferenceService:
    """Runs inference requests against the models of a :class:`ModelManager`."""

    def __init__(self, manager: ModelManager) -> None:
        self.manager = manager
        self.observers: list[InferenceObserver] = []
        settings = manager.settings
        self.decode_budget = DecodeBudget(settings.decoded_memory_mb * 1024 * 1024, settings.decode_wait_s)

    def model_for(self, model_id: str, route: str | None = None) -> tuple[VisionModel, bool, float]:
        """The model (loaded on demand), whether that was a cold start, and the load time."""
        acquired = self.manager.acquire(model_id)
        model = acquired.model
        if route is not None and model.task not in ROUTE_TASKS[route]:
            raise InvalidInputError(
                f"Model '{model_id}' is a {model.task.value} model; send it to /infer/{TASK_ROUTE[model.task]}."
            )
        return model, acquired.cold_start, acquired.load_seconds

    def infer(self, model_id: str, images: list[Any], params: dict[str, Any], options: RenderOptions,
              route: str | None = None, inference_id: str | None = None,
              client_gone: Callable[[], bool] | None = None) -> InferenceOutcome:
        """Read ``images`` (wire image objects), then decode, run and render them one batch at a time.

        Bounded per request (``max_images_per_request``, ``max_request_pixels``: 413 before any decoding) and
        across requests (the model's admission queue and the server's decoded-memory budget: 503). A request
        whose client is gone (``client_gone()``) stops before its next batch runs.
        """
        check_image_count(images, self.manager.settings)
        model, cold, load_seconds = self.model_for(model_id, route)
        with self.recorded(model.model_id, len(images)) as request:
            bodies, stages = self._run_admitted(model, images, params, options, inference_id, client_gone)
            request.images, request.model_seconds = len(bodies), stages["model"]
        return InferenceOutcome(bodies, model.model_id, cold, load_seconds, request.seconds, stages)

    @contextmanager
    def recorded(self, model_id: str, images: int) -> Iterator[RecordedRequest]:
        """Time the request and report it to the observers when it ends, failed (no images) or not."""
        request = RecordedRequest(images)
        started = time.perf_counter()
        try:
            yield request
        except Exception:
            self.notify(InferenceRecord(model_id, 0, time.perf_counter() - started, 0.0, ok=False))
            raise
        request.seconds = time.perf_counter() - started
        model_seconds = request.seconds if request.model_seconds is None else request.model_seconds
        self.notify(InferenceRecord(model_id, request.images, request.seconds, model_seconds, ok=True))

    def notify(self, record: InferenceRecord) -> None:
        """Tell the observers (the server's metrics) about one request, successful or not."""
        for observer in self.observers:
            observer(record)

    def _run_admitted(self, model: VisionModel, images: list[Any], params: dict[str, Any], options: RenderOptions,
                      inference_id: str | None, client_gone: Callable[[], bool] | None
                      ) -> tuple[list[dict[str, Any]], dict[str, float]]:
        settings = self.manager.settings
        stages = dict.fromkeys(("decode", "queue", "model", "prepost", "render"), 0.0)
        bodies: list[dict[str, Any]] = []
        with model.admit(len(images), client_gone) as ticket:  # 503 before any reading when the queue is full
            encoded = read_request_images(images, settings)
            hint = None if options.visualize else model.decode_hint  # a visualisation needs full resolution
            detection_params = model.params(**params)
            for start in range(0, len(encoded), model.chunk_size):
                chunk = encoded[start:start + model.chunk_size]
                if client_gone is not None and client_gone():
                    raise ClientGoneError("The client closed the connection; the rest of its request was dropped.")
                with self.decode_budget.reserve(sum(item.decoded_bytes for item in chunk)):
                    began = time.perf_counter()
                    arrays = [item.decode(settings, hint) for item in chunk]
                    decoded = time.perf_counter()
                    results = model.infer_arrays(arrays, detection_params, ticket)
                    inferred = time.perf_counter()
                    bodies.extend(self.render(result, array, options, inference_id)
                                  for result, array in zip(results, arrays))
                    stages["decode"] += decoded - began
                    stages["prepost"] += inferred - decoded
                    stages["render"] += time.perf_counter() - inferred
        stages.update(queue=ticket.queue_seconds, model=ticket.run_seconds,
                      prepost=max(0.0, stages["prepost"] - ticket.queue_seconds - ticket.run_seconds))
        return bodies, stages

    @staticmethod
    def render(result: Result, image: Any, options: RenderOptions, inference_id: str | None = None
               ) -> dict[str, Any]:
        """One response body in the reference's shape."""
        if isinstance(result, DetectionResult):
            body = result.to_roboflow(keypoint_confidence=options.keypoint_confidence)
            if options.mask_format == "rle" and result.detections.masks is not None:
                for prediction, mask in zip(body["predictions"], result.detections.masks):
                    prediction.pop("points", None)
                    prediction["rle"] = mask_to_rle(mask)
                    prediction["mask_format"] = "rle"
        else:
            body = result.to_roboflow()
        if inference_id is not None:
            body["inference_id"] = inference_id
        if options.visualize:
            picture = annotate(image, result, labels=options.labels, stroke=options.stroke)
            body["visualization"] = base64.b64encode(encode_jpeg(picture)).decode()
        return body
