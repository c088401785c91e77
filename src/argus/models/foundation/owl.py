"""OWL-ViT: open-vocabulary detection prompted by text or by example boxes, from optimum's
``zero-shot-object-detection`` export.

One graph takes the image and every text query at once (``pixel_values``, ``input_ids`` padded to the text context,
``attention_mask``) and gives, per image patch, a box (``pred_boxes``, centre and size relative to the image) and a
logit per query. As transformers' ``post_process_object_detection``: a patch's score is the sigmoid of its best
query's logit, its label that query, its box scaled to the image; patches under the threshold are dropped.

Image-guided detection follows the reference server's OWLv2 algorithm on the patch class embeddings the importer
exposes (``image_class_embeds``, argus.store.importers.hf_layouts): each example box takes the embedding of the
predicted box that overlaps it best (IoU above the threshold); a patch of the target image scores ``(cos + 1) / 2``
against a class's examples, negatives compete with positives in a per-class NMS, and a last NMS runs across classes.
OWL-ViT stretches the image to its square input, so boxes are relative to each side; OWLv2 pads it to a square, so
they are relative to the longer side. The reference keeps OWLv2's 300 patches of highest objectness before scoring;
the export does not compute objectness, so every patch is scored here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from argus.errors import InvalidInputError, ModelArtifactError
from argus.models.batching import ClientGone
from argus.models.foundation.base import FoundationModel
from argus.models.foundation.image_processor import ImageProcessor
from argus.models.foundation.text import TextTokenizer
from argus.models.postprocess import nms_indices
from argus.settings import Settings
from argus.store.bundle import OWL_CLASS_EMBEDDINGS, BundleKind
from argus.store.repository import StoredBundle

OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
MAX_DETECTIONS = 300
"""The reference's cap on image-guided detections per image."""


@dataclass(frozen=True)
class ExampleBox:
    """A box drawn on an example image: centre and size in pixels, its class, and whether it is a counter-example."""

    x: float
    y: float
    width: float
    height: float
    cls: str
    negative: bool = False


@dataclass(frozen=True)
class PatchEmbeddings:
    """Per patch of one image: its box (centre x, y, width, height relative to the image) and class embedding."""

    boxes: np.ndarray
    class_embeds: np.ndarray


ClassExamples = dict[str, dict[bool, np.ndarray]]
"""Class name → {True: positive example embeddings, False: negative ones} (each ``(k, D)``)."""


@dataclass(frozen=True)
class OwlDetections:
    """Boxes ``(N, 4)`` as x1, y1, x2, y2 in image pixels, their scores and query indices."""

    xyxy: np.ndarray
    scores: np.ndarray
    labels: np.ndarray


