"""``argus zoo``: the catalogue of real pretrained weights and their materialisation."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from argus.cli.common import console, reports_errors
from argus.errors import ModelNotFoundError
from argus.settings import get_settings
from argus.store.zoo import Zoo

app = typer.Typer(help="The model zoo (real weights from package registries).", no_args_is_help=True)


@app.command("list")
@reports_errors
def list_() -> None:
    """List zoo aliases, their store ids and licenses."""
    zoo = Zoo(get_settings())
    table = Table()
    for column in ("alias", "model id", "default", "stored", "license"):
        table.add_column(column)
    for entry in zoo.entries():
        table.add_row(entry.alias, entry.model_id, "yes" if entry.default else "no",
                      "yes" if zoo.repository.has(entry.model_id) else "no", entry.license)
    console.print(table)


@app.command("pull")
@reports_errors
def pull(aliases: Annotated[list[str] | None, typer.Argument(help="Aliases (default: the default set).")] = None
         ) -> None:
    """Fetch, verify and import zoo models into the store."""
    zoo = Zoo(get_settings())
    entries = []
    for alias in aliases or [e.alias for e in zoo.entries() if e.default]:
        entry = zoo.entry_for(alias)
        if entry is None:
            raise ModelNotFoundError(f"'{alias}' is not in the zoo; see `argus zoo list`.")
        entries.append(entry)
    for entry in entries:
        with console.status(f"fetching {entry.alias}"):
            stored = zoo.materialise(entry)
        console.print(f"{entry.alias} → {stored.model_id} ({stored.size_bytes / 1e6:.1f} MB; {entry.license})")
