"""``argus workflows``: the local workflow store (add, list, rm) and running a workflow over images."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from argus.cli.common import console, err_console, expand_images, reports_errors
from argus.errors import InvalidInputError

app = typer.Typer(help="Workflows: save, list, remove and run workflow definitions.", no_args_is_help=True)


def _store() -> Any:
    from argus.settings import Settings
    from argus.workflows.store import WorkflowStore

    return WorkflowStore(Settings().workflow_store_dir)


def _read_definition(source: str) -> dict[str, Any]:
    """A definition from a JSON file, or ``workspace/workflow_id`` of the local store."""
    path = Path(source).expanduser()
    if path.is_file():
        try:
            data = json.loads(path.read_text())
        except ValueError as error:
            raise InvalidInputError(f"{path} is not valid JSON: {error}") from None
        return data["specification"] if isinstance(data, dict) and "specification" in data else data
    if source.count("/") == 1:
        workspace, workflow_id = source.split("/")
        return _store().get(workspace, workflow_id).load()
    raise InvalidInputError(f"{source} is neither a JSON file nor 'workspace/workflow_id' of the local store.")


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """``k=v`` pairs; values are JSON when they parse as JSON (numbers, lists, true), else strings."""
    params: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise typer.BadParameter(f"--param takes name=value, got {pair!r}")
        name, raw = pair.split("=", 1)
        try:
            params[name.strip()] = json.loads(raw)
        except ValueError:
            params[name.strip()] = raw
    return params


@app.command("add")
@reports_errors
def add(
    spec: Annotated[Path, typer.Argument(help="Workflow definition (JSON file).", exists=True, dir_okay=False)],
    workflow_id: Annotated[str | None, typer.Option("--id", help="Workflow id (default: the file name).")] = None,
    workspace: Annotated[str, typer.Option(help="Workspace name used in the URL.")] = "local",
    overwrite: Annotated[bool, typer.Option(help="Replace a workflow with the same id.")] = False,
) -> None:
    """Validate a definition and save it; it is then served at POST /{workspace}/workflows/{id}."""
    from argus.workflows.compiler import build_plan

    definition = _read_definition(str(spec))
    build_plan(definition)
    stored = _store().add(workspace, workflow_id or spec.stem, definition, overwrite=overwrite)
    console.print(f"saved [bold]{stored.workspace}/{stored.workflow_id}[/bold] → {stored.path}")


@app.command("list")
@reports_errors
def list_workflows(as_json: Annotated[bool, typer.Option("--json", help="JSON lines output.")] = False) -> None:
    """List the saved workflows."""
    stored = _store().list()
    if as_json:
        for item in stored:
            console.out(orjson.dumps({"workspace": item.workspace, "workflow_id": item.workflow_id,
                                      "path": str(item.path)}).decode(), highlight=False)
        return
    table = Table("workspace", "workflow id", "file")
    for item in stored:
        table.add_row(item.workspace, item.workflow_id, str(item.path))
    console.print(table)


@app.command("rm")
@reports_errors
def remove(
    workflow_id: Annotated[str, typer.Argument(help="Workflow id.")],
    workspace: Annotated[str, typer.Option(help="Workspace name.")] = "local",
) -> None:
    """Remove a saved workflow."""
    _store().remove(workspace, workflow_id)
    console.print(f"removed {workspace}/{workflow_id}")


def _image_input(definition: dict[str, Any], chosen: str | None) -> str:
    names = [i.get("name") for i in definition.get("inputs", []) if isinstance(i, dict)
             and i.get("type") in ("WorkflowImage", "InferenceImage")]
    if chosen:
        if chosen not in names:
            raise InvalidInputError(f"the workflow has no image input '{chosen}' (image inputs: {names or 'none'})")
        return chosen
    if not names:
        raise InvalidInputError("the workflow declares no WorkflowImage input to feed --image to")
    return str(names[0])


@app.command("run")
@reports_errors
def run(
    spec: Annotated[str, typer.Argument(help="Workflow definition (JSON file) or workspace/workflow_id.")],
    images: Annotated[list[str], typer.Option("--image", "-i", help="Image file, directory or glob (repeatable).")],
    params: Annotated[list[str] | None, typer.Option("--param", "-p", help="Workflow parameter name=value.")] = None,
    image_input: Annotated[str | None, typer.Option(help="Image input to feed (default: the first).")] = None,
    profile: Annotated[bool, typer.Option(help="Include the profiler trace in each line.")] = False,
) -> None:
    """Run a workflow in-process on each image; one JSON line per image: {"image", "outputs"}."""
    from argus.runtime.manager import ModelManager
    from argus.settings import Settings
    from argus.workflows import WorkflowContext, compile_workflow, serialize_outputs

    definition = _read_definition(spec)
    settings = Settings()
    compiled = compile_workflow(definition, WorkflowContext(settings=settings, manager=ModelManager(settings)))
    name = _image_input(definition, image_input)
    values = parse_params(params or [])
    declared = {str(item.get("name")) for item in definition.get("inputs") or [] if isinstance(item, dict)}
    unknown = sorted(set(values) - declared)
    if unknown:
        raise typer.BadParameter(f"the workflow declares no input named {', '.join(unknown)}; its inputs are: "
                                 f"{', '.join(sorted(declared)) or 'none'}", param_hint="--param")
    paths = expand_images(images)
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                        console=err_console, transient=True, disable=len(paths) < 2)
    from argus.core.images import load_image

    with progress:
        task = progress.add_task(f"workflow {Path(spec).stem}", total=len(paths))
        for path in paths:
            result = compiled.run({name: load_image(path, settings.max_image_pixels), **values}, profile=profile)
            line: dict[str, Any] = {"image": str(path), "outputs": serialize_outputs(result.outputs)[0]}
            if profile:
                line["profiler_trace"] = result.profiler_trace
            console.out(orjson.dumps(line, option=orjson.OPT_SERIALIZE_NUMPY).decode(), highlight=False)
            progress.advance(task)
