"""``/docs`` (Swagger UI) and ``/redoc`` served from assets in a package, so they work without internet.

FastAPI's own pages load their scripts from a CDN and are blank offline. The ``fastapi-offline`` package ships
the Swagger UI and ReDoc bundles; this module serves them under ``/docs-assets`` and builds the two pages
with FastAPI's HTML helpers pointing there.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles

ASSETS_URL = "/docs-assets"
ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
"""ReDoc's bundle fetches its footer logo from this CDN; it is served with an empty image in its place."""
EMPTY_SVG = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E"


def install(app: FastAPI) -> None:
    """Serve ``/docs``, ``/docs/oauth2-redirect`` and ``/redoc`` from the packaged assets."""
    redoc_bundle = (ASSETS_DIR / "redoc.standalone.js").read_text().replace(REDOC_LOGO, EMPTY_SVG)

    async def redoc_script() -> Response:
        return Response(redoc_bundle, media_type="text/javascript")

    app.add_api_route(f"{ASSETS_URL}/redoc.standalone.js", redoc_script, include_in_schema=False)  # before the mount
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")
    title = f"{app.title} {app.version}"

    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{title} – API",
                                   swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
                                   swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
                                   oauth2_redirect_url="/docs/oauth2-redirect",
                                   swagger_ui_parameters={"validatorUrl": None})  # no badge from swagger.io

    async def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    async def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url="/openapi.json", title=f"{title} – ReDoc",
                              redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
                              redoc_favicon_url=f"{ASSETS_URL}/favicon.png", with_google_fonts=False)

    app.add_api_route("/docs", swagger_ui, include_in_schema=False)
    app.add_api_route("/docs/oauth2-redirect", oauth2_redirect, include_in_schema=False)
    app.add_api_route("/redoc", redoc, include_in_schema=False)
