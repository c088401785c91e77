"""``argus models``: import, list, show and remove models in the store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from argus.cli.common import console, reports_errors
from argus.settings import get_settings
from argus.store.bundle import KIND_TASK, BundleManifest
from argus.store.manifest import Family, ResizeMode, Task
from argus.store.repository import ModelRepository

app = typer.Typer(help="Manage the model store.", no_args_is_help=True)


def _repository() -> ModelRepository:
    return ModelRepository(get_settings().model_store_dir)


@app.command("import")
@reports_errors
def import_(
    path: Annotated[Path, typer.Argument(help="An .onnx file, a Roboflow model-cache folder, or a Hugging Face export "
                                              "folder (optimum-cli export onnx, transformers.js).")],
    model_id: Annotated[str, typer.Option("--id", help="name/version to store it under.")],
    task: Annotated[Task | None, typer.Option(help="Override the task.")] = None,
    family: Annotated[Family | None, typer.Option(help="Override the output layout family.")] = None,
    classes: Annotated[str | None, typer.Option(help="Class names: comma-separated, or a file with one per line.")
                       ] = None,
    input_size: Annotated[str | None, typer.Option(help="WIDTHxHEIGHT when the graph's is dynamic.")] = None,
    resize: Annotated[ResizeMode | None, typer.Option(help="stretch | letterbox | center-crop")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing model with this id.")] = False,
) -> None:
    """Import a model; ultralytics exports and Roboflow cache folders need no other flag."""
    from argus.store.importers import import_model

    overrides: dict[str, object] = {"task": task, "family": family, "resize": resize}
    if classes:
        source = Path(classes).expanduser()
        names = source.read_text().splitlines() if source.is_file() else classes.split(",")
        overrides["class_names"] = [n.strip() for n in names if n.strip()]
    if input_size:
        try:
            width, height = (int(v) for v in input_size.lower().split("x"))
        except ValueError:
            raise typer.BadParameter("--input-size must look like 640x640") from None
        overrides["input_width"], overrides["input_height"] = width, height
    stored = import_model(path, model_id, _repository(), overwrite=overwrite, **overrides)
    m = stored.manifest
    if isinstance(m, BundleManifest):
        console.print(f"imported [bold]{stored.model_id}[/bold]: a {m.kind.value} bundle ({', '.join(m.files.values())})")
        return
    console.print(f"imported [bold]{stored.model_id}[/bold]: {m.task.value}, {m.family.value}, "
                  f"{m.input_width}x{m.input_height}, {len(m.class_names)} classes")


@app.command("list")
@reports_errors
def list_() -> None:
    """List the models in the store."""
    table = Table()
    for column in ("model id", "task", "family", "input", "classes", "size"):
        table.add_column(column)
    for stored in _repository().list():
        m = stored.manifest
        table.add_row(stored.model_id, m.task.value, m.family.value, f"{m.input_width}x{m.input_height}",
                      str(len(m.class_names)), f"{stored.size_bytes / 1e6:.1f} MB")
    for bundle in _repository().list_bundles():
        table.add_row(bundle.model_id, KIND_TASK[bundle.manifest.kind], bundle.manifest.kind.value, "", "",
                      f"{bundle.size_bytes / 1e6:.1f} MB")
    console.print(table)


@app.command("show")
@reports_errors
def show(model_id: str) -> None:
    """Print a model's manifest."""
    repository = _repository()
    manifest = repository.bundle(model_id).manifest if repository.is_bundle(model_id) else repository.manifest(model_id)
    console.print_json(manifest.model_dump_json())


@app.command("rm")
@reports_errors
def remove(model_id: str) -> None:
    """Remove a model from the store."""
    _repository().remove(model_id)
    console.print(f"removed {model_id}")