class OwlModel(FoundationModel):
    """An ``owl`` bundle: files ``model``, ``tokenizer`` and ``preprocessor``."""

    kind = BundleKind.OWL

    def __init__(self, model_id: str, stored: StoredBundle, settings: Settings) -> None:
        super().__init__(model_id, stored, settings)
        config = json.loads(stored.file("preprocessor").read_text())
        self.v2 = stored.manifest.config.get("variant") == "owlv2"
        """OWLv2 pads the image to a square (boxes are then relative to its longer side) and resizes with
        anti-aliasing; OWL-ViT stretches it."""
        self.processor = Owlv2Processor.from_config(config) if self.v2 else ImageProcessor.from_config(config)
        context = int(stored.manifest.config.get("context", 16))
        self.tokenizer = TextTokenizer(stored.file("tokenizer"), context)
        end = self.tokenizer("").ids[-1]
        pad = stored.manifest.config.get("pad_token")
        self.pad_id = (self.tokenizer.token_id(pad) if isinstance(pad, str) else None) or int(end)
        self.graph = self.session("model")

    def detect(self, image_bgr: np.ndarray, queries: list[str], threshold: float, iou_threshold: float | None = None,
               client_gone: ClientGone | None = None) -> OwlDetections:
        """Detections of the queries in one BGR image scored above ``threshold``, best first; with
        ``iou_threshold``, overlapping boxes of one query are suppressed (greedy NMS)."""
        if not queries or not all(isinstance(q, str) and q.strip() for q in queries):
            raise InvalidInputError("Send at least one text query (a non-empty string per class to find).")
        ids, mask = self.tokenizer.padded(queries, self.pad_id)
        feed = {"pixel_values": self.processor(image_bgr)[None], "input_ids": ids, "attention_mask": mask}
        with self.admitted(1, client_gone):
            logits, boxes = self.graph.run_feed(feed, ["logits", "pred_boxes"])
        best = logits[0].max(axis=-1)
        scores = 1.0 / (1.0 + np.exp(-best.astype(np.float64)))
        keep = scores > threshold
        cx, cy, w, h = boxes[0, keep].T.astype(np.float64)
        xyxy = (np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1) * self._scale(image_bgr)
                ).reshape(-1, 4)
        scores, labels = scores[keep], logits[0, keep].argmax(axis=-1)
        order = np.argsort(-scores, kind="stable")
        if iou_threshold is not None and len(order) > 1:
            order = nms_indices(xyxy, scores, labels, iou_threshold, class_agnostic=False)
        return OwlDetections(xyxy[order], scores[order], labels[order])

    def patches(self, image_bgr: np.ndarray) -> PatchEmbeddings:
        """Boxes and normalised class embeddings of every patch of one image."""
        ids, mask = self.tokenizer.padded([""], self.pad_id)
        feed = {"pixel_values": self.processor(image_bgr)[None], "input_ids": ids, "attention_mask": mask}
        boxes, embeds = self.graph.run_feed(feed, ["pred_boxes", OWL_CLASS_EMBEDDINGS])
        return PatchEmbeddings(boxes[0].astype(np.float64), embeds[0].astype(np.float64))

    def class_examples(self, examples: list[tuple[np.ndarray, list[ExampleBox]]], iou_threshold: float,
                       client_gone: ClientGone | None = None) -> ClassExamples:
        """Each example box's embedding: that of the predicted box overlapping it most, when above the threshold."""
        found: dict[str, dict[bool, list[np.ndarray]]] = {}
        with self.admitted(len(examples), client_gone):
            for image, boxes in examples:
                if not boxes:
                    continue
                patches = self.patches(image)
                query = np.array([[b.x, b.y, b.width, b.height] for b in boxes]) / self._scale(image)
                overlap = _iou(_corners(patches.boxes), _corners(query))
                best = overlap.argmax(axis=0)
                for column, box in enumerate(boxes):
                    if overlap[best[column], column] > iou_threshold:
                        found.setdefault(box.cls, {}).setdefault(not box.negative, []).append(
                            patches.class_embeds[best[column]])
        return {cls: {positive: np.stack(rows) for positive, rows in sides.items()} for cls, sides in found.items()}

    def detect_like(self, image_bgr: np.ndarray, examples: ClassExamples, confidence: float, iou_threshold: float,
                    client_gone: ClientGone | None = None) -> tuple[OwlDetections, list[str]]:
        """Boxes like the examples in one image (labels index the sorted class names, which are returned too)."""
        names = sorted(examples)
        with self.admitted(1, client_gone):
            patches = self.patches(image_bgr)
        corners = _corners(patches.boxes)
        kept_boxes, kept_scores, kept_labels = [], [], []
        for label, name in enumerate(names):
            boxes, scores, positive = [], [], []
            for is_positive, embeddings in examples[name].items():
                similarity = ((patches.class_embeds @ embeddings.T).max(axis=1) + 1) / 2
                hit = similarity > confidence
                boxes.append(corners[hit])
                scores.append(similarity[hit])
                positive.append(np.full(int(hit.sum()), is_positive))
            class_boxes, class_scores = np.concatenate(boxes), np.concatenate(scores)
            class_positive = np.concatenate(positive)
            order = _nms(class_boxes, class_scores, iou_threshold)
            order = order[class_positive[order]]
            kept_boxes.append(class_boxes[order])
            kept_scores.append(class_scores[order])
            kept_labels.append(np.full(len(order), label))
        if not kept_boxes:
            return OwlDetections(np.zeros((0, 4)), np.zeros(0), np.zeros(0, int)), names
        all_boxes, all_scores = np.concatenate(kept_boxes), np.concatenate(kept_scores)
        all_labels = np.concatenate(kept_labels)
        order = _nms(all_boxes, all_scores, iou_threshold)[:MAX_DETECTIONS]
        return (OwlDetections(all_boxes[order] * self._scale(image_bgr), all_scores[order],
                              all_labels[order]), names)

    def _scale(self, image: np.ndarray) -> np.ndarray:
        """Pixels per unit of a relative box coordinate, for x, y, x, y (or centre x, y, width, height)."""
        height, width = image.shape[:2]
        if self.v2:
            width = height = max(width, height)
        return np.array([width, height, width, height], np.float64)


