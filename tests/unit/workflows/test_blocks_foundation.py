"""Foundation-model blocks in workflows: OCR on the real PP-OCR weights, CLIP on the tiny CLIP against
transformers' features, cosine similarity by hand."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from argus.errors import InvalidInputError
from argus.runtime.manager import ModelManager
from argus.store.importers import import_model
from argus.workflows import WorkflowContext, compile_workflow, serialize_outputs
from foundation_fixtures import FIXTURES, clip_expected, clip_images, settings_with
from text_images import render_lines

EXPECTED = clip_expected()
PROMPTS = [str(t) for t in EXPECTED["texts"]]


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> WorkflowContext:
    settings = settings_with(tmp_path_factory.mktemp("wf-foundation"),
                             {"clip/ViT-B-16": "clip-optimum", "clip/ViT-B-32": "clip-transformers-js"})
    return WorkflowContext(settings=settings, manager=ModelManager(settings))


def run(context: WorkflowContext, steps: list[dict], outputs: dict[str, str], inputs: dict) -> list[dict]:
    definition = {"version": "1.0",
                  "inputs": [{"type": "WorkflowImage", "name": "image"},
                             {"type": "WorkflowParameter", "name": "text"}],
                  "steps": steps,
                  "outputs": [{"type": "JsonField", "name": k, "selector": v} for k, v in outputs.items()]}
    return serialize_outputs(compile_workflow(definition, context).run(inputs).outputs)


@pytest.mark.slow
@pytest.mark.parametrize("step", [
    {"type": "roboflow_core/ocr_model@v1", "name": "ocr", "images": "$inputs.image"},
    {"type": "roboflow_core/pp_ocr@v1", "name": "ocr", "images": "$inputs.image", "text_detection": "tiny",
     "text_recognition": "tiny"},
])
def test_ocr_blocks_read_the_text(context: WorkflowContext, step: dict) -> None:
    image = render_lines(["Invoice 4471 due", "Total 93.50 EUR"])
    body = run(context, [step], {"text": "$steps.ocr.result", "lines": "$steps.ocr.predictions"},
               {"image": image})[0]
    assert body["text"] == "Invoice 4471 due\nTotal 93.50 EUR"
    assert [p["class"] for p in body["lines"]["predictions"]] == ["Invoice 4471 due", "Total 93.50 EUR"]
    assert all(p["parent_id"] == "image" for p in body["lines"]["predictions"])


def test_clip_embeds_images_and_texts(context: WorkflowContext) -> None:
    steps = [{"type": "roboflow_core/clip@v1", "name": "img", "data": "$inputs.image"},
             {"type": "roboflow_core/clip@v1", "name": "txt", "data": "$inputs.text", "version": "ViT-B-32"},
             {"type": "roboflow_core/cosine_similarity@v1", "name": "cos", "embedding_1": "$steps.img.embedding",
              "embedding_2": "$steps.txt.embedding"}]
    body = run(context, steps, {"img": "$steps.img.embedding", "txt": "$steps.txt.embedding",
                                "cos": "$steps.cos.similarity"}, {"image": clip_images()[0], "text": PROMPTS[2]})[0]
    np.testing.assert_allclose(body["img"], EXPECTED["image_embeds"][0], atol=1e-4)
    np.testing.assert_allclose(body["txt"], EXPECTED["text_embeds"][2], atol=1e-4)
    assert body["cos"] == pytest.approx(float(EXPECTED["similarity"][0, 2]), abs=1e-4)


def test_clip_comparison_v1_and_v2(context: WorkflowContext) -> None:
    steps = [{"type": "ClipComparison", "name": "v1", "images": "$inputs.image", "texts": PROMPTS[:3]},
             {"type": "roboflow_core/clip_comparison@v2", "name": "v2", "images": "$inputs.image",
              "classes": PROMPTS[:3], "version": "ViT-B-16"}]
    images = clip_images()
    bodies = run(context, steps, {"v1": "$steps.v1.similarity", "top": "$steps.v2.most_similar_class",
                                  "low": "$steps.v2.least_similar_class", "max": "$steps.v2.max_similarity",
                                  "cls": "$steps.v2.classification_predictions"}, {"image": images[:2]})
    for index, body in enumerate(bodies):
        expected = EXPECTED["similarity"][index, :3]
        np.testing.assert_allclose(body["v1"], expected, atol=1e-4)
        assert body["top"] == PROMPTS[int(np.argmax(expected))] and body["low"] == PROMPTS[int(np.argmin(expected))]
        assert body["max"] == pytest.approx(float(expected.max()), abs=1e-4)
        assert body["cls"]["top"] == body["top"] and len(body["cls"]["predictions"]) == 3


def test_cosine_similarity_of_embeddings_of_different_lengths_is_refused(context: WorkflowContext) -> None:
    from argus.workflows.blocks.math.cosine_similarity import CosineSimilarityBlockV1

    block = CosineSimilarityBlockV1.__new__(CosineSimilarityBlockV1)
    assert block.run([1.0, 0.0], [1.0, 1.0])["similarity"] == pytest.approx(2 ** -0.5)
    with pytest.raises(InvalidInputError, match="differ in length"):
        block.run([1.0, 0.0], [1.0, 1.0, 0.0])


def test_clip_comparison_without_prompts_is_refused_at_compile_time(context: WorkflowContext) -> None:
    steps = [{"type": "roboflow_core/clip_comparison@v2", "name": "v2", "images": "$inputs.image", "classes": []}]
    with pytest.raises(Exception, match="classes"):
        run(context, steps, {"s": "$steps.v2.similarities"}, {"image": clip_images()[0]})


def test_depth_estimation_block(context: WorkflowContext, tmp_path_factory: pytest.TempPathFactory) -> None:
    import_model(FIXTURES / "dpt-optimum", "depth-anything-v3/small", context.manager.repository, overwrite=True)
    steps = [{"type": "roboflow_core/depth_estimation@v1", "name": "depth", "images": "$inputs.image",
              "model_version": "depth-anything-v3/small"}]
    definition = {"version": "1.0", "inputs": [{"type": "WorkflowImage", "name": "image"}], "steps": steps,
                  "outputs": [{"type": "JsonField", "name": "d", "selector": "$steps.depth.normalized_depth"},
                              {"type": "JsonField", "name": "picture", "selector": "$steps.depth.image"}]}
    outputs = compile_workflow(definition, context).run({"image": clip_images()[0]}).outputs[0]
    with np.load(FIXTURES / "dpt-optimum-expected" / "expected.npz") as data:
        np.testing.assert_allclose(outputs["d"], data["depth0"], atol=1e-4)
    assert outputs["picture"].numpy_image.shape == (48, 64, 3)


def _pieces(boxes: list[tuple[float, float, float, float]], names: list[str]) -> Any:
    import supervision as sv

    detections = sv.Detections(xyxy=np.array(boxes, np.float32), class_id=np.zeros(len(boxes), int),
                                confidence=np.ones(len(boxes), np.float32))
    detections.data["class_name"] = np.array(names, dtype=object)
    return detections


@pytest.mark.parametrize(("direction", "delimiter", "expected"), [
    ("left_to_right", "", "AB\nCD"),
    ("right_to_left", "-", "B-A-\n-D-C"),
    ("vertical_top_to_bottom", "", "AC BD"),
    ("vertical_bottom_to_top", "", "DB CA"),
    ("auto", "", "AB\nCD"),  # the boxes are wider than tall
])
def test_stitch_ocr_detections_orders_the_pieces(direction: str, delimiter: str, expected: str) -> None:
    from argus.workflows.blocks.transformations.stitch_ocr_detections import StitchOcrDetectionsBlockV1

    # A at (0, 0), B right of it on the same line (top edge 3 px lower, within tolerance), C and D on the next line
    pieces = _pieces([(0, 0, 30, 20), (40, 3, 70, 23), (0, 40, 30, 60), (40, 41, 70, 61)], ["A", "B", "C", "D"])
    block = StitchOcrDetectionsBlockV1.__new__(StitchOcrDetectionsBlockV1)
    assert block.run(pieces, direction, 10, delimiter)["ocr_text"] == expected


def test_stitching_ocr_lines_in_a_workflow(context: WorkflowContext) -> None:
    steps = [{"type": "roboflow_core/ocr_model@v1", "name": "ocr", "images": "$inputs.image"},
             {"type": "roboflow_core/stitch_ocr_detections@v1", "name": "stitch", "predictions": "$steps.ocr.predictions",
              "reading_direction": "left_to_right", "tolerance": 20, "delimiter": " "}]
    image = render_lines(["alpha beta", "gamma"], size=32)
    body = run(context, steps, {"text": "$steps.stitch.ocr_text"}, {"image": image})[0]
    assert body["text"].split() == ["alpha", "beta", "gamma"]


def test_segment_anything_block_turns_boxes_into_masks(context: WorkflowContext) -> None:
    from foundation_fixtures import sam_exporter_expected

    import_model(FIXTURES / "sam-exporter", "sam2/hiera_tiny", context.manager.repository, overwrite=True)
    expected, prompts = sam_exporter_expected()
    x1, y1, x2, y2 = prompts[1]["box"]  # image 1's prompt is a box alone
    detections = _pieces([(x1, y1, x2, y2)], ["block"])
    block_type = "roboflow_core/segment_anything@v1"
    from argus.workflows.blocks.base import BlockContext
    from argus.workflows.blocks.models.foundation import SegmentAnythingBlockV1
    from argus.workflows.data import WorkflowImageData

    step = SegmentAnythingBlockV1.manifest_class.model_validate({"type": block_type, "name": "sam",
                                                                  "images": "$inputs.image"})
    block = SegmentAnythingBlockV1(step, BlockContext(settings=context.settings, manager=context.manager))
    image = WorkflowImageData.root(clip_images()[1])
    found = block.run(image, detections)["predictions"]
    assert len(found) >= 1 and set(found.data["class_name"]) == {"block"}
    # As the reference, each outer outline of SamPredictor's mask is one instance whose mask is that outline filled.
    import cv2

    contours, _ = cv2.findContours(expected["mask1"].astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    outlines = [c for c in contours if len(c) >= 3]
    filled = np.zeros(expected["mask1"].shape, np.uint8)
    cv2.fillPoly(filled, outlines, 1)
    assert len(found) == len(outlines)
    assert np.array_equal(np.logical_or.reduce(found.mask), filled.astype(bool))
    assert found.confidence[0] == pytest.approx(float(expected["score1"]), abs=1e-5)
    whole = block.run(image, None)["predictions"]
    assert set(whole.data["class_name"]) <= {"foreground"}


def _characters(text_lines: list[str], width: float = 10, gap: float = 2, word_gap: float = 12,
                line_height: float = 20, skew: float = 0.0) -> Any:
    """Character boxes laid out as text: ``gap`` between letters, ``word_gap`` at spaces; ``skew`` px of drift
    down per character (a slanted line)."""
    boxes, names = [], []
    for row, line in enumerate(text_lines):
        x = 0.0
        for column, char in enumerate(line):
            if char == " ":
                x += word_gap - gap
                continue
            top = row * line_height * 2 + column * skew
            boxes.append((x, top, x + width, top + line_height))
            names.append(char)
            x += width + gap
    return _pieces(boxes, names)


@pytest.mark.parametrize(("algorithm", "options", "lines", "expected"), [
    ("tolerance", {"tolerance": 10}, ["ab", "cd"], "ab\ncd"),
    ("otsu", {}, ["hello big world", "one two"], "hello big world\none two"),
    ("otsu", {}, ["single"], "single"),  # one word: the gaps are not bimodal, so no break
    ("otsu", {"otsu_threshold_multiplier": 100.0}, ["ab cd"], "abcd"),  # a huge threshold keeps one word
    ("collimate", {"collimate_tolerance": 5}, ["slanted", "line"], "slanted\nline"),
])
def test_stitch_ocr_detections_v2_algorithms(algorithm: str, options: dict, lines: list[str], expected: str) -> None:
    from argus.workflows.blocks.transformations.stitch_ocr_detections import StitchOcrDetectionsBlockV2

    # collimate follows a slanted line: 2 px of drift per character, more than "tolerance" grouping would allow
    pieces = _characters(lines, skew=2.0 if algorithm == "collimate" else 0.0)
    block = StitchOcrDetectionsBlockV2.__new__(StitchOcrDetectionsBlockV2)
    result = block.run(pieces, "left_to_right", stitching_algorithm=algorithm, **options)
    assert result["ocr_text"] == expected


def test_a_slanted_line_splits_under_tolerance_but_not_under_collimate() -> None:
    from argus.workflows.blocks.transformations.stitch_ocr_detections import stitch, stitch_collimate

    pieces = _characters(["slanted"], skew=4.0)  # 24 px of drift across the line
    assert stitch(pieces, "left_to_right", 10, "") != "slanted"
    assert stitch_collimate(pieces, "left_to_right", "", 5) == "slanted"
