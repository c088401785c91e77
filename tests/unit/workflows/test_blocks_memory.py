"""Where Argus's memory blocks deliberately differ from the reference: the cache's scope, and every bound."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from argus.settings import Settings
from argus.workflows import WorkflowContext, compile_workflow
from argus.workflows.errors import WorkflowDefinitionError

FRAME = np.zeros((240, 320, 3), np.uint8)


def cache_workflow(tmp_path: Path):  # type: ignore[no-untyped-def]
    definition = {"version": "1.0",
                  "inputs": [{"type": "WorkflowImage", "name": "image"}, {"type": "WorkflowParameter", "name": "v"},
                             {"type": "WorkflowParameter", "name": "set_key"}],
                  "steps": [{"type": "roboflow_core/cache_set@v1", "name": "set", "image": "$inputs.image",
                             "key": "$inputs.set_key", "value": "$inputs.v"},
                            {"type": "roboflow_core/cache_get@v1", "name": "get", "image": "$inputs.image",
                             "key": "shared"}],
                  "outputs": [{"type": "JsonField", "name": "got", "selector": "$steps.get.output"}]}
    return compile_workflow(definition, WorkflowContext(settings=Settings(home=tmp_path)))


def test_a_workflow_cannot_read_what_another_workflow_cached(tmp_path: Path) -> None:
    writer, reader = cache_workflow(tmp_path), cache_workflow(tmp_path)
    writer.run({"image": FRAME, "v": "secret", "set_key": "shared"})
    assert writer.run({"image": FRAME, "v": "x", "set_key": "other"}).outputs[0]["got"] == "secret"
    assert reader.run({"image": FRAME, "v": "y", "set_key": "other"}).outputs[0]["got"] is False


def test_the_image_stack_holds_jpeg_frames_fitted_into_the_resolution_newest_first(tmp_path: Path) -> None:
    definition = {"version": "1.0", "inputs": [{"type": "WorkflowImage", "name": "image"}],
                  "steps": [{"type": "roboflow_core/image_stack@v1", "name": "s", "image": "$inputs.image",
                             "stack_size": 2, "resolution_width": 160, "resolution_height": 100}],
                  "outputs": [{"type": "JsonField", "name": "frames", "selector": "$steps.s.frames"}]}
    workflow = compile_workflow(definition, WorkflowContext(settings=Settings(home=tmp_path)))
    for shade in (10, 120, 240):
        frames = workflow.run({"image": np.full((240, 320, 3), shade, np.uint8)}).outputs[0]["frames"]
    decoded = [cv2.imdecode(np.frombuffer(f, np.uint8), cv2.IMREAD_COLOR) for f in frames]
    assert [d.shape for d in decoded] == [(100, 133, 3), (100, 133, 3)]  # 320×240 × min(160/320, 100/240)
    assert [round(float(d.mean())) for d in decoded] == [240, 120]


@pytest.mark.parametrize("step", [
    {"type": "roboflow_core/buffer@v1", "data": "$inputs.image", "length": 1_001},
    {"type": "roboflow_core/frame_delay@v1", "image": "$inputs.image", "data": "$inputs.image", "offset": -257},
    {"type": "roboflow_core/frame_delay@v1", "image": "$inputs.image", "data": "$inputs.image", "offset": 1},
    {"type": "roboflow_core/image_stack@v1", "image": "$inputs.image", "stack_size": 65},
])
def test_memory_beyond_the_bounds_is_refused_when_the_workflow_compiles(tmp_path: Path, step: dict) -> None:
    definition = {"version": "1.0", "inputs": [{"type": "WorkflowImage", "name": "image"}],
                  "steps": [{"name": "s", **step}], "outputs": []}
    with pytest.raises(WorkflowDefinitionError):
        compile_workflow(definition, WorkflowContext(settings=Settings(home=tmp_path)))


def test_state_of_the_least_recently_seen_video_is_dropped_beyond_the_blocks_limit(tmp_path: Path) -> None:
    definition = {"version": "1.0",
                  "inputs": [{"type": "WorkflowImage", "name": "image"}, {"type": "WorkflowParameter", "name": "v"}],
                  "steps": [{"type": "roboflow_core/frame_delay@v1", "name": "s", "image": "$inputs.image",
                             "data": "$inputs.v", "offset": -1}],
                  "outputs": [{"type": "JsonField", "name": "out", "selector": "$steps.s.output"}]}
    workflow = compile_workflow(definition, WorkflowContext(settings=Settings(home=tmp_path)))

    def frame(video: str, number: int) -> dict:
        return {"image": {"type": "numpy_object", "value": FRAME,
                          "video_metadata": {"video_identifier": video, "frame_number": number}},
                "v": f"{video}:{number}"}

    for video in ("a", *(f"v{i}" for i in range(15))):  # 16 videos: the frame-delay block's limit
        workflow.run(frame(video, 1))
    assert workflow.run(frame("a", 2)).outputs[0]["out"] == "a:1"  # still held; "a" is now the most recent
    workflow.run(frame("v16", 1))  # a 17th video: "v0", seen least recently, is dropped
    assert workflow.run(frame("v0", 2)).outputs[0]["out"] is None
    assert workflow.run(frame("a", 3)).outputs[0]["out"] == "a:2"
