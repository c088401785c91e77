"""The web console at ``/``: one page of plain HTML, CSS and JavaScript shipped in the package (no CDN, no build
step, no Node at run time), served with a strict Content-Security-Policy.

The page itself holds no data and needs no key; everything it shows comes from the API with the key the user
enters once (kept in the tab's ``sessionStorage`` and sent as ``Authorization: Bearer``, never in a URL). To
change the console, edit ``argus/server/console/`` and reload.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

ASSETS_URL = "/console-assets"
ASSETS_DIR = Path(__file__).parent / "console"
POLICY = ("default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; "
          "style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")


def install(app: FastAPI) -> None:
    """Serve the console at ``/`` and its assets under ``/console-assets``."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="console-assets")
    page = (ASSETS_DIR / "index.html").read_text()

    async def console() -> HTMLResponse:
        return HTMLResponse(page, headers={"Content-Security-Policy": POLICY, "Cache-Control": "no-cache"})

    app.add_api_route("/", console, include_in_schema=False)
