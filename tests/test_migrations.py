"""Models and migrations describe the same schema, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import migrations
from services.kit.db import create_engine
from services.search.models import engine_object
from services.tables import metadata
from tests.fixtures.databases import POSTGRES_URL, create_postgres_database, drop_postgres_database
from tests.fixtures.environment import service_unavailable


def migrations_env_include(obj, name, type_, reflected, compare_to) -> bool:
    # The search index's FTS5 table and tsvector column are each database's own, outside the models.
    return not engine_object(name, type_, getattr(getattr(obj, "table", None), "name", None))


async def _drift(database_url: str) -> list:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True, "include_object": migrations_env_include}), metadata
                )
            )
    finally:
        await engine.dispose()


def _roundtrip_and_drift(url: str) -> list:
    migrations.upgrade(url)
    command.downgrade(migrations.alembic_config(url), "base")
    migrations.upgrade(url)
    return asyncio.run(_drift(url))


def test_no_drift_on_sqlite(tmp_path):
    assert _roundtrip_and_drift(f"sqlite+aiosqlite:///{tmp_path}/drift.db") == []


@pytest.mark.postgres
def test_no_drift_on_postgresql():
    try:
        url = create_postgres_database()
    except Exception as exc:
        service_unavailable(f"PostgreSQL at {POSTGRES_URL} ({exc})")
    try:
        assert _roundtrip_and_drift(url) == []
    finally:
        drop_postgres_database(url)


def test_migration_files_are_named_by_date_and_slug():
    names = [path.name for path in (migrations.LOCATION / "versions").glob("*.py")]
    assert names
    assert all(name[:4].isdigit() and name[4] == "-" and name[10] == "_" for name in names), names
    assert len(migrations.head_revisions()) == 1, "migration history has more than one head"
