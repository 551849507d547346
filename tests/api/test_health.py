"""Liveness and readiness as an orchestrator sees them."""

from __future__ import annotations

import httpx

from services.api.app import create_app
from services.settings import Settings
from tests.fixtures.app import TEST_SECRET


async def test_healthz_and_readyz_when_migrated(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ok"


async def _readyz(database_url: str, tmp_path) -> httpx.Response:
    app = create_app(Settings(database_url=database_url, secret_key=TEST_SECRET, data_dir=tmp_path, _env_file=None))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
            return await http.get("/readyz")
    finally:
        await app.state.engine.dispose()


async def test_readyz_is_503_before_migrations(tmp_path):
    response = await _readyz(f"sqlite+aiosqlite:///{tmp_path}/empty.db", tmp_path)
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


async def test_readyz_is_503_when_the_database_is_unreachable(tmp_path):
    response = await _readyz("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere", tmp_path)
    assert response.status_code == 503
    assert "unreachable" in response.json()["detail"]
