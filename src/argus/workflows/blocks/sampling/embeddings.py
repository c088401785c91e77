# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Identify Outliers and Identify Changes: whether a frame's embedding is unusual among recent ones.

As the reference's blocks compute it. Outliers: a von Mises-Fisher fit over the last ``window_size`` unit
embeddings; the frame's rank among their projections on the mean direction is its percentile. Changes: the cosine
similarity to a running average embedding (EMA, SMA or a sliding window), and its z-score against the running
statistics of those similarities. Both keep one state per step (as the reference), bounded by the window.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any, Literal

import numpy as np
from pydantic import Field

from argus.errors import InvalidInputError
from argus.workflows.blocks.base import Block, BlockManifest, OutputDefinition, Selector, block_config
from argus.workflows.kinds import BOOLEAN_KIND, EMBEDDING_KIND, FLOAT_KIND, FLOAT_ZERO_TO_ONE_KIND, INTEGER_KIND

MAX_WINDOW = 10_000
MAX_DIMENSIONS = 65_536


def unit(embedding: Any) -> np.ndarray:
    """The embedding scaled to length 1 (a zero vector as it is)."""
    try:
        vector = np.asarray(embedding, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise InvalidInputError("'embedding' must be a list of numbers") from None
    if not 0 < vector.size <= MAX_DIMENSIONS or not np.isfinite(vector).all():
        raise InvalidInputError(f"'embedding' must hold 1 to {MAX_DIMENSIONS} finite numbers")
    norm = np.linalg.norm(vector)
    return vector / norm if norm else vector


def _window(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_WINDOW:
        raise InvalidInputError(f"'window_size' must be an integer from 1 to {MAX_WINDOW}, not {value!r}")
    return value


class IdentifyOutliersManifest(BlockManifest):
    model_config = block_config(name="Identify Outliers", category="video",
                                description="Whether a frame's embedding is an outlier among recent frames.")
    type: Literal["roboflow_core/identify_outliers@v1"]
    embedding: Selector(kind=[EMBEDDING_KIND])
    threshold_percentile: Selector(kind=[FLOAT_ZERO_TO_ONE_KIND]) | float = 0.05
    warmup: Selector(kind=[INTEGER_KIND]) | int = 3
    window_size: Selector(kind=[INTEGER_KIND]) | int | None = 32

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="is_outlier", kind=[BOOLEAN_KIND]),
                OutputDefinition(name="percentile", kind=[FLOAT_ZERO_TO_ONE_KIND]),
                OutputDefinition(name="warming_up", kind=[BOOLEAN_KIND])]


def von_mises_fisher(embeddings: np.ndarray) -> tuple[np.ndarray, float] | None:
    """Mean direction and concentration of unit vectors; None for fewer than two or a zero resultant."""
    n, d = embeddings.shape
    total = embeddings.sum(axis=0)
    length = float(np.linalg.norm(total))
    if n < 2 or length == 0:
        return None
    r_bar = length / n
    kappa = r_bar * (d - r_bar ** 2) / (1 - r_bar ** 2) if r_bar < 1.0 else math.inf
    return total / length, kappa


class IdentifyOutliersBlockV1(Block):
    manifest_class = IdentifyOutliersManifest
    stateful = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._samples = 0
        self._recent: deque[np.ndarray] = deque()

    def run(self, embedding: Any, threshold_percentile: float = 0.05, warmup: int = 3, window_size: int = 32
            ) -> dict[str, Any]:
        vector = unit(embedding)
        window = _window(window_size)
        self._samples += 1
        self._recent.append(vector)
        while len(self._recent) > window:
            self._recent.popleft()
        if self._samples < warmup:
            return {"is_outlier": False, "percentile": 0.5, "warming_up": True}
        recent = np.array(self._recent)
        fit = von_mises_fisher(recent)
        direction = fit[0] if fit else vector
        # the same products as the reference (einsum over the window, dot for the frame): the frame's own projection
        # is in the window, and its rank hangs on the last bit of these sums
        projections = np.sort(np.einsum("ij,j->i", recent, direction))
        percentile = float(np.searchsorted(projections, np.dot(direction, vector), side="left") / len(projections))
        outlier = percentile < threshold_percentile or percentile > 1 - threshold_percentile
        return {"is_outlier": bool(outlier), "percentile": percentile, "warming_up": False}


Strategy = Literal["Exponential Moving Average (EMA)", "Simple Moving Average (SMA)", "Sliding Window"]


