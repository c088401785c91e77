"""``argus endpoints``: manage endpoints of a running server over its ``/v2/endpoint`` API."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import httpx
import typer
from rich.table import Table

from argus.cli.common import console, err_console
from argus.settings import get_settings

app = typer.Typer(help="Named, autoscaled deployments of a model on a running server.", no_args_is_help=True)

ApiUrl = Annotated[str | None, typer.Option("--api-url", help="Server URL (default: ARGUS_API_URL, else "
                                                              "http://127.0.0.1:$ARGUS_PORT).")]
ApiKey = Annotated[str | None, typer.Option("--api-key", envvar="ARGUS_API_KEY", help="API key.")]
Namespace = Annotated[str, typer.Option("--namespace", "-n", envvar="ARGUS_NAMESPACE", help="Namespace.")]
EndpointName = Annotated[str, typer.Argument(help="Endpoint name.")]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_MINUTES = {"s": 1 / 60, "m": 1.0, "": 1.0, "h": 60.0, "d": 1440.0}


def minutes(text: str) -> float:
    """``15m``, ``90s``, ``1h``, ``2d`` or a bare number of minutes → minutes."""
    match = _DURATION.match(text)
    if not match:
        raise typer.BadParameter(f"{text!r} is not a duration such as 15m, 90s or 1h")
    return float(match.group(1)) * _MINUTES[match.group(2)]


def env_pairs(items: list[str] | None) -> dict[str, str] | None:
    """``KEY=VALUE`` options → a dict."""
    if not items:
        return None
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{item!r} is not KEY=VALUE")
        pairs[key] = value
    return pairs


@contextmanager
def control_plane(api_url: str | None, api_key: str | None) -> Iterator[httpx.Client]:
    """An httpx client on the server's ``/v2`` with the key as a bearer token."""
    headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
    url = api_url.rstrip("/") if api_url else get_settings().client_url
    with httpx.Client(base_url=url + "/v2", headers=headers, timeout=60, trust_env=False) as client:
        yield client