@app.command("optimize")
@reports_errors
def optimize(
    model_id: Annotated[str, typer.Argument(help="The stored FP32 model (name/version).")],
    int8: Annotated[bool, typer.Option("--int8", help="Write a statically quantized INT8 (QDQ) variant.")] = False,
    calibration: Annotated[Path | None, typer.Option(
        help="A folder of photos like the ones the model will serve: every fourth is held back to check the "
             "variant against FP32, the rest calibrate it.")] = None,
    variant_id: Annotated[str | None, typer.Option("--id", help="Where to store it (default name-int8/version).")
                          ] = None,
    min_agreement: Annotated[float, typer.Option(min=0.0, max=1.0, help="Refuse a variant that agrees with FP32 "
                                                 "less than this (box F1@0.5 or top-1 agreement).")] = 0.95,
    force: Annotated[bool, typer.Option(help="Write the variant even under --min-agreement.")] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing model with the variant's id.")] = False,
) -> None:
    """Make a faster variant of a stored model and measure its agreement with FP32 and its speed-up."""
    from argus.models.optimize import photos_in, quantize_int8

    if not int8:
        raise typer.BadParameter("choose a precision: --int8 (BF16/FP16 variants need a GPU provider and are "
                                 "not built yet)")
    if calibration is None:
        raise typer.BadParameter("--int8 needs --calibration DIR: photos like the ones the model will serve")
    with console.status(f"calibrating, quantizing and checking {model_id} ..."):
        report = quantize_int8(_repository(), model_id, get_settings(), photos_in(calibration.expanduser()),
                               variant_id=variant_id, min_agreement=min_agreement, force=force,
                               overwrite=overwrite)
    console.print(f"wrote [bold]{report.variant_id}[/bold]: {report.metric} {report.agreement:.3f} against FP32 on "
                  f"{report.held_back} held-back photos (calibrated on {report.calibration}); session.run median "
                  f"{report.fp32_ms:.1f} ms → {report.variant_ms:.1f} ms ({report.speedup:.2f}x)")


@app.command("tune")
@reports_errors
def tune(
    model_id: Annotated[str, typer.Argument(help="The stored model (name/version).")],
    photo: Annotated[Path | None, typer.Option(help="A photo like the ones it will serve (default: a 1280x720 "
                                                     "synthetic image).")] = None,
    clients: Annotated[int, typer.Option(min=1, max=64, help="Concurrent callers in the closed loop.")] = 4,
    requests: Annotated[int, typer.Option(min=4, help="Measured calls per candidate.")] = 40,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Measure and print; leave the manifest alone.")
                       ] = False,
) -> None:
    """Measure runner instances x intra-op threads x batch size here and store the best in the manifest."""
    import numpy as np

    from argus.core.images import load_image
    from argus.models.tune import tune_model

    image = load_image(photo.expanduser()) if photo else np.random.default_rng(0).integers(
        0, 256, (720, 1280, 3), dtype=np.uint8)
    table = Table("instances", "intra-op threads", "batch", "images/s", "p50 ms", "p99 ms")
    with console.status(f"measuring {model_id} ...") as status:
        measurements, chosen = tune_model(
            _repository(), model_id, get_settings(), image, clients=clients, requests=requests, write=not dry_run,
            progress=lambda m: status.update(f"measuring {model_id}: {m.candidate} {m.images_per_s:.1f} images/s"))
    for m in measurements:
        c = m.candidate
        style = "bold green" if m is chosen else None
        threads = str(c.intra_op_threads) if c.intra_op_threads else "follow load"
        table.add_row(str(c.instances), threads, str(c.max_batch_size), f"{m.images_per_s:.1f}",
                      f"{m.p50_ms:.1f}", f"{m.p99_ms:.1f}", style=style)
    console.print(table)
    c = chosen.candidate
    verb = "would store" if dry_run else "stored"
    threads = f"{c.intra_op_threads} intra-op threads" if c.intra_op_threads else "threads following load"
    console.print(f"{verb} in {model_id}'s manifest: {c.instances} instances, {threads}, batch {c.max_batch_size} "
                  f"({chosen.images_per_s:.1f} images/s at {clients} clients)")
