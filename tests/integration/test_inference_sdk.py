"""Roboflow's own client, ``inference_sdk.InferenceHTTPClient`` 1.8.3, against a real Argus server.

The SDK runs in its private venv (see ``sdk_venv``); to keep the suite fast one script per server
runs every call and prints all the outcomes as one JSON document. Each step records either its
result (``{"ok": ...}``) or the SDK's exception (``{"error": {"type", "status_code", "message"}}``),
so one failing call does not hide the others, and the tests below each check a part.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from sdk_venv import run_in_sdk

pytestmark = pytest.mark.slow

# Shared by every script: run named steps, record outcomes, print them as JSON on the last line.
SCRIPT_PRELUDE = r'''
import dataclasses, json, os, sys, traceback, warnings
warnings.simplefilter("ignore")
from inference_sdk import InferenceHTTPClient, InferenceConfiguration

URL = os.environ["SDK_TEST_URL"]
COLLAGE = os.environ["SDK_TEST_COLLAGE"]
ASTRONAUT = os.environ["SDK_TEST_ASTRONAUT"]
DETECTOR_ID = os.environ["SDK_TEST_DETECTOR_ID"]
DETECTOR_ALIAS = os.environ["SDK_TEST_DETECTOR_ALIAS"]
SEG_ID, POSE_ID, CLS_ID = os.environ["SDK_TEST_SEG_ID"], os.environ["SDK_TEST_POSE_ID"], os.environ["SDK_TEST_CLS_ID"]
results = {}

def plain(value):
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "value") and type(value).__module__.startswith("inference_sdk"):
        return value.value  # enums
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)

def step(name, function):
    try:
        results[name] = {"ok": plain(function())}
    except Exception as error:
        results[name] = {"error": {"type": type(error).__name__,
                                   "status_code": getattr(error, "status_code", None),
                                   "message": str(error)[:2000],
                                   "api_message": getattr(error, "api_message", None),
                                   "traceback": traceback.format_exc()[-3000:]}}
'''

V1_SCRIPT = SCRIPT_PRELUDE + r'''
client = InferenceHTTPClient(api_url=URL, api_key="dummy")
step("mode_is_v1", lambda: client.client_mode.value)
step("info", client.get_server_info)
step("clear_before", client.unload_all_models)
step("detect", lambda: client.infer(COLLAGE, model_id=DETECTOR_ID))
step("registry", client.list_loaded_models)
step("describe", lambda: client.get_model_description(DETECTOR_ID))
step("describe_not_loaded", lambda: client.get_model_description(CLS_ID, allow_loading=False))
step("segment", lambda: client.infer(COLLAGE, model_id=SEG_ID))
step("keypoints", lambda: client.infer(COLLAGE, model_id=POSE_ID))
step("classify", lambda: client.infer(COLLAGE, model_id=CLS_ID))
step("batch", lambda: client.infer([COLLAGE, ASTRONAUT], model_id=DETECTOR_ID))
step("alias", lambda: client.infer(COLLAGE, model_id=DETECTOR_ALIAS))
step("unknown_model", lambda: client.infer(COLLAGE, model_id="no-such-model/1"))
client.configure(InferenceConfiguration(confidence_threshold=0.1))
step("confidence_low", lambda: client.infer(COLLAGE, model_id=DETECTOR_ID))
client.configure(InferenceConfiguration(confidence_threshold=0.9))
step("confidence_high", lambda: client.infer(COLLAGE, model_id=DETECTOR_ID))
client.configure(InferenceConfiguration(confidence_threshold=0.25, iou_threshold=0.45))
step("compare_params", lambda: client.infer(COLLAGE, model_id=DETECTOR_ID))
client.configure(InferenceConfiguration())
step("clear", client.unload_all_models)
step("load", lambda: client.load_model(CLS_ID))
step("load_second", lambda: client.load_model(POSE_ID))
step("unload", lambda: client.unload_model(CLS_ID))
step("unload_all", client.unload_all_models)

legacy = InferenceHTTPClient(api_url=URL, api_key="dummy")
legacy.select_api_v0()
step("v0_mode", lambda: legacy.client_mode.value)
step("v0_detect", lambda: legacy.infer(COLLAGE, model_id=DETECTOR_ID))
step("v0_classify", lambda: legacy.infer(COLLAGE, model_id=CLS_ID))
step("v0_keypoints", lambda: legacy.infer(COLLAGE, model_id=POSE_ID))
legacy.configure(InferenceConfiguration(confidence_threshold=0.9))
step("v0_confidence_high", lambda: legacy.infer(COLLAGE, model_id=DETECTOR_ID))
print(json.dumps(results))
'''

SECURED_SCRIPT = SCRIPT_PRELUDE + r'''
good = InferenceHTTPClient(api_url=URL, api_key=os.environ["SDK_TEST_KEY"])
step("with_key", lambda: good.infer(COLLAGE, model_id=DETECTOR_ID))
step("with_key_registry", good.list_loaded_models)
bad = InferenceHTTPClient(api_url=URL, api_key="wrong-key")
step("wrong_key", lambda: bad.infer(COLLAGE, model_id=DETECTOR_ID))
step("wrong_key_registry", bad.list_loaded_models)
step("wrong_key_info", bad.get_server_info)
legacy = InferenceHTTPClient(api_url=URL, api_key=os.environ["SDK_TEST_KEY"])
legacy.select_api_v0()
step("v0_with_key", lambda: legacy.infer(COLLAGE, model_id=DETECTOR_ID))
legacy_bad = InferenceHTTPClient(api_url=URL, api_key="wrong-key")
legacy_bad.select_api_v0()
step("v0_wrong_key", lambda: legacy_bad.infer(COLLAGE, model_id=DETECTOR_ID))
print(json.dumps(results))
'''


def sdk_env(server: Any, ids: Any, collage_jpg: Path, astronaut_png: Path, **extra: str) -> dict[str, str]:
    """What the scripts read: the server URL, the image paths and the model ids."""
    return {
        "SDK_TEST_URL": server.url,
        "SDK_TEST_COLLAGE": str(collage_jpg),
        "SDK_TEST_ASTRONAUT": str(astronaut_png),
        "SDK_TEST_DETECTOR_ID": ids.detector,
        "SDK_TEST_DETECTOR_ALIAS": ids.detector_alias,
        "SDK_TEST_SEG_ID": ids.seg,
        "SDK_TEST_POSE_ID": ids.pose,
        "SDK_TEST_CLS_ID": ids.cls,
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        **extra,
    }


class Outcomes:
    """The steps of one SDK script run, with the server log for failure messages."""

    def __init__(self, results: dict[str, Any], server: Any, ids: Any) -> None:
        self.results = results
        self.server = server
        self.ids = ids

    def ok(self, name: str) -> Any:
        outcome = self.results[name]
        if "error" in outcome:
            error = outcome["error"]
            pytest.fail(f"SDK step {name!r} raised {error['type']} (status {error['status_code']}): "
                        f"{error['message']}\n{error['traceback']}\n--- server log (tail) ---\n"
                        f"{self.server.log()[-3000:]}", pytrace=False)
        return outcome["ok"]

    def error(self, name: str) -> dict[str, Any]:
        outcome = self.results[name]
        assert "error" in outcome, f"SDK step {name!r} was expected to fail but returned {str(outcome)[:500]}"
        return outcome["error"]


@pytest.fixture(scope="module")
def v1(live_server, model_ids, collage_jpg: Path, astronaut_png: Path) -> Outcomes:
    """Every SDK call against the open server, run once."""
    results = run_in_sdk(V1_SCRIPT, sdk_env(live_server, model_ids, collage_jpg, astronaut_png))
    return Outcomes(results, live_server, model_ids)


@pytest.fixture(scope="module")
def secured(secured_server, model_ids, collage_jpg: Path, astronaut_png: Path) -> Outcomes:
    """SDK calls with the right and a wrong key against the secured server."""
    env = sdk_env(secured_server, model_ids, collage_jpg, astronaut_png, SDK_TEST_KEY=model_ids.api_key)
    return Outcomes(run_in_sdk(SECURED_SCRIPT, env), secured_server, model_ids)


def classes(response: dict[str, Any]) -> list[str]:
    return [p["class"] for p in response["predictions"]]


def boxes_by_class(response: dict[str, Any]) -> dict[str, list[tuple[float, float, float, float]]]:
    found: dict[str, list[tuple[float, float, float, float]]] = {}
    for p in response["predictions"]:
        found.setdefault(p["class"], []).append((p["x"], p["y"], p["width"], p["height"]))
    return {k: sorted(v) for k, v in found.items()}


def assert_same_detections(a: dict[str, Any], b: dict[str, Any], tolerance: float) -> None:
    assert sorted(classes(a)) == sorted(classes(b))
    for name, boxes in boxes_by_class(a).items():
        for box_a, box_b in zip(boxes, boxes_by_class(b)[name]):
            assert box_a == pytest.approx(box_b, abs=tolerance), name


# ------------------------------------------------------------------------------- v1 (default)

def test_client_defaults_to_v1_for_a_local_url(v1):
    assert v1.ok("mode_is_v1") == "v1"


def test_server_info(v1):
    info = v1.ok("info")
    assert info["name"] and info["version"] and info["uuid"]


def test_v1_detector_finds_the_cat_and_the_motorbike(v1):
    response = v1.ok("detect")
    assert response["image"] == {"width": 1280, "height": 720}
    assert {"cat", "motorbike"} <= set(classes(response))
    cat = next(p for p in response["predictions"] if p["class"] == "cat")
    # The cat (chelsea.png) sits in the top-right cell of the 2x2 collage.
    assert 640 < cat["x"] < 1280 and 0 < cat["y"] < 360
    assert 0.4 <= cat["confidence"] <= 1 and cat["detection_id"]


def test_registry_lists_the_loaded_model_as_the_sdk_reads_it(v1):
    registry = v1.ok("registry")
    entry = next(m for m in registry["models"] if m["model_id"] == v1.ids.detector)
    assert entry["task_type"] == "object-detection"
    assert (entry["input_height"], entry["input_width"]) == (416, 416)
    described = v1.ok("describe")
    assert described["model_id"] == v1.ids.detector and described["task_type"] == "object-detection"


def test_describing_a_model_that_is_not_loaded_without_loading_fails(v1):
    error = v1.error("describe_not_loaded")
    assert error["type"] == "ModelNotInitializedError"


def test_v1_instance_segmentation_returns_polygons(v1):
    response = v1.ok("segment")
    assert classes(response) == ["cat"]
    points = response["predictions"][0]["points"]
    assert len(points) >= 4
    # The mask is the prototype rectangle input x [16, 40), y [16, 32) scaled by 20 and 11.25.
    xs, ys = [p["x"] for p in points], [p["y"] for p in points]
    assert min(xs) == pytest.approx(320, abs=25) and max(xs) == pytest.approx(800, abs=25)
    assert min(ys) == pytest.approx(180, abs=15) and max(ys) == pytest.approx(360, abs=15)


def test_v1_keypoints_detection_returns_keypoints(v1):
    response = v1.ok("keypoints")
    assert classes(response) == ["person", "person"]
    best = response["predictions"][0]
    assert best["confidence"] == pytest.approx(0.95, abs=1e-3)
    assert [k["class"] for k in best["keypoints"]] == ["nose", "left_eye", "right_eye"]
    assert (best["keypoints"][0]["x"], best["keypoints"][0]["y"]) == pytest.approx((960.0, 450.0), abs=0.5)


def test_v1_classification_returns_top_and_predictions(v1):
    response = v1.ok("classify")
    assert response["top"] == "cat"
    assert [p["class"] for p in response["predictions"]] == ["cat", "dog", "car"]
    assert response["confidence"] == pytest.approx(response["predictions"][0]["confidence"])


def test_v1_batch_of_two_images_returns_two_results(v1):
    first, second = v1.ok("batch")
    assert "cat" in classes(first)
    assert "cat" not in classes(second)
    assert second["image"] == {"width": 512, "height": 512}  # the astronaut, in order
    assert_same_detections(first, v1.ok("detect"), tolerance=1e-3)


def test_confidence_threshold_changes_the_results(v1):
    low, high = v1.ok("confidence_low"), v1.ok("confidence_high")
    assert len(high["predictions"]) < len(low["predictions"])
    assert high["predictions"] and all(p["confidence"] >= 0.9 for p in high["predictions"])
    assert {"cat", "motorbike"} <= set(classes(low))


def test_unknown_model_is_reported_as_an_http_404(v1):
    error = v1.error("unknown_model")
    assert error["status_code"] == 404, error
    assert "no-such-model/1" in (error["api_message"] or error["message"])


def test_load_unload_and_clear(v1):
    assert v1.ok("clear")["models"] == []
    ids = v1.ids
    loaded = v1.ok("load")
    assert [m["model_id"] for m in loaded["models"]] == [ids.cls]
    assert loaded["models"][0]["task_type"] == "classification"
    assert {m["model_id"] for m in v1.ok("load_second")["models"]} == {ids.cls, ids.pose}
    assert [m["model_id"] for m in v1.ok("unload")["models"]] == [ids.pose]
    assert v1.ok("unload_all")["models"] == []


def test_v1_infer_with_the_zoo_alias(v1):
    assert "cat" in classes(v1.ok("alias"))


# --------------------------------------------------------------------------------- v0 (legacy)

def test_v0_mode_uses_the_legacy_route_with_the_same_predictions(v1):
    assert v1.ok("v0_mode") == "v0"
    legacy = v1.ok("v0_detect")
    assert {"cat", "motorbike"} <= set(classes(legacy))
    assert_same_detections(legacy, v1.ok("detect"), tolerance=0.01)
    high = v1.ok("v0_confidence_high")
    assert 0 < len(high["predictions"]) < len(legacy["predictions"])


def test_v0_mode_on_classification_and_keypoint_models(v1):
    assert v1.ok("v0_classify")["top"] == "cat"
    assert v1.ok("v0_classify")["predictions"] == v1.ok("classify")["predictions"]
    assert all(p["keypoints"] for p in v1.ok("v0_keypoints")["predictions"])


# ----------------------------------------------------------------------- an independent path

def test_sdk_results_equal_the_native_model(v1, zoo_manager, collage_jpg):
    """Same JPEG bytes, same parameters: the SDK's JSON over HTTP equals the in-process model."""
    native = zoo_manager.get(v1.ids.detector_alias).infer(collage_jpg, confidence=0.25, iou_threshold=0.45)
    expected = native.to_roboflow()
    sdk = v1.ok("compare_params")
    assert sorted(classes(sdk)) == sorted(classes(expected))
    assert_same_detections(sdk, expected, tolerance=0.5)
    for got, want in zip(sorted(sdk["predictions"], key=lambda p: p["confidence"]),
                         sorted(expected["predictions"], key=lambda p: p["confidence"])):
        assert got["confidence"] == pytest.approx(want["confidence"], abs=1e-3)
        assert got["class_id"] == want["class_id"]


