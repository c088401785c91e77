"""Segment Anything: an image encoder run once per image, and a prompt decoder run per prompt.

Two layouts (``config.layout``):
- ``hf``: optimum's SAM export (``vision_encoder.onnx``: ``pixel_values`` → ``image_embeddings``,
  ``image_positional_embeddings``; ``prompt_encoder_mask_decoder.onnx``: points, labels and the embeddings →
  ``iou_scores`` and low-resolution ``pred_masks`` for three candidate masks). Points only: the export drops
  the box-corner embeddings.
- ``segment-anything``: the segment-anything package's own ``SamOnnxModel`` decoder (``point_coords``,
  ``point_labels`` with box corners as points labelled 2 and 3, ``mask_input``, ``has_mask_input``,
  ``orig_im_size`` → ``iou_predictions`` and ``low_res_masks``) with an encoder on the normalised, padded image,
  as samexporter writes them (``*.encoder.onnx``, ``*.decoder.onnx``). Points and boxes.

Pre- and post-processing follow
transformers' ``SamImageProcessor`` / ``SamProcessor``: the longest side resized to the encoder's size, zero padding
to the right and bottom, points scaled the same way, masks upsampled to the padded size, cropped, upsampled to the
image and thresholded at 0. Of the three candidates the one with the best predicted IoU is answered, as the
reference's SAM 2 route does.

Image embeddings are cached by ``image_id`` in a bounded LRU whose full size counts in the model's memory
(argus.runtime.manager), so a second prompt on the same image does not run the encoder again.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from cachetools import LRUCache
from PIL import Image

from argus.errors import InvalidInputError, NotImplementedFeatureError
from argus.models.foundation.base import FoundationModel
from argus.settings import Settings
from argus.store.bundle import BundleKind
from argus.store.repository import StoredBundle

POSITIVE, NEGATIVE = 1, 0


@dataclass(frozen=True)
class ImageEmbedding:
    """What the encoder gave for one image, and the sizes needed to map prompts and masks."""

    embeddings: np.ndarray
    positional: np.ndarray
    original_size: tuple[int, int]
    """(height, width) of the image."""
    resized_size: tuple[int, int]
    """(height, width) after the longest-side resize, before padding."""

    @property
    def nbytes(self) -> int:
        """Bytes held in the cache."""
        return int(self.embeddings.nbytes + self.positional.nbytes)


@dataclass(frozen=True)
class SamMask:
    """The chosen mask at the image's size, its predicted IoU, and its low-resolution logits."""

    mask: np.ndarray
    score: float
    low_res_logits: np.ndarray