class Owlv2Processor:
    """transformers' ``Owlv2ImageProcessor``: rescale, pad to a square with grey (0.5) at the bottom and right,
    resize with a Gaussian anti-aliasing filter and linear interpolation (scipy.ndimage, as transformers does),
    normalise."""

    def __init__(self, size: tuple[int, int], mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        self.size = size
        self.mean = np.array(mean, np.float32)
        self.std = np.array(std, np.float32)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Owlv2Processor:
        """Read ``preprocessor_config.json``."""
        size = config.get("size", {"height": 960, "width": 960})
        return cls((int(size["height"]), int(size["width"])), tuple(config.get("image_mean", OPENAI_CLIP_MEAN)),
                   tuple(config.get("image_std", OPENAI_CLIP_STD)))

    def __call__(self, image_bgr: np.ndarray) -> np.ndarray:
        """One BGR uint8 image → a ``(3, H, W)`` float32 tensor in RGB order."""
        try:
            from scipy import ndimage
        except ImportError:
            raise ModelArtifactError("OWLv2's preprocessing needs scipy: pip install 'argus[owlv2]'.") from None
        rgb = image_bgr[:, :, ::-1].astype(np.float32) / np.float32(255)
        side = max(rgb.shape[:2])
        square = np.full((side, side, 3), 0.5, np.float32)
        square[:rgb.shape[0], :rgb.shape[1]] = rgb
        factors = np.divide(square.shape, (*self.size, 3))
        filtered = ndimage.gaussian_filter(square, np.maximum(0, (factors - 1) / 2), cval=0, mode="mirror")
        resized = ndimage.zoom(filtered, [1 / f for f in factors], order=1, mode="mirror", cval=0, grid_mode=True)
        resized = np.clip(resized, square.min(), square.max())  # skimage's _clip_warp_output, as transformers
        return np.ascontiguousarray(((resized - self.mean) / self.std).transpose(2, 0, 1), dtype=np.float32)


def _corners(boxes: np.ndarray) -> np.ndarray:
    """Centre-size boxes ``(N, 4)`` as x1, y1, x2, y2."""
    cx, cy, w, h = boxes.T
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).reshape(-1, 4)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU ``(len(a), len(b))`` of corner boxes."""
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(bottom_right - top_left, 0, None).prod(axis=2)
    area_a = (a[:, 2:] - a[:, :2]).clip(0).prod(axis=1)
    area_b = (b[:, 2:] - b[:, :2]).clip(0).prod(axis=1)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-12)


def _nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices kept by class-agnostic greedy NMS, best score first."""
    if len(boxes) < 2:
        return np.argsort(-scores, kind="stable")
    return nms_indices(boxes, scores, np.zeros(len(boxes), int), iou_threshold, class_agnostic=True)
