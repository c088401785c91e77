"""``argus serve``: run the HTTP server."""

from __future__ import annotations

from typing import Annotated

import typer

from argus.cli.common import reports_errors
from argus.settings import Settings


@reports_errors
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1; 0.0.0.0 for all).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 9001).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (each loads its own models).")] = None,
    preload: Annotated[list[str] | None, typer.Option("--preload", help="Models to load at start.")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    access_log: Annotated[bool, typer.Option("--access-log", help="Log one line per request (uvicorn's access log).")
                          ] = False,
) -> None:
    """Start the inference server (Roboflow Inference and Open Inference Protocol v2 routes)."""
    import logging

    import uvicorn

    if logging.getLogger("argus").getEffectiveLevel() > logging.INFO:
        # The server's own progress (preloads, zoo downloads, replicas) is worth seeing without -v.
        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        logging.getLogger("argus").setLevel(logging.INFO)

    overrides: dict[str, object] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    if workers is not None:
        overrides["workers"] = workers
    if preload:
        overrides["preload_models"] = preload
    settings = Settings(**overrides)  # type: ignore[arg-type]
    from argus.cli.workers import supervise, uvicorn_options

    if settings.workers > 1:
        variables = {"ARGUS_HOST": settings.host, "ARGUS_PORT": str(settings.port),
                     "ARGUS_PRELOAD_MODELS": ",".join(settings.preload_models)}
        supervise(settings, variables, log_level, access_log)
        return
    from argus.server.app import create_app

    uvicorn.run(create_app(settings), **uvicorn_options(settings, log_level, access_log))
