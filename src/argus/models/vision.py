"""A loaded vision model: images in, typed predictions out.

Example:
    >>> import argus  # doctest: +SKIP
    >>> model = argus.get_model("yolov3-tiny-416")  # doctest: +SKIP
    >>> model.infer("street.jpg", confidence=0.5).to_roboflow()  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from argus.core.images import DecodeHint, ImageInput, load_image
from argus.core.predictions import ClassificationResult, DetectionResult, Result
from argus.errors import InvalidInputError, ModelArtifactError
from argus.models.batching import BatchPolicy, DynamicBatcher, Ticket
from argus.models.families import DETECTION_DECODERS, DecodeContext, class_scores
from argus.models.postprocess import DetectionParams
from argus.models.preprocess import Transform, fit_image, to_tensor
from argus.models.session import OnnxSession
from argus.settings import Settings
from argus.store.manifest import Layout, ModelManifest, ResizeMode, Task

logger = logging.getLogger(__name__)

_CLASSIFICATION_TASKS = (Task.CLASSIFICATION, Task.MULTI_LABEL_CLASSIFICATION)
_DEFAULT_CHUNK = 8
_ADAPTIVE_MAX_BYTES = 512 * 1024 * 1024  # a second session doubles the weights in memory


class VisionModel:
    """An ONNX model with its manifest: preprocess → run → decode, batched when the graph allows."""

    def __init__(self, model_id: str, manifest: ModelManifest, session: OnnxSession, settings: Settings) -> None:
        self.model_id = model_id
        self.manifest = manifest
        self.session = session
        self.settings = settings
        if manifest.task not in _CLASSIFICATION_TASKS and manifest.family not in DETECTION_DECODERS:
            raise ModelArtifactError(f"Model '{model_id}': no decoder for family '{manifest.family}'.")
        self._check_input_shape()
        policy = self._batch_policy()
        self.crowded_session = session.single_threaded() if self._threads_follow_load(policy) else None
        """One-thread session for runs that start while other work is busy (argus.models.batching)."""
        if self.crowded_session is not None:
            # The runs already fill every core: a batch would only make its first request wait for the others
            # (benchmarks/RESULTS.md: no batching gave more throughput and a shorter tail here).
            policy = dataclasses.replace(policy, max_batch_size=1)
        self.batcher = DynamicBatcher(session.run, policy, name=model_id,
                                      crowded_run=self.crowded_session.run if self.crowded_session else None)

    @property
    def task(self) -> Task:
        """What the model predicts."""
        return self.manifest.task

    @property
    def class_names(self) -> list[str]:
        """Class names, by class id."""
        return self.manifest.class_names

    @property
    def decode_hint(self) -> DecodeHint | None:
        """What JPEGs sent to this model may be decoded down to (None when reduced decoding is off)."""
        if not self.settings.reduced_jpeg_decode:
            return None
        m = self.manifest
        return DecodeHint(m.input_width, m.input_height, cover=m.resize != ResizeMode.LETTERBOX)

    @property
    def batch_size(self) -> int | None:
        """Static batch size of the graph, or None when it is dynamic."""
        return self.session.fixed_batch_size

    def infer(self, image: ImageInput | Sequence[ImageInput], **params: Any) -> Result | list[Result]:
        """Predict on one image or a list of images.

        Args:
            image: any input :func:`argus.core.images.load_image` accepts, or a list of them.
            **params: ``confidence``, ``iou_threshold``, ``class_agnostic_nms``, ``class_filter``,
                ``max_detections``, ``max_candidates``, ``keypoint_confidence``, ``mask_decode_mode``.

        Returns:
            One result per image (a list when a list was given).
        """
        images: list[ImageInput] = list(image) if isinstance(image, (list, tuple)) else [image]  # type: ignore[list-item]
        unknown = set(params) - set(DetectionParams.__dataclass_fields__)
        if unknown:
            raise InvalidInputError(f"unknown inference parameter(s): {', '.join(sorted(unknown))}")
        arrays = [load_image(item, self.settings.max_image_pixels) for item in images]
        results = self.infer_arrays(arrays, self.params(**params))
        return results if isinstance(image, (list, tuple)) else results[0]

    def params(self, **kwargs: Any) -> DetectionParams:
        """Request parameters over the manifest's defaults."""
        defaults = {"confidence": self.manifest.confidence, "iou_threshold": self.manifest.iou_threshold}
        return DetectionParams.from_kwargs(defaults, **kwargs)

    @contextmanager
    def admit(self, images: int, client_gone: Callable[[], bool] | None = None) -> Iterator[Ticket]:
        """Reserve a place for ``images`` in this model's queue (503 when it is full); see :mod:`argus.models.batching`.

        ``client_gone`` lets the runner drop the request's tensors if its client has left by then."""
        with self.batcher.admit(images, client_gone) as ticket:
            yield ticket

    def close(self) -> None:
        """Stop the batching thread; requests that still hold the model run without it."""
        self.batcher.close()

    def infer_arrays(self, images: list[np.ndarray], params: DetectionParams, ticket: Ticket | None = None
                     ) -> list[Result]:
        """Predict on decoded BGR images, in chunks the graph's batch dimension allows.

        Each chunk's tensor goes through the model's batcher, so concurrent callers share ``session.run``
        calls; ``ticket`` is the admission of a caller that reserved its place (and decoded) beforehand.
        """
        if ticket is None:
            with self.admit(len(images)) as own_ticket:
                return self.infer_arrays(images, params, own_ticket)
        started = time.perf_counter()
        chunk = self.chunk_size
        results: list[Result] = []
        for start in range(0, len(images), chunk):
            part = images[start:start + chunk]
            tensor, transforms = self.preprocess(part)
            outputs = ticket.run(tensor)
            results.extend(self.postprocess(outputs, transforms, params))
        elapsed = time.perf_counter() - started
        for result in results:
            object.__setattr__(result, "time", elapsed)
        return results

    @property
    def chunk_size(self) -> int:
        """Images per input tensor: the graph's fixed batch, else the batcher's batch (at least a few)."""
        return self.batch_size or max(self.batcher.policy.max_batch_size, _DEFAULT_CHUNK)

    def preprocess(self, images: list[np.ndarray]) -> tuple[np.ndarray, list[Transform]]:
        """Fit and normalise images into one input tensor."""
        m = self.manifest
        fitted, transforms = zip(*(fit_image(img, m.input_width, m.input_height, m.resize, m.pad_value)
                                   for img in images))
        return to_tensor(list(fitted), m, self.session.input.dtype), list(transforms)

    def postprocess(self, outputs: list[np.ndarray], transforms: list[Transform], params: DetectionParams
                    ) -> list[Result]:
        """Decode a batch of raw outputs, one result per image."""
        results: list[Result] = []
        for index, transform in enumerate(transforms):
            per_image = [o[index] for o in outputs if o.ndim > 0 and o.shape[0] == len(transforms)]
            results.append(self._decode(per_image, transform, params))
        return results

    def _decode(self, outputs: list[np.ndarray], transform: Transform, params: DetectionParams) -> Result:
        try:
            return self._decode_unchecked(outputs, transform, params)
        except ValueError as error:
            raise ModelArtifactError(
                f"Model '{self.model_id}': its outputs do not match its manifest ({error}). Re-import it with the "
                "right --family / --classes."
            ) from None

    def _decode_unchecked(self, outputs: list[np.ndarray], transform: Transform, params: DetectionParams
                          ) -> Result:
        m = self.manifest
        if m.task in _CLASSIFICATION_TASKS:
            scores = class_scores(outputs[0], m)
            names = tuple(m.class_names) or tuple(str(i) for i in range(len(scores)))
            return ClassificationResult(
                class_names=names, scores=scores, image_width=transform.width, image_height=transform.height,
                multilabel=m.multilabel, threshold=params.confidence, model_id=self.model_id,
            )
        context = DecodeContext(m, params, transform, self.session.output_names)
        detections = DETECTION_DECODERS[m.family](outputs, context)
        return DetectionResult(detections, transform.width, transform.height, task=m.task.value,
                               model_id=self.model_id, keypoint_threshold=params.keypoint_confidence)

    def warm_up(self) -> None:
        """Run once on a blank image so the first real request pays no lazy initialisation."""
        blank = np.full((self.manifest.input_height, self.manifest.input_width, 3), 114, dtype=np.uint8)
        tensor, _ = self.preprocess([blank])
        self.session.run(tensor)
        if self.crowded_session is not None:
            self.crowded_session.run(tensor)

    def _batch_policy(self) -> BatchPolicy:
        """Batch across requests only when the graph's batch dimension is dynamic and batching is on."""
        batching = self.manifest.batching
        dynamic = self.batch_size is None and self.settings.dynamic_batching
        return BatchPolicy(max_batch_size=batching.max_batch_size if dynamic else 1,
                           max_queue_delay=batching.max_queue_delay_ms / 1000,
                           max_pending_rows=self.settings.max_pending_images,
                           instances=self.settings.model_instances)

    def _threads_follow_load(self, policy: BatchPolicy) -> bool:
        """Whether runs under load get a one-thread session: several runners, intra-op threads left to
        ONNX Runtime (0), more than one core, a CPU-only session, a model small enough to hold twice."""
        return (self.settings.adaptive_threads and policy.instances > 1 and self.session.intra_op_threads == 0
                and (os.cpu_count() or 1) > 1 and self.session.providers == ["CPUExecutionProvider"]
                and self.session.path.stat().st_size <= _ADAPTIVE_MAX_BYTES)

    def _check_input_shape(self) -> None:
        shape = self.session.input.shape
        if len(shape) != 4:
            raise ModelArtifactError(f"Model '{self.model_id}': expected a 4-D image input, got shape {shape}.")
        h, w = (shape[2], shape[3]) if self.manifest.layout == Layout.NCHW else (shape[1], shape[2])
        if (h and h != self.manifest.input_height) or (w and w != self.manifest.input_width):
            raise ModelArtifactError(
                f"Model '{self.model_id}': the manifest says {self.manifest.input_width}x{self.manifest.input_height} "
                f"but the graph input is {w}x{h}."
            )
