"""The argus CLI: models import/list/show/rm, zoo list, infer output, error reporting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from argus.cli.main import app
from argus.settings import Settings
from argus.store.zoo import Zoo, ZooFetchError


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.setenv("ARGUS_HOME", str(tmp_path / "home"))
    from argus.settings import get_settings

    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def _tiny_classifier(path: Path) -> Path:
    import onnx
    from onnx import TensorProto, helper

    node = helper.make_node("ReduceMean", ["images"], ["scores"], axes=[2, 3], keepdims=0)
    graph = helper.make_graph([node], "tiny",
                              [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 3])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_models_lifecycle(runner: CliRunner, tmp_path: Path) -> None:
    source = _tiny_classifier(tmp_path / "cls.onnx")
    imported = runner.invoke(app, ["models", "import", str(source), "--id", "colours/1", "--classes", "r,g,b"])
    assert imported.exit_code == 0, imported.output
    assert "classification" in imported.output and "3 classes" in imported.output
    listed = runner.invoke(app, ["models", "list"])
    assert "colours/1" in listed.output
    shown = runner.invoke(app, ["models", "show", "colours/1"])
    assert json.loads(shown.output)["class_names"] == ["r", "g", "b"]
    image = tmp_path / "red.png"
    __import__("cv2").imwrite(str(image), __import__("numpy").full((8, 8, 3), (0, 0, 255), "uint8"))
    inferred = runner.invoke(app, ["infer", str(image), "--model", "colours/1"])
    assert inferred.exit_code == 0, inferred.output
    assert json.loads(inferred.output)["top"] == "r"
    assert runner.invoke(app, ["models", "rm", "colours/1"]).exit_code == 0
    missing = runner.invoke(app, ["models", "show", "colours/1"])
    assert missing.exit_code == 1 and "not in the model store" in missing.output


def test_bad_model_id_is_reported_not_raised(runner: CliRunner, tmp_path: Path) -> None:
    source = _tiny_classifier(tmp_path / "cls.onnx")
    result = runner.invoke(app, ["models", "import", str(source), "--id", "../escape/1"])
    assert result.exit_code == 1 and "name/version" in result.output


def test_zoo_list_names_licenses(runner: CliRunner) -> None:
    result = runner.invoke(app, ["zoo", "list"])
    assert result.exit_code == 0
    assert "yolov3-tiny-416" in result.output and "AGPL" in result.output


def test_zoo_file_source_checksum(tmp_path: Path) -> None:
    model = _tiny_classifier(tmp_path / "cls.onnx")
    catalogue = tmp_path / "catalogue.json"
    catalogue.write_text(json.dumps({"entries": [{
        "alias": "my-cls", "model_id": "my-cls/1", "license": "mine", "importer": "onnx",
        "source": {"type": "file", "path": str(model), "sha256": "0" * 64},
        "manifest": {"task": "classification", "class_names": ["r", "g", "b"]}}]}))
    zoo = Zoo(Settings(home=tmp_path / "home", zoo_catalogue=catalogue))
    entry = zoo.entry_for("my-cls")
    assert entry is not None and zoo.entry_for("yolov3-tiny-416") is not None  # adds to the built-in ones
    with pytest.raises(ZooFetchError, match="checksum mismatch"):
        zoo.materialise(entry)
    from argus.store.repository import sha256_of

    fixed = entry.model_copy(update={"source": entry.source.model_copy(update={"sha256": sha256_of(model)})})
    stored = zoo.materialise(fixed)
    assert stored.model_id == "my-cls/1" and stored.manifest.license == "mine"


def test_infer_names_every_image_and_goes_on_past_a_bad_one(runner: CliRunner, tmp_path: Path) -> None:
    import cv2
    import numpy as np

    source = _tiny_classifier(tmp_path / "cls.onnx")
    assert runner.invoke(app, ["models", "import", str(source), "--id", "colours/1", "--classes", "r,g,b"]).exit_code == 0
    photos = tmp_path / "photos"
    photos.mkdir()
    cv2.imwrite(str(photos / "a_red.png"), np.full((8, 8, 3), (0, 0, 255), np.uint8))
    (photos / "b_broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    cv2.imwrite(str(photos / "c_blue.png"), np.full((8, 8, 3), (255, 0, 0), np.uint8))
    result = CliRunner().invoke(app, ["infer", str(photos), "--model", "colours/1"])
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [Path(line["file"]).name for line in lines] == ["a_red.png", "b_broken.png", "c_blue.png"]
    assert lines[0]["top"] == "r" and lines[2]["top"] == "b"
    assert "error" in lines[1] and "b_broken.png" in result.stderr


def test_the_cli_finds_the_server_from_the_settings() -> None:
    assert Settings(port=9555).client_url == "http://127.0.0.1:9555"
    assert Settings(api_url="http://gpu-box:9001/", port=9555).client_url == "http://gpu-box:9001"
