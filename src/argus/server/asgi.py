"""ASGI entry point for process managers (``uvicorn argus.server.asgi:app``): settings from the environment."""

from argus.server.app import create_app

app = create_app()
