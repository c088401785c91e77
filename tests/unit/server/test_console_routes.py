"""The routes behind the console: the page and its CSP, the store and zoo lists, and the workflow store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient

from argus.server.app import create_app
from argus.settings import Settings
from argus.store.importers import import_model
from argus.store.repository import ModelRepository
from onnx_builders import classifier, save

VALID = {"version": "1.0", "inputs": [{"type": "WorkflowImage", "name": "image"}],
         "steps": [{"type": "roboflow_core/roboflow_object_detection_model@v2", "name": "model",
                    "images": "$inputs.image", "model_id": "yolov3-tiny-416"}],
         "outputs": [{"type": "JsonField", "name": "predictions", "selector": "$steps.model.predictions"}]}


def _app(tmp_path: Path) -> TestClient:
    settings = Settings(home=tmp_path)
    import_model(save(classifier(np.array([0.1, 0.9])), tmp_path / "c.onnx"), "tiny/1",
                 ModelRepository(settings.model_store_dir), task="classification", class_names=["a", "b"])
    return TestClient(create_app(settings))


def test_the_console_page_and_its_assets_are_served_under_a_strict_policy(tmp_path: Path) -> None:
    with _app(tmp_path) as api:
        page = api.get("/")
        assert page.status_code == 200 and '<script type="module" src="/console-assets/app.js">' in page.text
        policy = page.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy and "unsafe" not in policy
        for asset in ("app.js", "app.css"):
            assert api.get(f"/console-assets/{asset}").status_code == 200


def test_the_store_and_zoo_lists(tmp_path: Path) -> None:
    with _app(tmp_path) as api:
        (stored,) = api.get("/models/store").json()["models"]
        assert (stored["model_id"], stored["task"], stored["classes"], stored["loaded"]) == (
            "tiny/1", "classification", 2, False)
        assert api.get("/models/store/tiny/1").json()["manifest"]["class_names"] == ["a", "b"]
        assert api.get("/models/store/nope/1").status_code == 404
        zoo = {entry["alias"]: entry for entry in api.get("/models/zoo").json()["models"]}
        assert zoo["yolov3-tiny-416"]["model_id"] == "coco-yolov3-tiny/1" and not zoo["yolov3-tiny-416"]["in_store"]


def test_a_workflow_is_saved_only_when_it_compiles_and_reads_back_whole(tmp_path: Path) -> None:
    with _app(tmp_path) as api:
        broken = {**VALID, "outputs": [{"type": "JsonField", "name": "p", "selector": "$steps.nope.predictions"}]}
        refused = api.put("/workflows/store/local/people", json=broken)
        assert refused.status_code == 400 and "nope" in refused.json()["message"]
        assert api.get("/workflows/store").json() == {"workflows": []}
        big = {**VALID, "note": 2 ** 70}  # beyond 64 bits: orjson cannot write it, the answer must still be 200
        assert api.put("/workflows/store/local/people", json=big).json()["status"] == "saved"
        assert api.get("/workflows/store").json() == {"workflows": [{"workspace": "local", "workflow_id": "people"}]}
        assert api.get("/workflows/store/local/people").json()["specification"] == big
        assert api.get("/workflows/store/local/nobody").status_code == 404
        assert api.put("/workflows/store/..%2Fetc/x", json=VALID).status_code in (400, 404)


def test_foundation_bundles_are_listed_with_their_kind(tmp_path: Path) -> None:
    from foundation_fixtures import FIXTURES

    import_model(FIXTURES / "clip-optimum", "clip/tiny", ModelRepository(Settings(home=tmp_path).model_store_dir))
    with _app(tmp_path) as api:
        models = {m["model_id"]: m for m in api.get("/models/store").json()["models"]}
        assert (models["clip/tiny"]["task"], models["clip/tiny"]["family"], models["clip/tiny"]["classes"]) == (
            "embed", "clip", None)
        manifest = api.get("/models/store/clip/tiny").json()["manifest"]
        assert manifest["kind"] == "clip" and manifest["files"]["model"] == "model.onnx"
