"""``argus keys``: API keys of a namespace (the secret is printed once, at creation)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from argus.cli.common import console
from argus.cli.endpoints import ApiKey, ApiUrl, Namespace, call, control_plane

app = typer.Typer(help="API keys for endpoints.", no_args_is_help=True)


@app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="A label for the key.")] = "",
    role: Annotated[str, typer.Option(help="invoke (call endpoints) or admin (also manage them).")] = "invoke",
    endpoint: Annotated[list[str] | None, typer.Option("--endpoint", "-E",
                                                       help="Restrict to these endpoints (repeat).")] = None,
    namespace: Namespace = "default", api_url: ApiUrl = None, api_key: ApiKey = None,
) -> None:
    """Create a key and print its secret (shown only now)."""
    body = {"name": name, "role": role, "endpoints": endpoint or None}
    with control_plane(api_url, api_key) as client:
        created = call(client, "POST", f"/endpoint-keys/{namespace}", json=body)
    console.print(f"key {created['id']} ({created['role']}, endpoints: {created['endpoints'] or 'all'})")
    console.print("secret (store it now, it is not shown again):")
    typer.echo(created["secret"])


@app.command("list")
def list_keys(include_revoked: Annotated[bool, typer.Option(help="Show revoked keys too.")] = False,
              namespace: Namespace = "default", api_url: ApiUrl = None, api_key: ApiKey = None) -> None:
    """Keys of a namespace (ids and prefixes, never secrets)."""
    with control_plane(api_url, api_key) as client:
        items = call(client, "GET", f"/endpoint-keys/{namespace}", params={"include_revoked": include_revoked})["items"]
    table = Table(title=f"keys of {namespace}")
    table.add_column("id", no_wrap=True)
    for column in ("name", "role", "endpoints", "prefix", "created", "revoked"):
        table.add_column(column)
    for k in items:
        table.add_row(k["id"], k["name"], k["role"], ", ".join(k["endpoints"]) if k["endpoints"] else "all",
                      k["prefix"] + "…", k["createdAt"], k["revokedAt"] or "")
    console.print(table)


@app.command("revoke")
def revoke(key_id: Annotated[str, typer.Argument(help="Key id (key_...).")], namespace: Namespace = "default",
           api_url: ApiUrl = None, api_key: ApiKey = None) -> None:
    """Revoke a key; it stops working at once."""
    with control_plane(api_url, api_key) as client:
        call(client, "DELETE", f"/endpoint-keys/{namespace}/{key_id}")
    console.print(f"revoked {key_id}")
