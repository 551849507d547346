"""A durable outbox: events written in the same transaction as the change they announce.

A producer `emit`s inside its unit of work, so an event exists exactly when its change
committed. A consumer (the clearing house) `claim`s pending events under a lease — several
workers may claim at once; each event goes to one of them at a time, and to another once
the lease runs out without `complete` — and marks each `complete` when handled. A consumer
that cannot handle an event says so with `fail`: the event waits until the time it names
(backoff) or, when it names none, stays failed, with its error, until `retry`. Either way
it is not claimed meanwhile, so one event that cannot be handled never holds up the others.

Kinds written today: `norm.adopted` (payload: adoption, norm, network, version, heads, text hash).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    CursorResult,
    Index,
    Integer,
    String,
    Text,
    Update,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from services.kit.db import Base, UTCDateTime

BigId = BigInteger().with_variant(Integer(), "sqlite")


class OutboxEvent(Base):
    __tablename__ = "outbox_events"
    __table_args__ = (
        Index(
            "ix_outbox_events_pending",
            "kind",
            "id",
            sqlite_where=text("processed_at IS NULL"),
            postgresql_where=text("processed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(80))
    payload: Mapped[dict[str, object]] = mapped_column(JSON)  # a JSON object; each kind's consumer knows its fields
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # How many times a worker has claimed it (a retry count for the consumer's backoff).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # After a failed handling: not claimed before this time (the consumer's backoff).
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The consumer gave up: not claimed again until `retry`.
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why the last handling failed.
    last_error: Mapped[str | None] = mapped_column(Text)


ERROR_LENGTH = 2000


async def emit(session: AsyncSession, kind: str, payload: dict[str, object], *, at: datetime) -> OutboxEvent:
    """Add an event to the caller's transaction; it commits, or vanishes, with the change it announces."""
    event = OutboxEvent(kind=kind, payload=payload, created_at=at, attempts=0)
    session.add(event)
    await session.flush()
    return event


async def claim(
    session: AsyncSession, *, kinds: list[str], worker: str, now: datetime, lease: timedelta, limit: int = 100
) -> list[OutboxEvent]:
    """Up to `limit` pending events of these kinds, oldest first, leased to `worker` until `now + lease`.

    Failed events and those waiting out a backoff are not pending.

    Rows another transaction is claiming are skipped (PostgreSQL `SKIP LOCKED`); on SQLite the
    caller takes the write lock first, which makes claimers take turns.
    """
    query = (
        select(OutboxEvent)
        .where(
            OutboxEvent.kind.in_(kinds),
            OutboxEvent.processed_at.is_(None),
            OutboxEvent.failed_at.is_(None),
            or_(OutboxEvent.next_attempt_at.is_(None), OutboxEvent.next_attempt_at <= now),
            or_(OutboxEvent.claimed_until.is_(None), OutboxEvent.claimed_until <= now),
        )
        .order_by(OutboxEvent.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    events = list((await session.scalars(query.execution_options(populate_existing=True))).all())
    for event in events:
        event.claimed_by = worker
        event.claimed_until = now + lease
        event.attempts += 1
    await session.flush()
    return events


async def complete(session: AsyncSession, event_id: int, *, worker: str, now: datetime) -> bool:
    """Mark an event handled; False when `worker` no longer holds it (its lease passed to another)."""
    result = await _execute_dml(
        session,
        update(OutboxEvent)
        .where(OutboxEvent.id == event_id, OutboxEvent.claimed_by == worker, OutboxEvent.processed_at.is_(None))
        .values(processed_at=now),
    )
    return result.rowcount == 1


async def fail(session: AsyncSession, event_id: int, *, worker: str, now: datetime, error: str, retry_at: datetime | None) -> bool:
    """Record that `worker` could not handle the event: it is claimed again from `retry_at`, or, when None, it is
    failed until `retry`. False when `worker` no longer holds it."""
    result = await _execute_dml(
        session,
        update(OutboxEvent)
        .where(OutboxEvent.id == event_id, OutboxEvent.claimed_by == worker, OutboxEvent.processed_at.is_(None))
        .values(
            claimed_by=None,
            claimed_until=None,
            last_error=error[:ERROR_LENGTH],
            next_attempt_at=retry_at,
            failed_at=now if retry_at is None else None,
        ),
    )
    return result.rowcount == 1


async def _execute_dml(session: AsyncSession, statement: Update) -> CursorResult[Any]:
    """Run an UPDATE; its result, which counts the rows it changed."""
    # AsyncSession.execute is typed to return a plain Result, yet for DML it hands back Session.execute's CursorResult.
    return cast(CursorResult[Any], await session.execute(statement))


async def retry(session: AsyncSession, event_id: int, *, kinds: list[str], now: datetime) -> OutboxEvent | None:
    """Make a failed event of these kinds pending again, its attempts counted afresh; None when there is no such failed event."""
    event = await session.scalar(
        select(OutboxEvent)
        .where(
            OutboxEvent.id == event_id,
            OutboxEvent.kind.in_(kinds),
            OutboxEvent.failed_at.is_not(None),
            OutboxEvent.processed_at.is_(None),
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if event is None:
        return None
    event.failed_at, event.next_attempt_at, event.attempts = None, now, 0
    await session.flush()
    return event


async def troubled(session: AsyncSession, *, kinds: list[str], limit: int = 200) -> list[OutboxEvent]:
    """Unhandled events whose last handling failed: the failed ones, then those waiting to be tried again, oldest first."""
    return list(
        (
            await session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.kind.in_(kinds), OutboxEvent.processed_at.is_(None), OutboxEvent.last_error.is_not(None))
                .order_by(OutboxEvent.failed_at.is_(None), OutboxEvent.id)
                .limit(limit)
            )
        ).all()
    )
