"""The ``argus`` command line."""

from __future__ import annotations

import logging

import typer

from argus.cli import endpoints, foundation, infer, keys, models, serve, server, video, workflows, zoo

app = typer.Typer(name="argus", help="Argus: self-hosted computer-vision inference.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
app.command("infer")(infer.infer)
app.command("ocr")(foundation.ocr)
app.command("depth")(foundation.depth)
app.add_typer(foundation.clip_app, name="clip")
app.command("serve")(serve.serve)
app.add_typer(models.app, name="models")
app.add_typer(zoo.app, name="zoo")
app.add_typer(server.app, name="server")
app.add_typer(video.app, name="video")
app.add_typer(endpoints.app, name="endpoints")
app.add_typer(keys.app, name="keys")
app.add_typer(workflows.app, name="workflows")


@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress to stderr.")) -> None:
    """Argus: self-hosted computer-vision inference."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


if __name__ == "__main__":
    app()
