"""CORS: no headers unless origins are configured; then only those origins."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from argus.server.app import create_app
from argus.settings import Settings

PREFLIGHT = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}


def test_cors_is_off_by_default(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(home=tmp_path / "home"))) as client:
        assert "access-control-allow-origin" not in client.options("/infer/object_detection", headers=PREFLIGHT).headers


def test_cors_allows_only_the_configured_origins(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ALLOW_ORIGINS", "https://app.example, https://other.example")
    settings = Settings(home=tmp_path / "home")
    assert settings.cors_origins == ["https://app.example", "https://other.example"]
    with TestClient(create_app(settings)) as client:
        answer = client.options("/infer/object_detection", headers=PREFLIGHT)
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == "https://app.example"
        refused = client.get("/info", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in refused.headers
