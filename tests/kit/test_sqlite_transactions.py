"""SQLite through the one-trip cursor: transactions keep their meaning, and a statement is one trip to aiosqlite's thread."""

from __future__ import annotations

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from services.kit.db import create_engine, create_sessionmaker


@pytest.fixture
async def engine(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/cogov.db")
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL)"))
    yield engine
    await engine.dispose()


@pytest.fixture
def trips(monkeypatch) -> list[str]:
    """The name of each function sent to an aiosqlite connection's thread, in order."""
    sent: list[str] = []
    original = aiosqlite.Connection._execute

    async def counted(self, fn, *args, **kwargs):
        sent.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return sent


async def _count(connection) -> int:
    return (await connection.execute(text("SELECT count(*) FROM items"))).scalar_one()


async def test_a_transaction_reads_one_snapshot_from_its_first_statement(engine):
    async with engine.connect() as reader, engine.connect() as writer:
        assert await _count(reader) == 0  # the reader's transaction began with this read
        await writer.execute(text("INSERT INTO items (name) VALUES ('a')"))
        await writer.commit()
        assert await _count(reader) == 0, "a read transaction saw a commit made after it began"
        await reader.rollback()
        assert await _count(reader) == 1


async def test_rollback_undoes_a_transaction_whose_first_statement_wrote(engine):
    async with engine.connect() as connection:
        await connection.execute(text("INSERT INTO items (name) VALUES ('kept?')"))
        await connection.rollback()
        assert await _count(connection) == 0


async def test_a_failed_statement_fails_only_its_transaction(engine):
    sessionmaker = create_sessionmaker(engine)
    async with sessionmaker() as session:
        await session.execute(text("INSERT INTO items (name) VALUES ('same')"))
        with pytest.raises(IntegrityError):
            await session.execute(text("INSERT INTO items (name) VALUES ('same')"))
        await session.rollback()
    with pytest.raises(OperationalError, match="no such table"):
        async with engine.connect() as connection:
            await connection.execute(text("SELECT * FROM missing"))
    async with engine.begin() as connection:
        await connection.execute(text("INSERT INTO items (name) VALUES ('after')"))
    async with engine.connect() as connection:
        assert (await connection.execute(text("SELECT name FROM items"))).scalars().all() == ["after"]


async def test_row_ids_counts_and_returned_rows(engine):
    async with engine.begin() as connection:
        inserted = await connection.execute(text("INSERT INTO items (name) VALUES ('x')"))
        assert inserted.lastrowid == 1
        many = await connection.execute(text("INSERT INTO items (name) VALUES (:name)"), [{"name": "y"}, {"name": "z"}])
        assert many.rowcount == 2
        updated = await connection.execute(text("UPDATE items SET name = name || '!' WHERE id > 1"))
        assert updated.rowcount == 2
        returned = await connection.execute(text("UPDATE items SET name = 'w' WHERE id = 1 RETURNING id, name"))
        assert returned.all() == [(1, "w")]
        streamed = await connection.stream(text("SELECT name FROM items ORDER BY id"))
        assert [row.name async for row in streamed] == ["w", "y!", "z!"]


async def test_a_statement_is_one_trip_and_begin_rides_with_the_first(engine, trips):
    async with engine.connect() as connection:
        await connection.execute(text("INSERT INTO items (name) VALUES ('a')"))
        await connection.execute(text("SELECT name FROM items"))
        await connection.commit()
    # BEGIN with the insert, the select, the commit; the pool's reset of a committed connection costs none.
    assert trips == ["trip", "trip", "commit"], trips

    trips.clear()
    async with engine.connect() as connection:
        assert await _count(connection) == 1
    # A reading transaction is still open when its connection goes back: it is rolled back, ending its snapshot.
    assert trips == ["trip", "rollback"], trips
