"""Python SDK for an Argus (or Roboflow Inference) server."""

from argus.sdk.client import AsyncClient, Client

__all__ = ["AsyncClient", "Client"]