class SamModel(FoundationModel):
    """A ``sam`` bundle: files ``encoder``, ``decoder`` and ``preprocessor``."""

    kind = BundleKind.SAM

    def __init__(self, model_id: str, stored: StoredBundle, settings: Settings) -> None:
        super().__init__(model_id, stored, settings)
        self.layout = str(stored.manifest.config.get("layout", "hf"))
        config: dict[str, Any] = (
            json.loads(stored.file("preprocessor").read_text()) if "preprocessor" in stored.manifest.files
            else {"size": {"longest_edge": stored.manifest.config.get("longest_edge", 1024)}})
        self.longest_edge = int(config.get("size", {}).get("longest_edge", 1024))
        pad = config.get("pad_size", {"height": self.longest_edge, "width": self.longest_edge})
        self.pad_size = (int(pad["height"]), int(pad["width"]))
        self.mean = np.array(config.get("image_mean", [0.485, 0.456, 0.406]), np.float32)
        self.std = np.array(config.get("image_std", [0.229, 0.224, 0.225]), np.float32)
        self.rescale = np.float32(config.get("rescale_factor", 1 / 255))
        self.resample = int(config.get("resample", Image.Resampling.BILINEAR))
        self.encoder = self.session("encoder")
        self.decoder = self.session("decoder")
        self._cache: LRUCache[str, ImageEmbedding] = LRUCache(maxsize=settings.sam_cached_images)
        self._cache_lock = threading.Lock()

    @property
    def takes_boxes(self) -> bool:
        """Whether the decoder takes box prompts."""
        return self.layout == "segment-anything"

    @property
    def reserved_bytes(self) -> int:
        """The embedding cache's full size (counted in the model's memory when it loads)."""
        shapes = [spec.shape[1:] for spec in self.encoder.outputs[:2]]
        per_image = sum(int(np.prod([d or 0 for d in shape])) * 4 for shape in shapes)
        return per_image * self.settings.sam_cached_images

    def resized_size(self, height: int, width: int) -> tuple[int, int]:
        """transformers' ``_get_preprocess_shape``: the longest side to ``longest_edge``, rounded half up."""
        scale = self.longest_edge / max(height, width)
        return int(height * scale + 0.5), int(width * scale + 0.5)

    def run_batch(self, tensor: np.ndarray) -> list[np.ndarray]:
        """The encoder on a batch of preprocessed images: embeddings and (``hf``) positional embeddings."""
        outputs = self.encoder.run_feed({self.encoder.inputs[0].name: tensor})
        return outputs[:2] if len(outputs) > 1 else [outputs[0], np.zeros((len(tensor), 0), np.float32)]

    def embed(self, image_bgr: np.ndarray, image_id: str | None = None) -> tuple[str, ImageEmbedding]:
        """The image's embedding, from the cache when ``image_id`` (or the pixels' hash) is in it."""
        image_id = image_id or hashlib.md5(np.ascontiguousarray(image_bgr).tobytes()).hexdigest()[:12]
        cached = self.cached(image_id)
        if cached is not None:
            return image_id, cached
        height, width = image_bgr.shape[:2]
        resized_h, resized_w = self.resized_size(height, width)
        rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)
        resized = np.asarray(Image.fromarray(rgb).resize((resized_w, resized_h), resample=self.resample,
                                                         reducing_gap=None))
        tensor = np.zeros((3, *self.pad_size), np.float32)
        tensor[:, :resized_h, :resized_w] = ((resized.astype(np.float32) * self.rescale - self.mean) / self.std
                                             ).transpose(2, 0, 1)
        with self.batcher.admit(1) as ticket:
            embeddings, positional = ticket.run(tensor[None])
        embedding = ImageEmbedding(embeddings, positional, (height, width), (resized_h, resized_w))
        with self._cache_lock:
            self._cache[image_id] = embedding
        return image_id, embedding

    def cached(self, image_id: str) -> ImageEmbedding | None:
        """The cached embedding of ``image_id``, if it is still in the cache."""
        with self._cache_lock:
            return self._cache.get(image_id)

    def segment(self, embedding: ImageEmbedding, points: list[tuple[float, float]], labels: list[int],
                box: tuple[float, float, float, float] | None = None) -> SamMask:
        """The best of the decoder's three masks for one prompt: points (x, y in image pixels, label 1 positive,
        0 negative) and / or a box (x1, y1, x2, y2). An empty prompt segments what the model sees first."""
        height, width = embedding.original_size
        corners = [(box[0], box[1]), (box[2], box[3])] if box is not None else []
        outside = [(x, y) for x, y in [*points, *corners] if not (0 <= x <= width and 0 <= y <= height)]
        if outside:
            raise InvalidInputError(f"Prompt point {outside[0]} lies outside the {width}x{height} image; "
                                    "points and boxes are pixel coordinates inside it.")
        if box is not None and not self.takes_boxes:
            raise NotImplementedFeatureError(f"Model '{self.model_id}' takes points only (optimum's SAM export drops "
                                             "the box embeddings); send points, or import a segment-anything export.")
        resized_h, resized_w = embedding.resized_size
        scale = np.array([resized_w / width, resized_h / height], np.float32)
        if self.layout == "segment-anything":
            scores, masks = self._decode_sam_repo(embedding, points, labels, corners, scale)
        else:
            scores, masks = self._decode_hf(embedding, points, labels, scale)
        candidates = range(1, len(scores)) if len(scores) == 4 else range(len(scores))  # 4: token 0 is single-mask
        best = max(candidates, key=lambda index: scores[index])
        logits = masks[best]
        return SamMask(self._upsample(logits, embedding) > 0.0, float(scores[best]), logits)

    def _decode_hf(self, embedding: ImageEmbedding, points: list[tuple[float, float]], labels: list[int],
                   scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not points:  # transformers' prompt encoder: an empty prompt is one "not a point"
            points, labels = [(0.0, 0.0)], [-1]
        feed: dict[str, np.ndarray] = {
            "input_points": (np.array(points, np.float32) * scale)[None, None],
            "input_labels": np.array(labels, np.int64)[None, None], "image_embeddings": embedding.embeddings,
            "image_positional_embeddings": embedding.positional}
        scores, masks = self.decoder.run_feed(feed, ["iou_scores", "pred_masks"])
        return scores[0, 0], masks[0, 0]

    def _decode_sam_repo(self, embedding: ImageEmbedding, points: list[tuple[float, float]], labels: list[int],
                         corners: list[tuple[float, float]], scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # SamPredictor's convention: box corners labelled 2 and 3 after the points; without a box, one padding point.
        coords = [*points, *corners] if corners else [*points, (0.0, 0.0)]
        all_labels = [*labels, 2, 3] if corners else [*labels, -1]
        embed_h, embed_w = embedding.embeddings.shape[-2:]
        feed: dict[str, np.ndarray] = {
            "image_embeddings": embedding.embeddings,
            "point_coords": (np.array(coords, np.float32) * scale)[None],
            "point_labels": np.array(all_labels, np.float32)[None],
            "mask_input": np.zeros((1, 1, 4 * embed_h, 4 * embed_w), np.float32),
            "has_mask_input": np.zeros(1, np.float32),
            "orig_im_size": np.array(embedding.original_size, np.float32)}
        # The exported crop size is frozen at tracing (samexporter's finding), so the low-resolution logits are
        # upsampled here rather than taking the graph's full-size masks.
        scores, masks = self.decoder.run_feed(feed, ["iou_predictions", "low_res_masks"])
        return scores[0], masks[0]

    def _upsample(self, logits: np.ndarray, embedding: ImageEmbedding) -> np.ndarray:
        """transformers' ``post_process_masks`` without the threshold: to the padded size, crop, to the image."""
        pad_h, pad_w = self.pad_size
        padded = cv2.resize(logits.astype(np.float32), (pad_w, pad_h), interpolation=cv2.INTER_LINEAR)
        resized_h, resized_w = embedding.resized_size
        height, width = embedding.original_size
        return cv2.resize(padded[:resized_h, :resized_w], (width, height), interpolation=cv2.INTER_LINEAR)
