"""Helpers shared by CLI commands: settings, consoles, error reporting."""

from __future__ import annotations

import functools
import glob
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console

from argus.errors import ArgusError

# Messages are never hard-wrapped (a file name split across lines cannot be found with grep); tables get the
# terminal's width, or 160 columns when the output is not a terminal (Rich's default of 80 truncates ids).
console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 160)

F = TypeVar("F", bound=Callable[..., Any])

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def reports_errors(function: F) -> F:
    """Turn an :class:`ArgusError` into a red message and exit code 1, instead of a traceback."""
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except ArgusError as error:
            err_console.print(f"[red]error:[/red] {error.message}")
            raise typer.Exit(1) from None
    return wrapper  # type: ignore[return-value]


def expand_images(sources: list[str]) -> list[Path]:
    """Files, directories (their images, sorted) and glob patterns → image paths."""
    paths: list[Path] = []
    for source in sources:
        path = Path(source).expanduser()
        if path.is_dir():
            paths.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES))
        elif path.exists():
            paths.append(path)
        else:
            matches = sorted(Path(p) for p in glob.glob(source, recursive=True))
            if not matches:
                raise typer.BadParameter(f"{source} matches no file")
            paths.extend(matches)
    return paths