# -------------------------------------------------------------------------------------- auth

def test_sdk_with_the_right_key_works_on_a_secured_server(secured):
    assert {"cat", "motorbike"} <= set(classes(secured.ok("with_key")))
    assert any(m["model_id"] == secured.ids.detector for m in secured.ok("with_key_registry")["models"])
    assert "cat" in classes(secured.ok("v0_with_key"))


def test_sdk_with_a_wrong_key_gets_401(secured):
    for name in ("wrong_key", "wrong_key_registry", "v0_wrong_key"):
        error = secured.error(name)
        assert error["status_code"] == 401, (name, error)
    assert secured.ok("wrong_key_info")["name"]  # /info needs no key


def test_sdk_venv_is_isolated_from_the_argus_environment():
    """The SDK's pinned dependencies live in their own venv, not in this interpreter."""
    versions = run_in_sdk(
        "import importlib.metadata as m, json; "
        "print(json.dumps({p: m.version(p) for p in ('inference-sdk', 'numpy', 'supervision')}))",
        {"PYTHONNOUSERSITE": "1", "HOME": os.environ.get("HOME", "/")},
    )
    assert versions["inference-sdk"] == "1.8.3"
    assert tuple(int(x) for x in versions["numpy"].split(".")[:2]) < (2, 4)
