"""Analytics blocks run frame by frame through a compiled workflow, against hand-computed oracles.

Detections of known motion are fed in through a ``WorkflowBatchInput`` (one ``sv.Detections`` per
frame), so the counts, times and speeds below follow from the motion alone.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import supervision as sv

from argus.errors import ClientError
from argus.settings import Settings
from argus.workflows import WorkflowContext, compile_workflow
from argus.workflows.blocks.analytics.path_deviation import frechet_distance
from argus.workflows.data import WorkflowImageData

FRAME = np.zeros((300, 400, 3), dtype=np.uint8)
HALF = 10  # boxes are 20 x 20


def boxes(centres: list[tuple[float, float]], tracker_ids: list[int] | None = None,
          class_ids: list[int] | None = None) -> sv.Detections:
    """Detections with 20x20 boxes around ``centres``."""
    xyxy = np.array([[x - HALF, y - HALF, x + HALF, y + HALF] for x, y in centres], dtype=float).reshape(-1, 4)
    n = len(centres)
    class_ids = class_ids or [0] * n
    return sv.Detections(xyxy=xyxy, confidence=np.full(n, 0.9), class_id=np.array(class_ids, dtype=int),
                         tracker_id=None if tracker_ids is None else np.array(tracker_ids, dtype=int),
                         data={"class_name": np.array([f"c{c}" for c in class_ids])})


def frame(number: int, fps: float = 10.0, video: str = "cam-1", timestamp: float | None = None) -> WorkflowImageData:
    """A frame of a video file (``frame_number / fps`` is its time) or of a stream (its timestamp)."""
    from argus.workflows.data import VideoMetadata

    metadata = VideoMetadata(video_identifier=video, frame_number=number, fps=fps,
                             frame_timestamp=timestamp, comes_from_video_file=timestamp is None)
    return WorkflowImageData.root(FRAME, video_metadata=metadata)


def workflow(steps: list[dict[str, Any]], outputs: dict[str, str], extra_inputs: list | None = None) -> dict:
    return {
        "version": "1.0",
        "inputs": [{"type": "WorkflowImage", "name": "image"},
                   {"type": "WorkflowBatchInput", "name": "dets", "kind": ["object_detection_prediction"]},
                   *(extra_inputs or [])],
        "steps": steps,
        "outputs": [{"type": "JsonField", "name": name, "selector": selector} for name, selector in outputs.items()],
    }


@pytest.fixture
def context(tmp_path) -> WorkflowContext:
    return WorkflowContext(settings=Settings(home=tmp_path / "home"))


# Four objects over 30 frames; the counting line is x = 200 from (200, 0) to (200, 300).
def motion(f: int) -> list[tuple[float, float]]:
    return [(45 + 10 * f, 50),     # A: left -> right
            (65 + 10 * f, 150),    # B: left -> right
            (365 - 10 * f, 250),   # C: right -> left
            (100, 20 + 5 * f)]     # D: moves down on the left, never crosses


TRACK_AND_COUNT = workflow(
    [{"type": "roboflow_core/byte_tracker@v3", "name": "tracker", "image": "$inputs.image",
      "detections": "$inputs.dets"},
     {"type": "roboflow_core/line_counter@v2", "name": "counter", "image": "$inputs.image",
      "detections": "$steps.tracker.tracked_detections", "line_segment": [[200, 0], [200, 300]]}],
    {"count_in": "$steps.counter.count_in", "count_out": "$steps.counter.count_out",
     "crossed_in": "$steps.counter.detections_in", "crossed_out": "$steps.counter.detections_out",
     "tracked": "$steps.tracker.tracked_detections", "new": "$steps.tracker.new_instances"})


def test_tracking_and_line_counting_over_known_motion_count_exactly(context) -> None:
    compiled = compile_workflow(TRACK_AND_COUNT, context)
    crossings: dict[str, list[int]] = {"in": [], "out": []}
    new_ids: list[int] = []
    for f in range(30):
        out = compiled.run({"image": frame(f), "dets": [boxes(motion(f))]}).outputs[0]
        for direction in ("in", "out"):
            crossings[direction] += [f] * len(out[f"crossed_{direction}"])
        new_ids += out["new"].tracker_id.tolist()
        if f >= 2:  # every object keeps one id from its second frame on (ByteTrack confirms on a match)
            assert sorted(out["tracked"].tracker_id.tolist()) == [1, 2, 3, 4]
    # With the line drawn top to bottom, supervision counts left -> right as "in": A and B cross in, C out.
    # Each is counted once, on the frame all four box corners have passed x = 200:
    # A: 45+10f-10 > 200 from f=17; B: 65+10f-10 > 200 from f=15; C: 365-10f+10 < 200 from f=18.
    assert (out["count_in"], out["count_out"]) == (2, 1)
    assert crossings == {"in": [15, 17], "out": [18]}
    assert sorted(new_ids) == [1, 2, 3, 4]  # each object is "new" exactly once


def test_state_is_per_video(context) -> None:
    compiled = compile_workflow(TRACK_AND_COUNT, context)
    for f in range(30):
        compiled.run({"image": frame(f, video="cam-1"), "dets": [boxes(motion(f))]})
        # cam-2 sees only object A, half as fast: it never reaches the line.
        out2 = compiled.run({"image": frame(f, video="cam-2"), "dets": [boxes([(45 + 5 * f, 50)])]}).outputs[0]
    assert (out2["count_in"], out2["count_out"]) == (0, 0)
    out1 = compiled.run({"image": frame(30, video="cam-1"), "dets": [boxes(motion(30))]}).outputs[0]
    assert (out1["count_in"], out1["count_out"]) == (2, 1)
    assert out2["tracked"].tracker_id.tolist() == [1]  # ids count from 1 in each video


def test_line_counter_v1_uses_the_video_metadata_input(context) -> None:
    definition = workflow(
        [{"type": "roboflow_core/byte_tracker@v1", "name": "tracker", "metadata": "$inputs.meta",
          "predictions": "$inputs.dets"},
         {"type": "roboflow_core/line_counter@v1", "name": "counter", "metadata": "$inputs.meta",
          "detections": "$steps.tracker.tracked_detections", "line_segment": [[200, 0], [200, 300]]}],
        {"count_in": "$steps.counter.count_in", "count_out": "$steps.counter.count_out"},
        extra_inputs=[{"type": "WorkflowVideoMetadata", "name": "meta"}])
    compiled = compile_workflow(definition, context)
    for f in range(30):
        meta = {"video_identifier": "v", "frame_number": f, "fps": 10, "comes_from_video_file": True}
        out = compiled.run({"image": FRAME, "dets": [boxes(motion(f))], "meta": meta}).outputs[0]
    assert (out["count_in"], out["count_out"]) == (2, 1)


def test_untracked_detections_are_refused_with_a_message(context) -> None:
    definition = workflow([{"type": "roboflow_core/line_counter@v2", "name": "counter", "image": "$inputs.image",
                            "detections": "$inputs.dets", "line_segment": [[200, 0], [200, 300]]}],
                          {"count_in": "$steps.counter.count_in"})
    with pytest.raises(ClientError, match="Step 'counter'.*tracker_id.*Byte Tracker"):
        compile_workflow(definition, context).run({"image": frame(0), "dets": [boxes([(10, 10)])]})


def test_bad_line_is_a_client_error_naming_the_field(context) -> None:
    definition = workflow([{"type": "roboflow_core/line_counter@v2", "name": "counter", "image": "$inputs.image",
                            "detections": "$inputs.dets", "line_segment": [[200, 0]]}],
                          {"count_in": "$steps.counter.count_in"})
    with pytest.raises(ClientError, match="line_segment must have exactly 2 points"):
        compile_workflow(definition, context).run({"image": frame(0), "dets": [boxes([(10, 10)], [1])]})


TIME_IN_ZONE = workflow(
    [{"type": "roboflow_core/time_in_zone@v2", "name": "zone", "image": "$inputs.image", "detections": "$inputs.dets",
      "zone": [[155, 0], [255, 0], [255, 300], [155, 300]], "remove_out_of_zone_detections": "$inputs.remove"}],
    {"timed": "$steps.zone.timed_detections"},
    extra_inputs=[{"type": "WorkflowParameter", "name": "remove", "default_value": True}])


def test_time_in_zone_with_known_timestamps(context) -> None:
    compiled = compile_workflow(TIME_IN_ZONE, context)
    # Object 7 walks right 20 px per frame from x=105; stream frames at irregular times.
    stamps = [100.0, 100.5, 101.25, 102.0, 104.0, 104.1, 107.0, 107.5, 108.0]
    seen: list[tuple[float, list[float]]] = []
    for f, stamp in enumerate(stamps):
        out = compiled.run({"image": frame(f, timestamp=stamp),
                            "dets": [boxes([(105 + 20 * f, 100), (20, 20)], tracker_ids=[7, 8])]}).outputs[0]
        seen.append((105 + 20 * f, out["timed"].data["time_in_zone"].round(6).tolist()))
    # Inside 155 < x < 255 from x = 165 (f=3, t=102) to 245 (f=7, t=107.5); object 8 is never inside (dropped).
    assert seen == [(105, []), (125, []), (145, []), (165, [0.0]), (185, [2.0]), (205, [2.1]), (225, [5.0]),
                    (245, [5.5]), (265, [])]


def test_time_in_zone_keeps_outsiders_with_zero_and_restarts_clock_on_reentry(context) -> None:
    compiled = compile_workflow(TIME_IN_ZONE, context)
    path = [200, 200, 300, 200, 200]  # in, in, out, in again, in
    times = []
    for f, x in enumerate(path):
        out = compiled.run({"image": frame(f, fps=2.0), "dets": [boxes([(x, 100)], tracker_ids=[1])],
                            "remove": False}).outputs[0]
        times.append(out["timed"].data["time_in_zone"].tolist())
    assert times == [[0.0], [0.5], [0.0], [0.0], [0.5]]


def test_velocity_against_hand_computed_speeds(context) -> None:
    definition = workflow([{"type": "roboflow_core/velocity@v1", "name": "v", "image": "$inputs.image",
                            "detections": "$inputs.dets", "smoothing_alpha": 0.5, "pixels_per_meter": 10}],
                          {"v": "$steps.v.velocity_detections"})
    compiled = compile_workflow(definition, context)
    speeds, smoothed = [], []
    for f in range(4):  # 10 fps; object 1 moves +10 px/frame in x and +(0, 0, 20, 0) in y
        y = [50, 50, 70, 70][f]
        out = compiled.run({"image": frame(f), "dets": [boxes([(100 + 10 * f, y)], tracker_ids=[1])]}).outputs[0]
        speeds += out["v"].data["speed"].tolist()
        smoothed += out["v"].data["smoothed_velocity"].ravel().tolist()
    # Raw velocity in px/s: (0,0), (100,0), (100,200), (100,0); /10 px per meter.
    assert speeds == pytest.approx([0.0, 10.0, math.hypot(10, 20), 10.0])
    # EMA with alpha 0.5: (0,0) -> (5,0) -> (7.5,10) -> (8.75,5)
    assert smoothed == pytest.approx([0, 0, 5, 0, 7.5, 10, 8.75, 5])


def test_path_deviation_is_the_discrete_frechet_distance(context) -> None:
    definition = workflow([{"type": "roboflow_core/path_deviation_analytics@v2", "name": "p",
                            "image": "$inputs.image", "detections": "$inputs.dets",
                            "reference_path": [[0, 50], [400, 50]]}],
                          {"p": "$steps.p.path_deviation_detections"})
    compiled = compile_workflow(definition, context)
    first = compiled.run({"image": frame(0), "dets": [boxes([(0, 60)], tracker_ids=[3])]}).outputs[0]
    second = compiled.run({"image": frame(1), "dets": [boxes([(400, 60)], tracker_ids=[3])]}).outputs[0]
    # One point must be coupled with both ends of the reference; two points pair off, each 10 px away.
    assert first["p"].data["path_deviation"].tolist() == pytest.approx([math.hypot(400, 10)])
    assert second["p"].data["path_deviation"].tolist() == pytest.approx([10.0])



def test_v1_time_in_zone_and_path_deviation_take_video_and_time_from_the_metadata_input(context) -> None:
    """The image carries no video metadata; the ``WorkflowVideoMetadata`` input names the video and the time."""
    definition = workflow(
        [{"type": "roboflow_core/time_in_zone@v1", "name": "zone", "image": "$inputs.image",
          "metadata": "$inputs.meta", "detections": "$inputs.dets", "zone": [[155, 0], [255, 0], [255, 300]]},
         {"type": "roboflow_core/path_deviation_analytics@v1", "name": "p", "metadata": "$inputs.meta",
          "detections": "$inputs.dets", "reference_path": [[0, 50], [400, 50]]}],
        {"timed": "$steps.zone.timed_detections", "p": "$steps.p.path_deviation_detections"},
        extra_inputs=[{"type": "WorkflowVideoMetadata", "name": "meta"}])
    compiled = compile_workflow(definition, context)

    def run(video: str, number: int, x: float) -> dict[str, Any]:
        meta = {"video_identifier": video, "frame_number": number, "fps": 2, "comes_from_video_file": True}
        return compiled.run({"image": FRAME, "dets": [boxes([(x, 60)], tracker_ids=[3])], "meta": meta}).outputs[0]

    # Object 3 sits inside the zone (x = 200) on frames 0, 1, 3 of video "a" (2 fps): 0, 0.5 and 1.5 s in.
    times = [run("a", number, 200)["timed"].data["time_in_zone"].tolist() for number in (0, 1, 3)]
    assert times == [[0.0], [0.5], [1.5]]
    # Video "b" starts its own clock and its own path for the same tracker id.
    first = run("b", 7, 200)
    assert first["timed"].data["time_in_zone"].tolist() == [0.0]
    assert first["p"].data["path_deviation"].tolist() == pytest.approx([math.hypot(200, 10)])
    # Video "a"'s path so far is three points at (200, 60); one more at (400, 60): the far end pairs with x = 0.
    assert run("a", 4, 400)["p"].data["path_deviation"].tolist() == pytest.approx([math.hypot(200, 10)])

def test_frechet_distance_matches_a_brute_force_over_couplings() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        a, b = rng.uniform(0, 10, (int(rng.integers(1, 5)), 2)), rng.uniform(0, 10, (int(rng.integers(1, 5)), 2))
        assert frechet_distance(a, b) == pytest.approx(_brute_force_frechet(a, b))


def _brute_force_frechet(a: np.ndarray, b: np.ndarray) -> float:
    """Minimum over all monotone couplings (walks from (0,0) to the end) of the largest pair distance."""
    best = math.inf

    def walk(i: int, j: int, worst: float) -> None:
        nonlocal best
        worst = max(worst, float(np.linalg.norm(a[i] - b[j])))
        if i == len(a) - 1 and j == len(b) - 1:
            best = min(best, worst)
            return
        for di, dj in ((1, 0), (0, 1), (1, 1)):
            if i + di < len(a) and j + dj < len(b):
                walk(i + di, j + dj, worst)

    walk(0, 0, 0.0)
    return best


def test_time_in_zone_v3_counts_time_in_any_of_several_zones(context) -> None:
    definition = workflow(
        [{"type": "roboflow_core/time_in_zone@v3", "name": "zone", "image": "$inputs.image",
          "detections": "$inputs.dets", "zone": [[[0, 0], [100, 0], [100, 100], [0, 100]],
                                                 [[200, 0], [300, 0], [300, 100], [200, 100]]],
          "reset_out_of_zone_detections": False}],
        {"timed": "$steps.zone.timed_detections"})
    compiled = compile_workflow(definition, context)
    # Object 1 at x = 50 (zone A), 150 (between: dropped, clock kept), 250 (zone B), 350 (out); 10 fps.
    times = [compiled.run({"image": frame(f), "dets": [boxes([(x, 50)], tracker_ids=[1])]})
             .outputs[0]["timed"].data["time_in_zone"].tolist() for f, x in enumerate([50, 150, 250, 350])]
    assert times == [[0.0], [], [pytest.approx(0.2)], []]
