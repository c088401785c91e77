"""Roboflow's ``inference_sdk`` 1.8.3, unchanged, on Argus's foundation-model routes (OCR, CLIP).

The server runs the real PP-OCRv6 tiny weights (from the zoo), the tiny CLIP fixture imported as ``clip/ViT-B-16``
(the id the SDK's default ``clip_version_id`` names), the tiny Depth Anything as ``depth-anything-v3/small`` and the
tiny SAM as ``sam2/hiera_tiny`` (the SDK's defaults). The oracles: the text rendered in the test, and transformers' outputs on the
fixtures' weights and images.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from sdk_venv import run_in_sdk
from test_inference_sdk import SCRIPT_PRELUDE

from conftest import LiveServer, start_server
from foundation_fixtures import FIXTURES, clip_expected, clip_image_paths, sam_expected, settings_with
from text_images import render_lines

pytestmark = pytest.mark.slow

SCRIPT = SCRIPT_PRELUDE.replace('''ASTRONAUT = os.environ["SDK_TEST_ASTRONAUT"]
DETECTOR_ID = os.environ["SDK_TEST_DETECTOR_ID"]
DETECTOR_ALIAS = os.environ["SDK_TEST_DETECTOR_ALIAS"]
SEG_ID, POSE_ID, CLS_ID = os.environ["SDK_TEST_SEG_ID"], os.environ["SDK_TEST_POSE_ID"], os.environ["SDK_TEST_CLS_ID"]
''', "") + r'''
TEXT = os.environ["SDK_TEST_TEXT_IMAGE"]

def plain_depth(result):
    return {**result, "normalized_depth": result["normalized_depth"].tolist()}

IMAGES = json.loads(os.environ["SDK_TEST_CLIP_IMAGES"])
PROMPTS = json.loads(os.environ["SDK_TEST_PROMPTS"])
client = InferenceHTTPClient(api_url=URL, api_key="dummy")
step("ocr_default", lambda: client.ocr_image(TEXT, model="pp_ocr"))
step("ocr_tiny", lambda: client.ocr_image(TEXT, model="pp_ocr", version="tiny"))
step("ocr_batch", lambda: client.ocr_image([TEXT, TEXT], model="pp_ocr", version="tiny-tiny"))
step("ocr_doctr", lambda: client.ocr_image(TEXT, model="doctr"))
step("clip_image", lambda: client.get_clip_image_embeddings(IMAGES[0]))
step("clip_images", lambda: client.get_clip_image_embeddings(IMAGES))
step("clip_text", lambda: client.get_clip_text_embeddings(PROMPTS))
step("clip_compare", lambda: client.clip_compare(subject=IMAGES[0], prompt=PROMPTS[:3]))
step("clip_compare_text", lambda: client.clip_compare(subject=PROMPTS[3], subject_type="text", prompt=IMAGES,
                                                      prompt_type="image"))
step("clip_unknown", lambda: client.get_clip_text_embeddings("a cat", clip_version="ViT-L-14"))
SAM_PROMPT = json.loads(os.environ["SDK_TEST_SAM_PROMPT"])
step("sam2_rle", lambda: client.sam2_segment_image(IMAGES[0], prompts=[SAM_PROMPT], mask_input_format="rle"))
step("sam2_json", lambda: client.sam2_segment_image(IMAGES[0], prompts=[SAM_PROMPT]))
WORKFLOW = {"version": "1.0", "inputs": [{"type": "WorkflowImage", "name": "image"}],
            "steps": [{"type": "roboflow_core/ocr_model@v1", "name": "ocr", "images": "$inputs.image"},
                      {"type": "roboflow_core/clip@v1", "name": "clip", "data": "$inputs.image",
                       "version": "ViT-B-16"},
                      {"type": "roboflow_core/depth_estimation@v1", "name": "depth", "images": "$inputs.image",
                       "model_version": "depth-anything-v3/small"}],
            "outputs": [{"type": "JsonField", "name": "text", "selector": "$steps.ocr.result"},
                        {"type": "JsonField", "name": "embedding", "selector": "$steps.clip.embedding"},
                        {"type": "JsonField", "name": "depth", "selector": "$steps.depth.image"}]}
step("workflow", lambda: client.run_workflow(specification=WORKFLOW, images={"image": TEXT}))
step("depth_png16", lambda: plain_depth(client.depth_estimation(IMAGES[0], depth_map_format="png16")))
step("depth_json_path", lambda: client.depth_estimation(IMAGES[2], model_id="depth-anything-v3/small",
                                                        model_id_in_path=True))
print(json.dumps(results))
'''


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, server_logs: Path) -> Iterator[LiveServer]:
    home = tmp_path_factory.mktemp("foundation-home")
    # the SDK's default depth model id and sam2_version_id
    settings_with(home, {"clip/ViT-B-16": "clip-optimum", "depth-anything-v3/small": "depth-anything-onnx-community",
                         "sam2/hiera_tiny": "sam-optimum"})
    live = start_server(home, server_logs, name="foundation")
    yield live
    live.stop()


@pytest.fixture(scope="module")
def outcomes(server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> dict:
    text_image = tmp_path_factory.mktemp("ocr") / "text.png"
    assert cv2.imwrite(str(text_image), render_lines(["Invoice 4471 due", "Total 93.50 EUR"]))
    import json

    env = {"SDK_TEST_URL": server.url, "SDK_TEST_COLLAGE": str(text_image), "SDK_TEST_TEXT_IMAGE": str(text_image),
           "SDK_TEST_CLIP_IMAGES": json.dumps([str(p) for p in clip_image_paths()]),
           "SDK_TEST_PROMPTS": json.dumps([str(t) for t in clip_expected()["texts"]]),
           "SDK_TEST_SAM_PROMPT": json.dumps({"points": [{"x": x, "y": y, "positive": bool(label)} for (x, y), label
                                                         in zip(sam_expected()[1][0], sam_expected()[2][0])]}),
           "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    results = run_in_sdk(SCRIPT, env)
    for name, outcome in results.items():
        if name not in ("ocr_doctr", "clip_unknown") and "error" in outcome:
            pytest.fail(f"SDK step {name} failed: {outcome['error']}\n{server.log()[-3000:]}", pytrace=False)
    return results


def test_ocr_image_reads_the_text(outcomes: dict) -> None:
    for step in ("ocr_default", "ocr_tiny"):
        body = outcomes[step]["ok"]
        assert body["result"] == "Invoice 4471 due\nTotal 93.50 EUR", step
        assert [p["class"] for p in body["predictions"]] == ["Invoice 4471 due", "Total 93.50 EUR"]
    assert [b["result"] for b in outcomes["ocr_batch"]["ok"]] == ["Invoice 4471 due\nTotal 93.50 EUR"] * 2


def test_an_ocr_model_argus_lacks_is_a_501_naming_pp_ocr(outcomes: dict) -> None:
    error = outcomes["ocr_doctr"]["error"]
    assert error["status_code"] == 501 and "pp-ocr" in (error["api_message"] or error["message"])


def test_clip_embeddings_match_transformers(outcomes: dict) -> None:
    expected = clip_expected()
    np.testing.assert_allclose(outcomes["clip_image"]["ok"]["embeddings"], expected["image_embeds"][:1], atol=1e-4)
    np.testing.assert_allclose(outcomes["clip_images"]["ok"]["embeddings"]
                               if isinstance(outcomes["clip_images"]["ok"], dict)
                               else [e for r in outcomes["clip_images"]["ok"] for e in r["embeddings"]],
                               expected["image_embeds"], atol=1e-4)
    np.testing.assert_allclose(outcomes["clip_text"]["ok"]["embeddings"], expected["text_embeds"], atol=1e-4)


def test_clip_compare_gives_cosine_similarities(outcomes: dict) -> None:
    expected = clip_expected()["similarity"]
    np.testing.assert_allclose(outcomes["clip_compare"]["ok"]["similarity"], expected[0, :3], atol=1e-4)
    np.testing.assert_allclose(outcomes["clip_compare_text"]["ok"]["similarity"], expected[:, 3], atol=1e-4)


def test_an_unknown_clip_version_is_a_404(outcomes: dict) -> None:
    assert outcomes["clip_unknown"]["error"]["status_code"] == 404


def test_depth_estimation_in_png16_and_json(outcomes: dict) -> None:
    with np.load(FIXTURES / "depth-anything-onnx-community-expected" / "expected.npz") as expected:
        png = outcomes["depth_png16"]["ok"]
        assert png["depth_map_format"] == "png16"
        np.testing.assert_allclose(png["normalized_depth"], expected["depth0"], atol=1e-4)
        np.testing.assert_allclose(outcomes["depth_json_path"]["ok"]["normalized_depth"], expected["depth2"],
                                   atol=1e-4)


def test_sam2_segment_image_gives_transformers_mask(outcomes: dict) -> None:
    from pycocotools import mask as coco_mask

    expected = sam_expected()[0]
    (prediction,) = outcomes["sam2_rle"]["ok"]["predictions"]
    rle = prediction["masks"]
    mask = coco_mask.decode({"size": rle["size"], "counts": rle["counts"].encode()}).astype(bool)
    assert np.array_equal(mask, expected["mask0"])
    (polygons,) = outcomes["sam2_json"]["ok"]["predictions"]
    assert polygons["format"] == "polygon" and polygons["masks"]


def test_a_workflow_of_foundation_blocks_runs_through_the_server(outcomes: dict) -> None:
    (result,) = outcomes["workflow"]["ok"]
    assert result["text"] == "Invoice 4471 due\nTotal 93.50 EUR"
    assert len(result["embedding"]) == 24 and abs(np.linalg.norm(result["embedding"]) - 1) < 1e-4
    picture = result["depth"]["value"] if isinstance(result["depth"], dict) else result["depth"]
    import base64

    decoded = cv2.imdecode(np.frombuffer(base64.b64decode(picture), np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None and decoded.shape[2] == 3  # the viridis depth picture
