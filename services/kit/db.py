"""Database plumbing shared by every domain: the declarative base, engines and sessions."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import DateTime, MetaData, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> uuid.UUID:
    return uuid.uuid4()


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always stored in UTC and read back timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def create_engine(database_url: str, *, sqlite_synchronous: str = "FULL", **kwargs) -> AsyncEngine:
    """An async engine; SQLite gets WAL, full fsync (unless told NORMAL, see Settings), foreign keys and
    real transactions around reads too."""
    if sqlite_synchronous not in ("FULL", "NORMAL"):
        raise ValueError(f"sqlite_synchronous is FULL or NORMAL, not {sqlite_synchronous!r}")
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return create_async_engine(url, pool_pre_ping=True, **kwargs)

    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

    @event.listens_for(engine.sync_engine, "connect")
    def _configure(dbapi_connection, _record) -> None:
        # Let SQLAlchemy, not pysqlite, emit BEGIN, so the "begin" hook below decides its kind.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={sqlite_synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection) -> None:
        # Deferred: a reading session takes no lock, so a request may read while the norm store writes.
        # Straight to aiosqlite: one trip to its thread, where exec_driver_sql takes three (cursor, execute, close).
        try:
            connection.connection.dbapi_connection.run_async(lambda driver: driver.execute("BEGIN"))
        except sqlite3.Error:
            connection.exec_driver_sql("BEGIN")  # again, to raise SQLAlchemy's own error if it fails again

    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def take_write_lock(session: AsyncSession) -> None:
    """On SQLite, take the database's write lock now, as the transaction's first statement.

    SQLite transactions here begin deferred; one that reads and then writes fails ("database is
    locked") when another writer commits in between. Taking the lock first makes concurrent
    writers wait their turn instead, and every read after it sees their work. PostgreSQL needs
    nothing: its row locks do this job.
    """
    if session.bind.dialect.name == "sqlite":
        # Writes nothing, yet SQLite takes the write lock (waiting up to busy_timeout) to run it.
        await session.execute(text("UPDATE alembic_version SET version_num = version_num WHERE 1 = 0"))


@asynccontextmanager
async def transaction(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work: commits when the block succeeds, rolls back when it raises."""
    async with sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


def unreachable(exc: BaseException) -> bool:
    """Whether `exc` says the database cannot be used right now (refused, restarting, connection lost), so the
    same request may succeed later, rather than that the request itself was wrong."""
    from sqlalchemy.exc import DBAPIError, PendingRollbackError

    # Not every OperationalError: SQLite reports a missing table or a syntax error as one.
    if isinstance(exc, OSError | TimeoutError | PendingRollbackError):
        return True
    if isinstance(exc, DBAPIError) and (exc.connection_invalidated or exc.orig is not None and unreachable(exc.orig)):
        return True
    try:
        import asyncpg
    except ImportError:  # a SQLite-only installation
        return False
    # Connection failures (08…), an administrator or crash shutdown (57P…), a connection lost mid-operation
    # (asyncpg then finds the protocol in a state it cannot leave: InternalClientError).
    connection_errors = (
        asyncpg.PostgresConnectionError, asyncpg.exceptions.OperatorInterventionError, asyncpg.InterfaceError,
        asyncpg.exceptions.InternalClientError,
    )
    return isinstance(exc, connection_errors) or isinstance(exc.__cause__, connection_errors)
