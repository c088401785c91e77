"""``argus server``: look at a running server."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from argus.cli.common import console, reports_errors
from argus.sdk.client import Client
from argus.settings import get_settings

app = typer.Typer(help="Inspect a running Argus server.", no_args_is_help=True)


@app.command("status")
@reports_errors
def status(
    api_url: Annotated[str | None, typer.Option(help="Server URL (default: ARGUS_API_URL, else "
                                                     "http://127.0.0.1:$ARGUS_PORT).")] = None,
    api_key: Annotated[str | None, typer.Option(envvar="ARGUS_API_KEY", help="API key.")] = None,
) -> None:
    """Server version, readiness and loaded models."""
    import httpx

    api_url = api_url or get_settings().client_url
    try:
        with Client(api_url, api_key=api_key, timeout=10) as client:
            info = client.server_info()
            ready = client.ready()
            registry = client.list_models()
    except httpx.HTTPError as error:
        console.print(f"[red]cannot reach {api_url}:[/red] {error}")
        raise typer.Exit(1) from None
    console.print(f"{info['name']} {info['version']} at {api_url}: {'ready' if ready else 'not ready'}")
    table = Table(title="loaded models")
    for column in ("model id", "task", "input", "batch"):
        table.add_column(column)
    for model in registry["models"]:
        table.add_row(model["model_id"], model["task_type"], f"{model['input_width']}x{model['input_height']}",
                      str(model["batch_size"] or "dynamic"))
    console.print(table)
