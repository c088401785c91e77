"""``argus video run``: a model or workflow over a video file, stream or webcam, with live progress."""

from __future__ import annotations

import json
import time
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.live import Live
from rich.table import Table

from argus.cli.common import console, err_console, reports_errors
from argus.errors import InvalidInputError
from argus.settings import get_settings

app = typer.Typer(help="Run models and workflows on video.", no_args_is_help=True)


def _load_workflow(spec: str) -> dict[str, Any]:
    """A workflow definition from a JSON file or inline JSON (``{"specification": ...}`` is unwrapped)."""
    path = Path(spec).expanduser()
    try:
        text = path.read_text() if path.is_file() else spec
        definition = json.loads(text)
    except (OSError, ValueError) as error:
        raise InvalidInputError(f"--workflow must be a JSON file or inline JSON: {error}") from None
    if isinstance(definition, dict) and isinstance(definition.get("specification"), dict):
        definition = definition["specification"]
    if not isinstance(definition, dict):
        raise InvalidInputError("--workflow must hold a JSON object")
    return definition


def _stats_table(pipeline: Any, started: float) -> Table:
    table = Table(title=f"video  {time.monotonic() - started:6.1f} s", title_justify="left")
    # frame_decoding_latency is, as in the reference, the time from grab to inference: the wait in the buffer.
    for column in ("source", "state", "frames", "fps", "buffer wait ms", "inference ms", "e2e ms"):
        table.add_column(column, justify="right" if column != "state" else "left")
    reports = {r["source_id"]: r for r in pipeline.watchdog.latency_reports()}

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value * 1000:.1f}"

    for source in pipeline.sources:
        report = reports.get(source.source_id, {})
        table.add_row(str(source.source_id), source.get_state().value, str(report.get("frames_processed", 0)),
                      f"{report.get('throughput', 0.0):.1f}", ms(report.get("frame_decoding_latency")),
                      ms(report.get("inference_latency")), ms(report.get("e2e_latency")))
    return table


@app.command("run")
@reports_errors
def run(
    sources: Annotated[list[str], typer.Argument(help="Video files, image folders, rtsp:// / http:// URLs or webcam indexes.")],
    model: Annotated[str | None, typer.Option("--model", "-m", help="Model id (name/version) or zoo alias.")] = None,
    workflow: Annotated[str | None, typer.Option("--workflow", "-w", help="Workflow definition: JSON file or inline JSON.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write annotated video here (.mp4).")] = None,
    max_fps: Annotated[float | None, typer.Option(min=0.01, help="Process at most this many frames per second.")] = None,
    confidence: Annotated[float | None, typer.Option(min=0, max=1, help="Confidence threshold (model).")] = None,
    json_lines: Annotated[bool, typer.Option("--json", help="Print each prediction as a JSON line.")] = False,
) -> None:
    """Run a model (--model) or a workflow (--workflow) over video and show frames, fps and latency."""
    from argus.streams import InferencePipeline, VideoFileSink, multi_sink
    from argus.streams.sinks import pairs, serialize_prediction

    if (model is None) == (workflow is None):
        raise typer.BadParameter("give exactly one of --model and --workflow")
    writer = VideoFileSink(output) if output else None
    sinks = []
    if writer:
        sinks.append(writer.on_prediction)
    if json_lines:
        def print_json(predictions: Any, frames: Any) -> None:
            for prediction, frame in pairs(predictions, frames):
                line = json.dumps({**frame.metadata(), "prediction": serialize_prediction(prediction)}, default=str)
                console.out(line, highlight=False)  # one JSON object per line
        sinks.append(print_json)
    on_prediction = partial(multi_sink, sinks=sinks)
    references: list[str | int] = [int(s) if s.isdigit() else s for s in sources]
    if model is not None:
        pipeline = InferencePipeline.init(references, model, on_prediction, max_fps=max_fps, confidence=confidence,
                                          settings=get_settings())
    else:
        pipeline = InferencePipeline.init_with_workflow(references, _load_workflow(str(workflow)), on_prediction,
                                                        max_fps=max_fps, settings=get_settings())
    started = time.monotonic()
    pipeline.start(use_main_thread=False)
    try:
        with Live(_stats_table(pipeline, started), console=err_console, refresh_per_second=4,
                  transient=False) as live:
            while pipeline.running:
                time.sleep(0.25)
                live.update(_stats_table(pipeline, started))
    except KeyboardInterrupt:
        err_console.print("stopping ...")
        pipeline.terminate()
    finally:
        pipeline.join(timeout=10)
        if writer:
            writer.close()
    elapsed = time.monotonic() - started
    frames = pipeline.watchdog.frames_processed()
    err_console.print(f"{frames} frames in {elapsed:.1f} s ({frames / elapsed if elapsed else 0:.1f} fps)"
                      + (f"; annotated video: {output}" if output else ""))
    if pipeline.last_error:
        err_console.print(f"[yellow]last error:[/yellow] {pipeline.last_error}")