class IdentifyChangesManifest(BlockManifest):
    model_config = block_config(name="Identify Changes", category="video",
                                description="Whether a frame's embedding departs from the running average.")
    type: Literal["roboflow_core/identify_changes@v1"]
    strategy: Strategy = "Exponential Moving Average (EMA)"
    embedding: Selector(kind=[EMBEDDING_KIND])
    threshold_percentile: Selector(kind=[FLOAT_ZERO_TO_ONE_KIND]) | float = 0.2
    warmup: Selector(kind=[INTEGER_KIND]) | int = 3
    smoothing_factor: Selector(kind=[FLOAT_ZERO_TO_ONE_KIND]) | float | None = Field(default=0.1)
    window_size: Selector(kind=[INTEGER_KIND]) | int | None = 10

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="is_outlier", kind=[BOOLEAN_KIND]),
                OutputDefinition(name="percentile", kind=[FLOAT_ZERO_TO_ONE_KIND]),
                OutputDefinition(name="z_score", kind=[FLOAT_KIND]),
                OutputDefinition(name="average", kind=[EMBEDDING_KIND]),
                OutputDefinition(name="std", kind=[EMBEDDING_KIND]),
                OutputDefinition(name="warming_up", kind=[BOOLEAN_KIND])]


class _Running:
    """A running mean and spread of a value (a number or a vector) by one of the three strategies."""

    def __init__(self) -> None:
        self.mean: Any = None
        self.var: Any = 0.0
        self.m2: Any = 0.0
        self.std: Any = 0.0
        self.window: deque[Any] = deque()

    def first(self, value: Any) -> None:
        self.mean = value
        self.var = self.m2 = self.std = np.zeros_like(value) if isinstance(value, np.ndarray) else 0.0

    def add(self, value: Any, strategy: str, samples: int, alpha: float, window: int) -> None:
        if strategy == "Exponential Moving Average (EMA)":
            self.mean = (1 - alpha) * self.mean + alpha * value
            self.var = (1 - alpha) * self.var + alpha * (value - self.mean) ** 2
            self.std = np.sqrt(self.var)
        elif strategy == "Simple Moving Average (SMA)":  # Welford's update
            count = samples + 1
            delta = value - self.mean
            self.mean = self.mean + delta / count
            self.m2 = self.m2 + delta * (value - self.mean)
            self.std = np.sqrt(self.m2 / (count - 1))
        else:
            self.window.append(value)
            while len(self.window) > window:
                self.window.popleft()
            self.mean = np.mean(list(self.window), axis=0)
            self.std = np.std(list(self.window), axis=0)


class IdentifyChangesBlockV1(Block):
    manifest_class = IdentifyChangesManifest
    stateful = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._samples = 0
        self._embedding = _Running()
        self._similarity = _Running()

    def run(self, embedding: Any, strategy: str = "Exponential Moving Average (EMA)",
            threshold_percentile: float = 0.2, warmup: int = 3, smoothing_factor: float = 0.1,
            window_size: int = 10) -> dict[str, Any]:
        vector = unit(embedding)
        window = _window(window_size)
        percentile, z_score = 0.5, 0.0
        if self._embedding.mean is not None:
            if self._embedding.mean.shape != vector.shape:
                raise InvalidInputError(f"the embedding has {vector.size} numbers, earlier ones "
                                        f"{self._embedding.mean.size}")
            norms = np.linalg.norm(vector) * np.linalg.norm(self._embedding.mean)
            similarity = float(vector @ self._embedding.mean / norms) if norms else 0.0
            if self._similarity.mean is None:
                self._similarity.first(similarity)
            else:
                self._similarity.add(similarity, strategy, self._samples, smoothing_factor, window)
            if self._similarity.std != 0:
                z_score = float((similarity - self._similarity.mean) / self._similarity.std)
                percentile = 1 - 0.5 * (1 + math.erf(z_score / math.sqrt(2)))
        warming_up = self._samples < warmup
        outlier = not warming_up and (percentile <= threshold_percentile / 2
                                      or percentile >= 1 - threshold_percentile / 2)
        if self._embedding.mean is None:
            self._embedding.first(vector)
        else:
            self._embedding.add(vector, strategy, self._samples, smoothing_factor, window)
        self._samples += 1
        return {"is_outlier": bool(outlier), "percentile": percentile, "z_score": z_score,
                "average": np.asarray(self._embedding.mean).tolist(), "std": np.asarray(self._embedding.std).tolist(),
                "warming_up": warming_up}
