# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""``roboflow_core/cosine_similarity@v1``: the cosine similarity of two embeddings."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field

from argus.errors import InvalidInputError
from argus.workflows.blocks.base import Block, BlockManifest, OutputDefinition, Selector, block_config
from argus.workflows.kinds import EMBEDDING_KIND, FLOAT_KIND


class CosineSimilarityManifest(BlockManifest):
    model_config = block_config(name="Cosine Similarity", category="math",
                                description="Calculate the cosine similarity between two embeddings.")
    type: Literal["roboflow_core/cosine_similarity@v1"]
    embedding_1: Selector(kind=[EMBEDDING_KIND]) = Field(description="First embedding")
    embedding_2: Selector(kind=[EMBEDDING_KIND]) = Field(description="Second embedding, of the same length")

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="similarity", kind=[FLOAT_KIND])]


class CosineSimilarityBlockV1(Block):
    manifest_class = CosineSimilarityManifest

    def run(self, embedding_1: Any, embedding_2: Any) -> dict[str, Any]:
        first, second = _vector(embedding_1, "embedding_1"), _vector(embedding_2, "embedding_2")
        if first.shape != second.shape:
            raise InvalidInputError(f"the embeddings differ in length: embedding_1 has {first.size} values, "
                                    f"embedding_2 {second.size}")
        norms = float(np.linalg.norm(first) * np.linalg.norm(second))
        return {"similarity": float(first @ second) / norms if norms else 0.0}


def _vector(value: Any, field: str) -> np.ndarray:
    try:
        vector = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInputError(f"'{field}' must be a list of numbers") from None
    if vector.ndim != 1 or not vector.size:
        raise InvalidInputError(f"'{field}' must be a non-empty list of numbers, got shape {vector.shape}")
    return vector
