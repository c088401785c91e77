"""``argus video run`` end to end: the zoo detector over a generated clip, subsampled, written, printed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from stream_videos import count_frames, moving_square, write_video
from typer.testing import CliRunner

from argus.cli.main import app
from argus.settings import Settings, get_settings

COUNT, FPS = 20, 10
WORKFLOW = {"version": "1.0", "inputs": [{"type": "WorkflowImage", "name": "image"}],
            "steps": [{"type": "roboflow_core/roboflow_object_detection_model@v2", "name": "det",
                       "images": "$inputs.image", "model_id": "yolov3-tiny-416"}],
            "outputs": [{"type": "JsonField", "name": "found", "selector": "$steps.det.predictions"}]}


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, zoo_settings: Settings, zoo_manager: Any) -> Iterator[CliRunner]:
    zoo_manager.get("yolov3-tiny-416")  # the store under zoo_settings.home holds the detector
    monkeypatch.setenv("ARGUS_HOME", str(zoo_settings.home))
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_video(tmp_path_factory.mktemp("cli-video") / "square.mp4", moving_square(COUNT), fps=FPS)


def json_lines(output: str) -> list[dict[str, Any]]:
    """Each line that holds a JSON object, parsed (a pretty-printed object spread over lines fails here)."""
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_model_run_writes_annotated_video_at_max_fps(runner: CliRunner, clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "annotated.mp4"
    result = runner.invoke(app, ["video", "run", str(clip), "--model", "yolov3-tiny-416", "--output", str(out),
                                 "--max-fps", str(FPS / 2), "--json"])
    assert result.exit_code == 0, result.output
    lines = json_lines(result.stdout)
    assert [line["frame_id"] for line in lines] == list(range(1, COUNT + 1, 2))
    assert all(line["prediction"]["image"] == {"width": 160, "height": 120} for line in lines)
    assert count_frames(out) == COUNT // 2
    assert f"{COUNT // 2} frames in" in result.output


def test_workflow_run_from_a_file(runner: CliRunner, clip: Path, tmp_path: Path) -> None:
    spec = tmp_path / "workflow.json"
    spec.write_text(json.dumps({"specification": WORKFLOW}))
    result = runner.invoke(app, ["video", "run", str(clip), "--workflow", str(spec), "--json"])
    assert result.exit_code == 0, result.output
    lines = json_lines(result.stdout)
    assert len(lines) == COUNT
    assert lines[0]["prediction"]["found"]["predictions"] == []


@pytest.mark.parametrize("args", [[], ["--model", "m/1", "--workflow", "{}"]])
def test_exactly_one_of_model_and_workflow(runner: CliRunner, clip: Path, args: list[str]) -> None:
    result = runner.invoke(app, ["video", "run", str(clip), *args])
    assert result.exit_code == 2
    assert "exactly one of --model and --workflow" in result.output


def test_missing_video_is_reported(runner: CliRunner) -> None:
    result = runner.invoke(app, ["video", "run", "/no/such.mp4", "--model", "yolov3-tiny-416"])
    assert result.exit_code == 1
    assert "video file not found" in result.output
