"""Model ids cannot escape the store; the repository stores, lists and removes models atomically."""

from __future__ import annotations

from pathlib import Path

import pytest

from argus.errors import ConflictError, InvalidModelIdError, ModelArtifactError, ModelNotFoundError
from argus.store.manifest import ModelManifest
from argus.store.model_id import parse_model_id
from argus.store.repository import ModelRepository, sha256_of


@pytest.mark.parametrize("good", ["coco/3", "my-model_v2/10", "a.b/1.0", "X/y"])
def test_valid_ids(good: str) -> None:
    name, version = good.split("/")
    assert parse_model_id(good) == (name, version)


@pytest.mark.parametrize("bad", [
    "", "coco", "coco/3/4", "../etc/1", "coco/..", "/etc/passwd", "coco/../../x", "..%2f/1", "a b/1",
    "coco/3\x00", ".hidden/1", "coco/-1", "c:\\x/1", "a..b/1",
])
def test_crafted_ids_are_refused(bad: str) -> None:
    with pytest.raises(InvalidModelIdError) as info:
        parse_model_id(bad)
    assert "name/version" in info.value.message or "invalid" in info.value.message


def _manifest() -> ModelManifest:
    return ModelManifest(task="object-detection", family="yolov8", input_width=64, input_height=64,
                         class_names=["a"])


def test_add_list_remove(tmp_path: Path) -> None:
    repo = ModelRepository(tmp_path / "models")
    onnx_file = tmp_path / "m.onnx"
    onnx_file.write_bytes(b"not really onnx")
    stored = repo.add("cats/1", onnx_file, _manifest())
    assert stored.manifest.sha256 == sha256_of(onnx_file)
    assert [m.model_id for m in repo.list()] == ["cats/1"]
    assert repo.manifest("cats/1").class_names == ["a"]
    with pytest.raises(ConflictError):
        repo.add("cats/1", onnx_file, _manifest())
    repo.remove("cats/1")
    assert repo.list() == []
    with pytest.raises(ModelNotFoundError):
        repo.model_path("cats/1")
    assert not list((tmp_path / "models").glob(".incoming-*"))


def test_symlink_escape_is_refused(tmp_path: Path) -> None:
    repo = ModelRepository(tmp_path / "models")
    (tmp_path / "models" / "evil").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (tmp_path / "models" / "evil" / "1").symlink_to(tmp_path / "outside")
    with pytest.raises(ModelNotFoundError, match="outside"):
        repo.model_path("evil/1")


def test_broken_manifest_is_an_artifact_error(tmp_path: Path) -> None:
    repo = ModelRepository(tmp_path / "models")
    onnx_file = tmp_path / "m.onnx"
    onnx_file.write_bytes(b"x")
    repo.add("cats/1", onnx_file, _manifest())
    (tmp_path / "models" / "cats" / "1" / "model.json").write_text("{\"task\": 5}")
    with pytest.raises(ModelArtifactError, match="invalid model.json"):
        repo.manifest("cats/1")
    assert repo.list() == []  # a broken entry is skipped, not fatal
