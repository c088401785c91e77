"""Video pipeline throughput and latency for the zoo detector.

Run: ``python benchmarks/video_pipeline.py [--model yolov3-tiny-416] [--frames 150] [--rounds 3] [--live-seconds 10]``

1. A generated 1280x720 H.264 file (the sample collage panning): the bare model's images/s on
   frames decoded beforehand (``model.infer`` one frame at a time, nothing else running) next to the
   pipeline's processed frames/s on the same file (decode thread + inference + sinks; WAIT/LAZY so
   every frame is processed), rounds alternated in one run. Target: pipeline / bare >= 0.9, i.e.
   decoding and sinks overlap with inference instead of adding to it.
2. A live 720p RTSP stream (aio-rtsp-toolkit's server, 25 fps, from the dev extra): end-to-end
   latency per frame (grabbed from the stream -> sinks done) with the default live strategies
   (ADAPTIVE_DROP_OLDEST + EAGER), and how many stream frames were processed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT / "tests" / "unit" / "streams"))  # video writer and RTSP server helpers
sys.path.insert(0, str(ROOT / "tests"))

from stream_videos import RtspServer, write_video

from argus.runtime.manager import ModelManager
from argus.settings import Settings
from argus.streams import InferencePipeline, VideoFileSink, VideoFrame, multi_sink

console = Console(width=140)


def panning_clip(path: Path, frames: int, fps: int = 25) -> Path:
    """The sample photo collage moving across a 1280x720 canvas."""
    sample = cv2.imread(str(ROOT / "examples" / "sample.jpg"))
    base = cv2.resize(sample, (1100, 620), interpolation=cv2.INTER_AREA)
    images = []
    for i in range(frames):
        canvas = np.full((720, 1280, 3), 127, np.uint8)
        x = 10 + (i * 4) % 160
        canvas[50:670, x:x + 1100] = base
        images.append(canvas)
    return write_video(path, images, fps=fps)


def bare_model(model: Any, images: list[np.ndarray]) -> float:
    started = time.perf_counter()
    for image in images:
        model.infer(image)
    return len(images) / (time.perf_counter() - started)


def pipeline_fps(clip: Path, model_id: str, manager: ModelManager, sink_dir: Path | None) -> tuple[float, int]:
    count = 0
    lock = threading.Lock()

    def counter(prediction: Any, frame: VideoFrame) -> None:
        nonlocal count
        with lock:
            count += 1

    sinks = [counter]
    writer = VideoFileSink(sink_dir / "annotated.mp4") if sink_dir else None
    if writer:
        sinks.append(writer.on_prediction)
    pipeline = InferencePipeline.init(str(clip), model_id, lambda p, f: multi_sink(p, f, sinks), manager=manager)
    started = time.perf_counter()
    pipeline.start(use_main_thread=False)
    pipeline.join()
    elapsed = time.perf_counter() - started
    if writer:
        writer.close()
    return count / elapsed, count


def throughput(args: argparse.Namespace, manager: ModelManager, scratch: Path) -> None:
    clip = panning_clip(scratch / "pan720.mp4", args.frames)
    with av.open(str(clip)) as container:
        images = [frame.to_ndarray(format="bgr24") for frame in container.decode(video=0)]
    model = manager.get(args.model)
    for image in images[:5]:
        model.infer(image)  # warm up
    rows: dict[str, list[float]] = {"bare model.infer (decoded beforehand)": [], "pipeline, no sink": [],
                                    "pipeline + annotated video file sink": []}
    for _ in range(args.rounds):
        rows["bare model.infer (decoded beforehand)"].append(bare_model(model, images))
        fps, count = pipeline_fps(clip, args.model, manager, None)
        assert count == len(images), f"the pipeline processed {count} of {len(images)} frames"
        rows["pipeline, no sink"].append(fps)
        rows["pipeline + annotated video file sink"].append(pipeline_fps(clip, args.model, manager, scratch)[0])
    baseline = statistics.median(rows["bare model.infer (decoded beforehand)"])
    table = Table(title=f"{args.model} on a 1280x720 H.264 file, {len(images)} frames, {args.rounds} rounds")
    for column in ("what", "median frames/s", "min", "max", "ratio vs bare model"):
        table.add_column(column, justify="right" if column != "what" else "left")
    for name, values in rows.items():
        table.add_row(name, f"{statistics.median(values):.1f}", f"{min(values):.1f}", f"{max(values):.1f}",
                      f"{statistics.median(values) / baseline:.3f}")
    console.print(table)


def live_latency(args: argparse.Namespace, manager: ModelManager, scratch: Path) -> None:
    media = scratch / "media"
    media.mkdir()
    panning_clip(media / "live.mp4", 100)
    latencies: list[float] = []
    frame_ids: list[int] = []

    def sink(prediction: Any, frame: VideoFrame) -> None:
        latencies.append(time.perf_counter() - frame.grabbed_at)
        frame_ids.append(frame.frame_id)

    with RtspServer(media) as server:
        pipeline = InferencePipeline.init(server.url("live.mp4"), args.model, sink, manager=manager)
        pipeline.start(use_main_thread=False)
        time.sleep(args.live_seconds)
        report = pipeline.watchdog.latency_reports()
        pipeline.terminate()
        pipeline.join(timeout=30)
    if not latencies:
        console.print("[red]no frame arrived from the live stream[/red]")
        return
    steady = latencies[5:] or latencies  # the first frames include the connection's start
    deciles = statistics.quantiles(steady, n=100) if len(steady) > 1 else steady * 100
    table = Table(title=f"{args.model} on a live 720p RTSP stream (25 fps), {args.live_seconds:.0f} s, "
                        "defaults ADAPTIVE_DROP_OLDEST + EAGER")
    for column in ("frames processed", "stream frames seen", "processed fps", "e2e p50 ms", "e2e p90 ms",
                   "e2e p99 ms", "in buffer ms (mean)", "inference ms (mean)"):
        table.add_column(column, justify="right")
    source = report[0] if report else {}
    table.add_row(str(len(latencies)), str(frame_ids[-1] - frame_ids[0] + 1),
                  f"{source.get('throughput', 0.0):.1f}", f"{statistics.median(steady) * 1e3:.1f}",
                  f"{deciles[89] * 1e3:.1f}", f"{deciles[98] * 1e3:.1f}",
                  f"{(source.get('frame_decoding_latency') or 0) * 1e3:.1f}",
                  f"{(source.get('inference_latency') or 0) * 1e3:.1f}")
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="yolov3-tiny-416")
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--live-seconds", type=float, default=10.0)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="argus-video-bench-"))
    manager = ModelManager(Settings(home=scratch / "home"))
    throughput(args, manager, scratch)
    live_latency(args, manager, scratch)


if __name__ == "__main__":
    main()