def call(client: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
    """Send a request; on an error status print the server's message and exit 1."""
    try:
        response = client.request(method, path, **kwargs)
    except httpx.HTTPError as error:
        err_console.print(f"[red]error:[/red] cannot reach {client.base_url}: {error}")
        raise typer.Exit(1) from None
    if response.status_code >= 400:
        try:
            message = response.json().get("message", response.text)
        except ValueError:
            message = response.text
        err_console.print(f"[red]error ({response.status_code}):[/red] {message}")
        raise typer.Exit(1)
    if response.status_code == 204 or not response.content:
        return None
    if "json" in response.headers.get("content-type", ""):
        return response.json()
    return response.text


def _scaling(min_replica: int | None, max_replica: int | None, scale_to_zero: str | None,
             threshold: float | None) -> dict[str, Any]:
    scaling: dict[str, Any] = {}
    if min_replica is not None:
        scaling["minReplica"] = min_replica
    if max_replica is not None:
        scaling["maxReplica"] = max_replica
    if scale_to_zero is not None:
        scaling["scaleToZeroTimeout"] = minutes(scale_to_zero)
    if threshold is not None:
        scaling["measure"] = {"pendingRequests": threshold}
    return scaling


def _summary(endpoint: dict[str, Any]) -> str:
    status = endpoint["status"]
    return (f"{endpoint['name']}: {status['state']} ({status['message']}), {status['readyReplica']}/"
            f"{status['targetReplica']} replicas, {endpoint['type']}, model {endpoint['model']['repository']}\n"
            f"url: {status['url']}")


@app.command("create")
def create(
    name: EndpointName,
    model: Annotated[str, typer.Option("--model", "-m", help="Store id (name/version) or zoo alias.")],
    min_replica: Annotated[int, typer.Option("--min", help="Fewest replicas (0: scale to zero when idle).")] = 0,
    max_replica: Annotated[int, typer.Option("--max", help="Most replicas.")] = 1,
    scale_to_zero: Annotated[str | None, typer.Option(help="Idle time before zero replicas (15m, 90s, 1h).")] = None,
    endpoint_type: Annotated[str, typer.Option("--type", help="public, authenticated or private.")] = "authenticated",
    threshold: Annotated[float | None, typer.Option(help="Pending requests per replica that trigger scale-up.")] = None,
    env: Annotated[list[str] | None, typer.Option("--env", "-e", help="KEY=VALUE for the replicas.")] = None,
    namespace: Namespace = "default", api_url: ApiUrl = None, api_key: ApiKey = None,
) -> None:
    """Create an endpoint."""
    body: dict[str, Any] = {"name": name, "type": endpoint_type, "model": {"repository": model},
                            "compute": {"scaling": _scaling(min_replica, max_replica, scale_to_zero, threshold)}}
    if env:
        body["model"]["env"] = env_pairs(env)
    with control_plane(api_url, api_key) as client:
        console.print(_summary(call(client, "POST", f"/endpoint/{namespace}", json=body)))


@app.command("list")
def list_endpoints(namespace: Namespace = "default", api_url: ApiUrl = None, api_key: ApiKey = None) -> None:
    """Endpoints of a namespace."""
    with control_plane(api_url, api_key) as client:
        items = call(client, "GET", f"/endpoint/{namespace}")["items"]
    table = Table(title=f"endpoints in {namespace}")
    table.add_column("name", no_wrap=True)
    for column in ("state", "replicas", "type", "model"):
        table.add_column(column)
    table.add_column("url", overflow="fold")
    for e in items:
        s = e["status"]
        table.add_row(e["name"], s["state"], f"{s['readyReplica']}/{s['targetReplica']}", e["type"],
                      e["model"]["repository"], s["url"])
    console.print(table)


@app.command("describe")
def describe(name: EndpointName, namespace: Namespace = "default", api_url: ApiUrl = None,
             api_key: ApiKey = None) -> None:
    """The endpoint's full JSON."""
    with control_plane(api_url, api_key) as client:
        console.print_json(json.dumps(call(client, "GET", f"/endpoint/{namespace}/{name}")))


def _action(action: str, name: str, namespace: str, api_url: str | None, api_key: str | None) -> None:
    with control_plane(api_url, api_key) as client:
        console.print(_summary(call(client, "POST", f"/endpoint/{namespace}/{name}/{action}")))


@app.command("pause")
def pause(name: EndpointName, namespace: Namespace = "default", api_url: ApiUrl = None,
          api_key: ApiKey = None) -> None:
    """Stop all replicas until resumed."""
    _action("pause", name, namespace, api_url, api_key)


@app.command("resume")
def resume(name: EndpointName, namespace: Namespace = "default", api_url: ApiUrl = None,
           api_key: ApiKey = None) -> None:
    """Back to the scaling range."""
    _action("resume", name, namespace, api_url, api_key)


@app.command("scale-to-zero")
def scale_to_zero(name: EndpointName, namespace: Namespace = "default", api_url: ApiUrl = None,
                  api_key: ApiKey = None) -> None:
    """Drop replicas now; the next request wakes it."""
    _action("scale-to-zero", name, namespace, api_url, api_key)


@app.command("update")
def update(
    name: EndpointName,
    model: Annotated[str | None, typer.Option("--model", "-m", help="New model (rolling update).")] = None,
    min_replica: Annotated[int | None, typer.Option("--min")] = None,
    max_replica: Annotated[int | None, typer.Option("--max")] = None,
    scale_to_zero: Annotated[str | None, typer.Option(help="Idle time before zero replicas.")] = None,
    endpoint_type: Annotated[str | None, typer.Option("--type")] = None,
    threshold: Annotated[float | None, typer.Option()] = None,
    env: Annotated[list[str] | None, typer.Option("--env", "-e", help="KEY=VALUE (replaces the env).")] = None,
    namespace: Namespace = "default", api_url: ApiUrl = None, api_key: ApiKey = None,
) -> None:
    """Change an endpoint; a new model or env rolls its replicas without dropping requests."""
    body: dict[str, Any] = {}
    if model is not None or env:
        body["model"] = {k: v for k, v in (("repository", model), ("env", env_pairs(env))) if v is not None}
    scaling = _scaling(min_replica, max_replica, scale_to_zero, threshold)
    if scaling:
        body["compute"] = {"scaling": scaling}
    if endpoint_type is not None:
        body["type"] = endpoint_type
    if not body:
        raise typer.BadParameter("nothing to change: pass --model, --min, --max, --scale-to-zero, --type or --env")
    with control_plane(api_url, api_key) as client:
        console.print(_summary(call(client, "PUT", f"/endpoint/{namespace}/{name}", json=body)))


@app.command("delete")
def delete(name: EndpointName, namespace: Namespace = "default", api_url: ApiUrl = None,
           api_key: ApiKey = None) -> None:
    """Delete an endpoint (its replicas drain and stop)."""
    with control_plane(api_url, api_key) as client:
        call(client, "DELETE", f"/endpoint/{namespace}/{name}")
    console.print(f"deleted {namespace}/{name}")


@app.command("logs")
def logs(name: EndpointName, follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing.")] = False,
         tail: Annotated[int, typer.Option(help="Lines per replica.")] = 200, namespace: Namespace = "default",
         api_url: ApiUrl = None, api_key: ApiKey = None) -> None:
    """Replica logs (each line prefixed with its replica)."""
    params: dict[str, Any] = {"tail": tail, "follow": follow}
    with control_plane(api_url, api_key) as client:
        if not follow:
            typer.echo(call(client, "GET", f"/endpoint/{namespace}/{name}/logs", params=params), nl=False)
            return
        try:
            while True:  # the server ends each followed stream after a while: follow again for new lines only
                with client.stream("GET", f"/endpoint/{namespace}/{name}/logs", params=params,
                                   timeout=None) as stream:
                    if stream.status_code >= 400:
                        stream.read()
                        err_console.print(f"[red]error ({stream.status_code}):[/red] {stream.text}")
                        raise typer.Exit(1)
                    for chunk in stream.iter_text():
                        typer.echo(chunk, nl=False)
                params["tail"] = 0
        except (KeyboardInterrupt, httpx.HTTPError):
            pass


@app.command("metrics")
def metrics(name: EndpointName, namespace: Namespace = "default", api_url: ApiUrl = None,
            api_key: ApiKey = None) -> None:
    """Requests, errors, latency and replicas over time."""
    with control_plane(api_url, api_key) as client:
        data = call(client, "GET", f"/endpoint/{namespace}/{name}/metrics")
    table = Table(title=f"{namespace}/{name}: {data['totals']['requests']} requests, {data['totals']['errors']} errors")
    for column in ("at", "requests", "errors", "p50 ms", "p95 ms", "p99 ms", "replicas", "pending"):
        table.add_column(column)
    for s in data["samples"]:
        lat = s["latencyMs"]
        table.add_row(s["at"], str(s["requests"]), str(s["errors"]),
                      *(f"{lat[q]:.1f}" if lat[q] is not None else "-" for q in ("p50", "p95", "p99")),
                      f"{s['readyReplica']}/{s['targetReplica']}", f"{s['pendingRequests']:.1f}")
    console.print(table)
