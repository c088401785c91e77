"""OWL-ViT: open-vocabulary detection prompted by text, from optimum's ``zero-shot-object-detection`` export.

One graph takes the image and every text query at once (``pixel_values``, ``input_ids`` padded to the text context,
``attention_mask``) and gives, per image patch, a box (``pred_boxes``, centre and size relative to the image) and a
logit per query. As transformers' ``post_process_object_detection``: a patch's score is the sigmoid of its best
query's logit, its label that query, its box scaled to the image; patches under the threshold are dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from argus.errors import InvalidInputError
from argus.models.foundation.base import FoundationModel
from argus.models.foundation.image_processor import ImageProcessor
from argus.models.foundation.text import TextTokenizer
from argus.models.postprocess import nms_indices
from argus.settings import Settings
from argus.store.bundle import BundleKind
from argus.store.repository import StoredBundle


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
        self.processor = ImageProcessor.from_config(json.loads(stored.file("preprocessor").read_text()))
        context = int(stored.manifest.config.get("context", 16))
        self.tokenizer = TextTokenizer(stored.file("tokenizer"), context)
        end = self.tokenizer("").ids[-1]
        pad = stored.manifest.config.get("pad_token")
        self.pad_id = (self.tokenizer.token_id(pad) if isinstance(pad, str) else None) or int(end)
        self.graph = self.session("model")

    def detect(self, image_bgr: np.ndarray, queries: list[str], threshold: float, iou_threshold: float | None = None
               ) -> OwlDetections:
        """Detections of the queries in one BGR image scored above ``threshold``, best first; with
        ``iou_threshold``, overlapping boxes of one query are suppressed (greedy NMS)."""
        if not queries or not all(isinstance(q, str) and q.strip() for q in queries):
            raise InvalidInputError("Send at least one text query (a non-empty string per class to find).")
        ids, mask = self.tokenizer.padded(queries, self.pad_id)
        feed = {"pixel_values": self.processor(image_bgr)[None], "input_ids": ids, "attention_mask": mask}
        with self.admitted(1):
            logits, boxes = self.graph.run_feed(feed, ["logits", "pred_boxes"])
        best = logits[0].max(axis=-1)
        scores = 1.0 / (1.0 + np.exp(-best.astype(np.float64)))
        keep = scores > threshold
        height, width = image_bgr.shape[:2]
        cx, cy, w, h = boxes[0, keep].T.astype(np.float64)
        xyxy = (np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1) * [width, height, width, height]
                ).reshape(-1, 4)
        scores, labels = scores[keep], logits[0, keep].argmax(axis=-1)
        order = np.argsort(-scores, kind="stable")
        if iou_threshold is not None and len(order) > 1:
            order = nms_indices(xyxy, scores, labels, iou_threshold, class_agnostic=False)
        return OwlDetections(xyxy[order], scores[order], labels[order])
