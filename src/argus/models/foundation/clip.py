"""CLIP: image and text embeddings in one space, and their cosine similarities.

Two layouts (argus.store.importers.hf_layouts):
- ``joint``: ``optimum-cli export onnx --task zero-shot-image-classification`` writes one ``model.onnx`` that takes
  ``input_ids``, ``attention_mask`` and ``pixel_values`` together. An image is embedded with the shortest prompt
  (start and end tokens) beside it, and a text with one blank image; the other tower's output is not used.
- ``towers``: transformers.js / onnx-community folders, ``vision_model.onnx`` and ``text_model.onnx`` apart.

Embeddings are returned L2-normalised (so a dot product is the cosine similarity), whatever the graph returns:
the joint graph normalises, the towers do not.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from argus.models.batching import ClientGone
from argus.models.foundation.base import FoundationModel
from argus.models.foundation.image_processor import ImageProcessor
from argus.models.foundation.text import TextTokenizer, Tokens
from argus.models.session import OnnxSession
from argus.settings import Settings
from argus.store.bundle import BundleKind
from argus.store.repository import StoredBundle

IMAGE_BATCH = 8


class ClipConfig(BaseModel):
    """``config`` of a ``clip`` bundle."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    layout: Literal["joint", "towers"]
    context: int = Field(default=77, ge=2, le=4096)
    """The text model's context in tokens (``max_position_embeddings``): longer prompts are cut to it."""


class ClipModel(FoundationModel):
    """A ``clip`` bundle: files ``model`` (joint) or ``vision`` and ``text`` (towers), plus ``tokenizer`` and
    ``preprocessor``."""

    kind = BundleKind.CLIP
    max_batch_size = IMAGE_BATCH

    def __init__(self, model_id: str, stored: StoredBundle, settings: Settings) -> None:
        super().__init__(model_id, stored, settings)
        self.clip_config: ClipConfig = self.config(ClipConfig)
        self.processor = ImageProcessor.from_config(json.loads(stored.file("preprocessor").read_text()))
        self.tokenizer = TextTokenizer(stored.file("tokenizer"), self.clip_config.context)
        joint = self.clip_config.layout == "joint"
        self.joint: OnnxSession | None = self.session("model") if joint else None
        self.vision: OnnxSession | None = None if joint else self.session("vision")
        self.text: OnnxSession | None = None if joint else self.session("text")
        self._shortest_prompt = self.tokenizer("").ids

    def embed_images(self, count: int, images: Iterable[np.ndarray], client_gone: ClientGone | None = None
                     ) -> np.ndarray:
        """Normalised embeddings ``(count, D)`` of ``count`` BGR images, admitted together and batched with other
        requests' images (``images`` may decode each one lazily, as it is reached)."""
        embeddings: list[np.ndarray] = []
        tensors: list[np.ndarray] = []
        with self.batcher.admit(count, client_gone) as ticket:
            for image in images:
                tensors.append(self.processor(image))
                if len(tensors) == IMAGE_BATCH:
                    embeddings.append(ticket.run(np.stack(tensors))[0])
                    tensors = []
            if tensors:
                embeddings.append(ticket.run(np.stack(tensors))[0])
        return np.concatenate(embeddings)

    def embed_texts(self, texts: list[str]) -> tuple[np.ndarray, list[bool]]:
        """Normalised embeddings ``(N, D)`` of the prompts and which were cut to the context."""
        with self.admitted(len(texts)):
            tokens = [self.tokenizer(text) for text in texts]
            return np.stack([self.embed_text(t) for t in tokens]), [t.truncated for t in tokens]

    def run_batch(self, tensor: np.ndarray) -> list[np.ndarray]:
        """Image embeddings (normalised) of a batch of preprocessed images."""
        if self.joint is not None:
            ids = self._shortest_prompt[None]
            feed = {"pixel_values": tensor, "input_ids": ids, "attention_mask": np.ones_like(ids)}
            embeds = self.joint.run_feed(_known(feed, self.joint), ["image_embeds"])[0]
        else:
            assert self.vision is not None
            embeds = self.vision.run_feed({self.vision.inputs[0].name: tensor}, [_embeds_output(self.vision, "image")])[0]
        return [_normalised(embeds)]

    def embed_text(self, tokens: Tokens) -> np.ndarray:
        """One prompt's normalised embedding."""
        ids = tokens.ids[None]
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        if self.joint is not None:
            height, width = self._pixel_size()
            feed["pixel_values"] = np.zeros((1, 3, height, width), np.float32)
            embeds = self.joint.run_feed(_known(feed, self.joint), ["text_embeds"])[0]
        else:
            assert self.text is not None
            embeds = self.text.run_feed(_known(feed, self.text), [_embeds_output(self.text, "text")])[0]
        return _normalised(embeds)[0]

    def _pixel_size(self) -> tuple[int, int]:
        """The image input's (height, width), from the crop or the resize the processor does."""
        if self.processor.crop is not None:
            return self.processor.crop
        if self.processor.size is not None:
            return self.processor.size
        edge = self.processor.shortest_edge or 224
        return edge, edge


def _known(feed: dict[str, np.ndarray], session: OnnxSession) -> dict[str, np.ndarray]:
    """The feed without inputs the graph does not have (some exports drop ``attention_mask``)."""
    names = {spec.name for spec in session.inputs}
    return {name: value for name, value in feed.items() if name in names}


def _embeds_output(session: OnnxSession, tower: str) -> str:
    """The tower's embedding output: ``image_embeds`` / ``text_embeds``, else its first output."""
    names = [spec.name for spec in session.outputs]
    return f"{tower}_embeds" if f"{tower}_embeds" in names else names[0]


def _normalised(embeds: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(embeds, axis=-1, keepdims=True)
    return (embeds / np.maximum(norms, 1e-12)).astype(np.float32)
