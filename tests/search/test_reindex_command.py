"""`cogov search reindex` rebuilds the index from the database, norms' live text included."""

from __future__ import annotations

from sqlalchemy import text

from services.kit.db import transaction
from tests.cli import run_cogov


async def test_reindex_rebuilds_everything_from_the_database(client, app, council, database_url, tmp_path):
    async with transaction(app.state.sessionmaker) as session:
        await session.execute(text("DELETE FROM search_documents WHERE kind <> 'norm'"))
    assert (await client.get("/api/v1/search", params={"q": "ranking"})).json()["items"] == []

    result = run_cogov("search", "reindex", database_url=database_url, data_dir=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "1 norm texts" in result.stdout + result.stderr

    found = (await client.get("/api/v1/search", params={"q": "ranking"})).json()["items"]
    assert sorted(hit["kind"] for hit in found) == ["norm", "version"]  # the norm's live text too, not only its title
    networks = (await client.get("/api/v1/search", params={"kind": "network"})).json()["items"]
    assert [hit["url"] for hit in networks] == [f"/networks/{council['slug']}"]
