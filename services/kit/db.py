"""Database plumbing shared by every domain: the declarative base, engines and sessions."""

from __future__ import annotations

import sqlite3
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import aiosqlite
from sqlalchemy import Connection, DateTime, Dialect, MetaData, event, text
from sqlalchemy.connectors.asyncio import AsyncIODBAPIConnection
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_connection, AsyncAdapt_aiosqlite_cursor, AsyncAdapt_aiosqlite_dbapi
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import _DBAPICursorDescription, _DBAPIMultiExecuteParams, _DBAPISingleExecuteParams
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import ConnectionPoolEntry
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

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def create_engine(database_url: str, *, sqlite_synchronous: str = "FULL", **kwargs: Any) -> AsyncEngine:
    """An async engine; SQLite gets WAL, full fsync (unless told NORMAL, see Settings), foreign keys and
    real transactions around reads too."""
    if sqlite_synchronous not in ("FULL", "NORMAL"):
        raise ValueError(f"sqlite_synchronous is FULL or NORMAL, not {sqlite_synchronous!r}")
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return create_async_engine(url, pool_pre_ping=True, **kwargs)

    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, connect_args={"timeout": 30}, module=_ONE_TRIP_AIOSQLITE, **kwargs)

    @event.listens_for(engine.sync_engine, "connect")
    def _configure(dbapi_connection: _OneTripConnection, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy, not pysqlite, emit BEGIN, so the "begin" hook below decides its kind.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={sqlite_synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: Connection) -> None:
        # Deferred: a reading session takes no lock, so a request may read while the norm store writes.
        # Sent with the transaction's first statement, in the same trip to aiosqlite's thread.
        # The engine's DBAPI module is _ONE_TRIP_AIOSQLITE, so its connections are one-trip ones.
        cast(_OneTripConnection, connection.connection.dbapi_connection).begin_pending = True

    return engine


# What a trip's work hands back: the statement's description and its rows (sqlite3's rows, untyped).
_TripResult = tuple[_DBAPICursorDescription | None, Sequence[Any]]


class _OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """SQLAlchemy's aiosqlite cursor, but a statement is one trip to aiosqlite's thread, not three or four.

    The stock cursor awaits aiosqlite's cursor(), execute(), fetchall() and close() in turn, and
    each is a handoff to the connection's thread and back (0.1-0.2 ms on a busy event loop).
    Here one function does all four on that thread, after the transaction's BEGIN if it is the
    transaction's first statement.
    """

    __slots__ = ()
    _adapt_connection: _OneTripConnection

    def execute(self, operation: str, parameters: _DBAPISingleExecuteParams | None = None) -> None:
        def work(cursor: sqlite3.Cursor) -> _TripResult:
            cursor.execute(operation, () if parameters is None else parameters)
            return cursor.description, cursor.fetchall() if cursor.description else ()

        self.description, rows = self._adapt_connection.run(self, work)
        self._rows = deque(rows)

    def executemany(self, operation: str, seq_of_parameters: _DBAPIMultiExecuteParams) -> None:
        def work(cursor: sqlite3.Cursor) -> _TripResult:
            cursor.executemany(operation, seq_of_parameters)
            return None, ()

        self.description, _ = self._adapt_connection.run(self, work)


class _OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("begin_pending", "in_transaction")

    def __init__(self, dbapi: AsyncAdapt_aiosqlite_dbapi, connection: AsyncIODBAPIConnection) -> None:
        super().__init__(dbapi, connection)
        self.begin_pending = False  # SQLAlchemy began a transaction whose BEGIN is not sent yet
        self.in_transaction = False  # SQLite's own word after the last trip (True when unsure)

    def run(self, cursor: _OneTripCursor, work: Callable[[sqlite3.Cursor], _TripResult]) -> _TripResult:
        """`work(sqlite3 cursor)` on aiosqlite's thread, after BEGIN if one is pending; sets the cursor's row id and count."""
        begin, self.begin_pending = self.begin_pending, False

        def trip(connection: sqlite3.Connection) -> tuple[_TripResult, int | None, int, bool]:
            if begin:
                connection.execute("BEGIN")
            raw = connection.cursor()
            try:
                return work(raw), raw.lastrowid, raw.rowcount, connection.in_transaction
            finally:
                raw.close()

        self.in_transaction = True
        try:
            outcome: tuple[_TripResult, int | None, int, bool] = self.await_(self._connection._execute(trip, self._connection._conn))
            result, lastrowid, rowcount, self.in_transaction = outcome
        except Exception as error:
            self._handle_exception(error)
        # As the stock cursor: a statement that returns rows reports no row id or count.
        # sqlite3 leaves lastrowid None after executemany; SQLAlchemy's cursor attribute is typed int.
        cursor.lastrowid, cursor.rowcount = (-1, -1) if result[0] else (lastrowid, rowcount)  # type: ignore[assignment]
        return result

    def cursor(self, server_side: bool = False) -> AsyncAdapt_aiosqlite_cursor:
        if not server_side:
            return _OneTripCursor(self)
        self.in_transaction = True
        if self.begin_pending:  # a stock server-side cursor: its BEGIN goes first, on its own
            self.begin_pending = False
            self.await_(self._connection.execute("BEGIN"))
        return super().cursor(server_side)

    def commit(self) -> None:
        self.begin_pending = False
        if self.in_transaction:  # else nothing ran since BEGIN was asked for: nothing to commit
            super().commit()
            self.in_transaction = False

    def rollback(self) -> None:
        # The pool rolls back every connection handed back to it, most of them just committed.
        self.begin_pending = False
        if self.in_transaction:
            super().rollback()
            self.in_transaction = False


class _OneTripAiosqlite(AsyncAdapt_aiosqlite_dbapi):
    """The DBAPI module SQLAlchemy's aiosqlite dialect is given (`module=`), handing out one-trip cursors."""

    def connect(self, *args: Any, **kwargs: Any) -> _OneTripConnection:
        return _OneTripConnection(self, super().connect(*args, **kwargs)._connection)


_ONE_TRIP_AIOSQLITE = _OneTripAiosqlite(aiosqlite, sqlite3)


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


PreCommit = Callable[[AsyncSession], Awaitable[None]]
_PRE_COMMIT: list[PreCommit] = []


def before_commit(step: PreCommit) -> PreCommit:
    """Register `step` to run in every unit of work just before it commits (after a last flush), in its transaction.

    For work that must commit with the change that caused it but may await (the search index folds long texts in
    a thread): an ORM listener notes what changed in `session.info`; the step does the work.
    """
    _PRE_COMMIT.append(step)
    return step


async def _prepare_commit(session: AsyncSession) -> None:
    if not _PRE_COMMIT or not session.in_transaction():
        return
    await session.flush()
    for step in _PRE_COMMIT:
        await step(session)


@asynccontextmanager
async def transaction(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work: commits when the block succeeds, rolls back when it raises (a request's too, see get_db_session)."""
    async with sessionmaker() as session:
        try:
            yield session
            await _prepare_commit(session)
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


async def hand_back(session: AsyncSession) -> None:
    """End `session`'s unit of work now, committed, and return its connection to the pool.

    For a request about to write a norm's document: the norm store writes in a transaction and on a
    connection of its own, and never waits for a connection while it holds a document's lock. A request
    that kept its connection meanwhile would hold one while waiting for another, and under load every
    connection can be held so (a pool of one waits on itself). Services call this, not routes, just
    before such a write; the request's own commit at its end then finds nothing to do. The session stays
    usable: a later statement begins a new transaction on a connection taken again.
    """
    await _prepare_commit(session)
    await session.commit()


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
        asyncpg.PostgresConnectionError,
        asyncpg.exceptions.OperatorInterventionError,
        asyncpg.InterfaceError,
        asyncpg.exceptions.InternalClientError,
    )
    return isinstance(exc, connection_errors) or isinstance(exc.__cause__, connection_errors)
