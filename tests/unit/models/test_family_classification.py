"""Classifiers: softmax of logits, probabilities passed through, multi-label sigmoid, Roboflow JSON."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from argus.core.predictions import ClassificationResult
from argus.errors import ModelArtifactError
from onnx_builders import classifier, constant_model, ultralytics_metadata

NAMES = ["ant", "bee", "cat", "dog"]
LOGITS = np.array([2.0, 0.5, -1.0, 3.1])


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def test_single_label_softmax_of_logits(store, landscape):
    model = store.load(classifier(LOGITS), task="classification", class_names=NAMES)
    assert model.manifest.family.value == "classifier"
    result = model.infer(landscape)
    assert isinstance(result, ClassificationResult)
    expected = softmax(LOGITS)
    assert result.scores == pytest.approx(expected, abs=1e-6)
    assert result.top == "dog" and result.confidence == pytest.approx(expected.max(), abs=1e-6)
    assert (result.image_width, result.image_height) == (200, 100)


def test_single_label_to_roboflow(store, landscape):
    model = store.load(classifier(LOGITS), task="classification", class_names=NAMES)
    body = model.infer(landscape).to_roboflow()
    expected = softmax(LOGITS)
    order = np.argsort(-expected)  # dog, ant, bee, cat
    assert body["predictions"] == [
        {"class": NAMES[i], "class_id": int(i), "confidence": pytest.approx(expected[i], abs=1e-4)} for i in order
    ]
    assert [p["class"] for p in body["predictions"]] == ["dog", "ant", "bee", "cat"]
    assert body["top"] == "dog"
    assert body["confidence"] == pytest.approx(expected.max(), abs=1e-4)
    assert body["image"] == {"width": 200, "height": 100}
    uuid.UUID(body["inference_id"])
    assert "predicted_classes" not in body


def test_probabilities_pass_through_unchanged(store, landscape):
    probabilities = np.array([0.1, 0.6, 0.3])
    model = store.load(classifier(probabilities), task="classification", class_names=NAMES[:3])
    result = model.infer(landscape)
    assert result.scores == pytest.approx(probabilities, abs=1e-7)
    assert result.top == "bee"


def test_the_manifest_flag_decides_when_given(store, landscape):
    # [0.2, 0.2, 0.2] does not sum to 1, but the manifest says the graph ends in a softmax
    flat = store.load(classifier(np.array([0.2, 0.2, 0.2])), "flat/1", task="classification",
                      class_names=NAMES[:3], outputs_probabilities=True)
    assert flat.infer(landscape).scores == pytest.approx([0.2, 0.2, 0.2], abs=1e-7)
    # [0.1, 0.6, 0.3] looks like probabilities, but the manifest says logits
    logits = store.load(classifier(np.array([0.1, 0.6, 0.3])), "logits/1", task="classification",
                        class_names=NAMES[:3], outputs_probabilities=False)
    assert logits.infer(landscape).scores == pytest.approx(softmax(np.array([0.1, 0.6, 0.3])), abs=1e-6)


def test_multi_label_sigmoid_and_roboflow_shape(store, landscape):
    logits = np.array([2.0, -1.0, 0.3, -0.2])
    model = store.load(classifier(logits), task="multi-label-classification", class_names=NAMES)
    assert model.manifest.multilabel and model.manifest.family.value == "classifier"
    result = model.infer(landscape, confidence=0.5)
    expected = sigmoid(logits)  # 0.881, 0.269, 0.574, 0.450
    assert result.scores == pytest.approx(expected, abs=1e-6)
    assert result.predicted_classes == ["ant", "cat"]
    body = result.to_roboflow()
    assert body["predictions"] == {
        name: {"confidence": pytest.approx(score, abs=1e-4), "class_id": i}
        for i, (name, score) in enumerate(zip(NAMES, expected))
    }
    assert body["predicted_classes"] == ["ant", "cat"]
    assert "top" not in body
    # the threshold is the request's confidence
    assert model.infer(landscape, confidence=0.6).predicted_classes == ["ant"]
    assert model.infer(landscape, confidence=0.4).predicted_classes == ["ant", "cat", "dog"]


def test_multi_label_probabilities_pass_through(store, landscape):
    probabilities = np.array([0.9, 0.8, 0.1, 0.7])  # independent: they need not sum to 1
    model = store.load(classifier(probabilities), task="multi-label-classification", class_names=NAMES)
    result = model.infer(landscape, confidence=0.75)
    assert result.scores == pytest.approx(probabilities, abs=1e-7)
    assert result.predicted_classes == ["ant", "bee"]


def test_batched_classification_keeps_images_apart(store, landscape):
    # a white image (mean 1) adds +5 to "cat": the top class follows the image
    model = store.load(constant_model({"output0": LOGITS}, deltas={"output0": np.array([0.0, 0.0, 5.0, 0.0])}),
                       task="classification", class_names=NAMES)
    white = np.full_like(landscape, 255)
    black_result, white_result = model.infer([landscape, white])
    assert black_result.top == "dog" and white_result.top == "cat"
    assert black_result.scores == pytest.approx(model.infer(landscape).scores, abs=1e-6)
    assert white_result.scores == pytest.approx(model.infer(white).scores, abs=1e-6)
    assert white_result.scores == pytest.approx(softmax(LOGITS + [0, 0, 5, 0]), abs=1e-5)


def test_ultralytics_classifier_metadata(store, landscape):
    meta = ultralytics_metadata("classify", ["ant", "bee", "cat"], imgsz=[64, 64])
    model = store.load(classifier(np.array([0.2, 0.7, 0.1]), metadata=meta))
    m = model.manifest
    assert m.family.value == "classifier" and m.task.value == "classification"
    assert m.class_names == ["ant", "bee", "cat"]
    assert m.resize.value == "center-crop" and m.outputs_probabilities is True
    assert model.infer(landscape).top == "bee"


def test_class_count_mismatch_is_a_model_artifact_error(store, landscape):
    model = store.load(classifier(np.array([0.1, 0.2, 0.7])), task="classification", class_names=NAMES)
    with pytest.raises(ModelArtifactError):
        model.infer(landscape)
