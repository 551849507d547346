"""Durable delivery: the one mechanism behind every outbox (WebSub deliveries, mail).

A row is owed to someone outside (a subscriber's callback, an SMTP server). A worker claims due rows
under a lease (PostgreSQL `SKIP LOCKED`; the SQLite write lock makes claimers take turns), tries them
outside any transaction, then records the outcomes in one transaction: done, tried again after a
backoff (doubling, with jitter), or given up once `retry_window` has passed since the row was written.
A worker killed mid-round leaves its leases to expire, and another round tries those rows again: a
row may be delivered twice, never zero times.

Each outbox keeps its own table with the columns of `Leased` and its own statuses; this module decides
when a row is due, who holds it, and when it is tried again or given up.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

import structlog
from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

log = structlog.get_logger()

FIRST_RETRY = timedelta(seconds=10)
LONGEST_WAIT = timedelta(hours=1)


def backoff(attempts: int, rng: random.Random) -> timedelta:
    """The wait before the next try after `attempts` failures: doubling from 10 s to at most 1 h, the second half random."""
    ceiling: timedelta = min(FIRST_RETRY * 2 ** min(max(attempts - 1, 0), 20), LONGEST_WAIT)
    return ceiling / 2 + ceiling / 2 * rng.random()


class Leased(Protocol):
    """The columns every outbox row has."""

    id: Any
    status: Any
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    claimed_by: str | None
    claimed_until: datetime | None
    finished_at: datetime | None
    last_error: str | None


R = TypeVar("R", bound=Leased)


def due(model: Any, pending: object, now: datetime) -> Select[tuple[Any]]:
    """The query for `model`'s rows due now and not leased, oldest due first, locked for the claimer (skipping rows others hold)."""
    unleased: ColumnElement[bool] = or_(model.claimed_until.is_(None), model.claimed_until <= now)
    return (
        select(model)
        .where(model.status == pending, model.next_attempt_at <= now, unleased)
        .order_by(model.next_attempt_at, model.id)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )


async def claim(session: AsyncSession, model: type[R], pending: object, now: datetime, *, limit: int) -> Sequence[R]:
    """Up to `limit` due rows of `model`, locked in the caller's transaction (which holds the write lock)."""
    return (await session.scalars(due(model, pending, now).limit(limit))).all()


def lease(row: Leased, worker: str, until: datetime) -> None:
    """Take `row` for `worker` until `until`: one more attempt."""
    row.claimed_by, row.claimed_until = worker, until
    row.attempts += 1


def held_by(row: Leased, worker: str, pending: object) -> bool:
    """Whether `worker` still holds `row`: it may be settled meanwhile, or retried by another after the lease ran out."""
    return bool(row.status == pending and row.claimed_by == worker)


def finish(row: Leased, status: object, now: datetime, error: str | None = None) -> None:
    """Settle `row` for good with `status`."""
    row.status, row.finished_at, row.last_error = status, now, error
    row.claimed_by = row.claimed_until = None


def retry_or_give_up(row: Leased, now: datetime, error: str, *, failed: object, retry_window: timedelta, rng: random.Random) -> bool:
    """After a failed try: schedule the next one after a backoff and return True, or, once `retry_window` has
    passed since the row was written, settle it as `failed` and return False."""
    row.last_error = error
    row.claimed_by = row.claimed_until = None
    if now - row.created_at >= retry_window:
        row.status, row.finished_at = failed, now
        return False
    row.next_attempt_at = now + backoff(row.attempts, rng)
    return True


J = TypeVar("J")
Outcome = TypeVar("Outcome")


async def run_round(
    jobs: Sequence[J],
    attempt: Callable[[J], Awaitable[Outcome]],
    record: Callable[[list[tuple[J, Outcome]]], Awaitable[object]],
    *,
    concurrency: int,
    name: str,
    record_each: bool = False,
) -> list[tuple[J, Outcome]]:
    """Try the claimed `jobs`, `concurrency` at a time, outside any transaction, then `record` the outcomes
    together (one commit for the round); should that fail, each is recorded alone, and any still unrecorded
    is tried again once its lease runs out.

    With `record_each`, each outcome is recorded as soon as it is known, before its slot takes another job: a
    worker killed mid-round then leaves only the jobs in flight to be tried again, not those already handed
    over. Outcomes that become known while a record is being written go together into the next one (a group
    commit), so `concurrency` slots need far fewer commits than jobs."""
    gate = asyncio.Semaphore(concurrency)
    writing = asyncio.Lock()
    unrecorded: list[tuple[J, Outcome]] = []

    async def settle(result: tuple[J, Outcome]) -> None:
        unrecorded.append(result)
        async with writing:  # whoever held it before us may have recorded ours along with theirs
            if not unrecorded:
                return
            batch = unrecorded[:]
            unrecorded.clear()
            try:
                await record(batch)
            except Exception:
                log.exception(f"{name}_record_failed", rows=len(batch))
                for one_result in batch if len(batch) > 1 else []:
                    try:
                        await record([one_result])
                    except Exception:
                        log.exception(f"{name}_record_failed")

    async def one(job: J) -> tuple[J, Outcome]:
        async with gate:
            outcome = await attempt(job)
            if record_each:
                await settle((job, outcome))
            return job, outcome

    results = list(await asyncio.gather(*(one(job) for job in jobs)))
    if not results or record_each:
        return results
    try:
        await record(results)
    except Exception:
        log.exception(f"{name}_record_failed", rows=len(results))
        for result in results:
            try:
                await record([result])
            except Exception:
                log.exception(f"{name}_record_failed")
    return results
