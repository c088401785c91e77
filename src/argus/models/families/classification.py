"""Classifiers: ``[C]`` logits or probabilities per image, single-label (softmax) or multi-label (sigmoid)."""

from __future__ import annotations

import numpy as np

from argus.models.families.base import sigmoid
from argus.store.manifest import ModelManifest


def class_scores(output: np.ndarray, manifest: ModelManifest) -> np.ndarray:
    """Probabilities from one image's classifier output.

    When the manifest does not say whether the graph ends in softmax/sigmoid, values already in
    [0, 1] (and, single-label, summing to 1) are taken as probabilities.
    """
    values = output.reshape(-1).astype(np.float32)
    if manifest.class_names and len(values) != len(manifest.class_names):
        raise ValueError(f"classifier outputs {len(values)} scores, the manifest names {len(manifest.class_names)}")
    already = manifest.outputs_probabilities
    if already is None:
        in_range = bool(values.size) and float(values.min()) >= 0.0 and float(values.max()) <= 1.0
        already = in_range and (manifest.multilabel or abs(float(values.sum()) - 1.0) < 1e-3)
    if already:
        return values
    if manifest.multilabel:
        return sigmoid(values)
    exp = np.exp(values - values.max())
    return exp / exp.sum()
