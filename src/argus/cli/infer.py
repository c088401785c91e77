"""``argus infer``: predictions for images, directories or globs, printed as JSON or a table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from argus.cli.common import console, err_console, expand_images, reports_errors


def _row_table(path: Path, body: dict[str, Any]) -> Table:
    table = Table(title=str(path))
    for column in ("class", "confidence", "x", "y", "width", "height"):
        table.add_column(column)
    predictions = body.get("predictions", [])
    if isinstance(predictions, dict):  # multi-label classification
        predictions = [{"class": k, **v} for k, v in predictions.items()]
    for p in predictions:
        table.add_row(*(str(p.get(c, "")) for c in ("class", "confidence", "x", "y", "width", "height")))
    return table


@reports_errors
def infer(
    images: Annotated[list[str], typer.Argument(help="Image files, directories or glob patterns.")],
    model: Annotated[str, typer.Option("--model", "-m", help="Model id (name/version) or zoo alias.")],
    confidence: Annotated[float | None, typer.Option(help="Confidence threshold (0-1).")] = None,
    iou_threshold: Annotated[float | None, typer.Option(help="NMS IoU threshold (0-1).")] = None,
    class_filter: Annotated[list[str] | None, typer.Option("--class", help="Keep only these classes.")] = None,
    output: Annotated[str, typer.Option("--format", "-f", help="json | table")] = "json",
    save_dir: Annotated[Path | None, typer.Option(help="Write annotated images here.")] = None,
    api_url: Annotated[str | None, typer.Option(help="Infer through an Argus server instead of in-process.")] = None,
    api_key: Annotated[str | None, typer.Option(envvar="ARGUS_API_KEY", help="API key for --api-url.")] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Parallel requests with --api-url.")] = 4,
) -> None:
    """Run a model on images and print the predictions (JSON lines, or tables)."""
    paths = expand_images(images)
    params = {"confidence": confidence, "iou_threshold": iou_threshold,
              "class_filter": class_filter or None}
    params = {k: v for k, v in params.items() if v is not None}
    if save_dir:
        save_dir.mkdir(parents=True, exist_ok=True)
    from argus.cli.inference_runner import run_inference

    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                        console=err_console, transient=True, disable=len(paths) < 2)
    failed = 0
    with progress:
        task = progress.add_task(f"infer {model}", total=len(paths))
        for outcome in run_inference(paths, model, params, api_url=api_url, api_key=api_key,
                                     concurrency=concurrency, annotate=save_dir is not None):
            progress.advance(task)
            if outcome.body is None:
                failed += 1
                err_console.print(f"[red]{outcome.path}:[/red] {outcome.error}", highlight=False)
                if output != "table":
                    console.out(orjson.dumps({"file": str(outcome.path), "error": outcome.error}).decode(),
                                highlight=False)
                continue
            if output == "table":
                console.print(_row_table(outcome.path, outcome.body))
            else:
                console.out(orjson.dumps({"file": str(outcome.path), **outcome.body}).decode(), highlight=False)
            if save_dir is not None and outcome.annotated is not None:
                (save_dir / f"{outcome.path.stem}.jpg").write_bytes(outcome.annotated)
    if failed:
        err_console.print(f"[red]{failed} of {len(paths)} images failed[/red]")
        raise typer.Exit(1)
