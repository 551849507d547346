"""The mail outbox: `queue` writes a mail in the caller's transaction (so it exists exactly when the act
that causes it committed); `send_due` hands due mails over in rounds, through the shared durable-delivery
mechanism (`services/kit/outbox.py`: lease, backoff, give-up). A mail may be handed over twice if a worker
dies between the hand-over and its record, never zero times. A permanent refusal (5xx) marks the address
bounced.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.accounts.models import Participant
from services.kit import outbox
from services.kit.clock import Clock
from services.kit.db import take_write_lock, transaction
from services.mail.message import Stencil, compose
from services.mail.models import Mail, MailStatus
from services.mail.transport import Handed, Transport
from services.settings import Settings

log = structlog.get_logger()


async def queue(
    session: AsyncSession,
    settings: Settings,
    *,
    kind: str,
    recipient: str,
    name: str | None,
    context: dict[str, Any],
    now: datetime,
    participant_id: uuid.UUID | None = None,
) -> Mail:
    """Write the mail of `kind` to `recipient` into the outbox, in the caller's transaction."""
    mail = build(settings, kind=kind, recipient=recipient, name=name, context=context, now=now, participant_id=participant_id)
    session.add(mail)
    await session.flush()
    return mail


def build(
    settings: Settings,
    *,
    kind: str,
    recipient: str,
    name: str | None,
    context: dict[str, Any],
    now: datetime,
    participant_id: uuid.UUID | None = None,
    subject: str | None = None,
    headers: dict[str, str] | None = None,
) -> Mail:
    """The outbox row of the mail of `kind` to `recipient`, for the caller to add (many at once, say)."""
    message = compose(
        kind=kind,
        recipient=recipient,
        name=name,
        sender=settings.mail_from,
        context={"base_url": settings.base_url, **context},
        now=now,
        subject=subject,
        headers=headers,
    )
    return Mail(
        kind=kind,
        participant_id=participant_id,
        recipient=recipient,
        subject=str(message["Subject"]),
        message=message.as_bytes(),
        status=MailStatus.pending,
        attempts=0,
        created_at=now,
        next_attempt_at=now,
    )


def stencil(
    settings: Settings,
    *,
    kind: str,
    context: dict[str, Any],
    varying: tuple[str, ...],
    now: datetime,
    subject: str | None = None,
    headers: dict[str, str] | None = None,
) -> Stencil:
    """The mail of `kind` rendered once for many people; `copy` makes each one's outbox row."""
    return Stencil.render(
        kind=kind,
        sender=settings.mail_from,
        context={"base_url": settings.base_url, **context},
        varying=varying,
        now=now,
        subject=subject,
        headers=headers,
    )


def copy(
    stencil: Stencil,
    *,
    recipient: str,
    name: str | None,
    now: datetime,
    participant_id: uuid.UUID | None = None,
    values: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Mail:
    """The outbox row of one person's copy of `stencil`, for the caller to add."""
    return Mail(
        kind=stencil.kind,
        participant_id=participant_id,
        recipient=recipient,
        subject=stencil.subject,
        message=stencil.fill(recipient=recipient, name=name, values=values, headers=headers),
        status=MailStatus.pending,
        attempts=0,
        created_at=now,
        next_attempt_at=now,
    )


@dataclass(frozen=True)
class Job:
    mail_id: int
    recipient: str
    message: bytes


async def claim_due(
    sessionmaker: async_sessionmaker[AsyncSession], clock: Clock, *, worker: str, lease: timedelta, limit: int
) -> list[Job]:
    async with transaction(sessionmaker) as session:
        await take_write_lock(session)
        now = clock.now()
        mails = await outbox.claim(session, Mail, MailStatus.pending, now, limit=limit)
        for mail in mails:
            outbox.lease(mail, worker, now + lease)
        return [Job(mail.id, mail.recipient, mail.message) for mail in mails]


async def record(
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
    results: list[tuple[Job, Handed]],
    *,
    worker: str,
    retry_window: timedelta,
    rng: random.Random,
) -> None:
    """Store what became of each hand-over, in one transaction."""
    async with transaction(sessionmaker) as session:
        await take_write_lock(session)
        now = clock.now()
        ids = sorted(job.mail_id for job, _ in results)
        mails = {
            mail.id: mail
            for mail in await session.scalars(
                select(Mail).where(Mail.id.in_(ids)).order_by(Mail.id).with_for_update().execution_options(populate_existing=True)
            )
        }
        for job, handed in results:
            mail = mails[job.mail_id]
            if not outbox.held_by(mail, worker, MailStatus.pending):
                continue
            if handed.ok:
                outbox.finish(mail, MailStatus.sent, now)
            elif handed.permanent:
                outbox.finish(mail, MailStatus.bounced, now, handed.error)
                await session.execute(update(Participant).where(Participant.email == mail.recipient).values(email_bounced_at=now))
                log.warning("mail_bounced", mail_id=mail.id, error=handed.error)
            elif not outbox.retry_or_give_up(mail, now, handed.error or "", failed=MailStatus.failed, retry_window=retry_window, rng=rng):
                log.warning("mail_abandoned", mail_id=mail.id, attempts=mail.attempts, error=handed.error)
        await session.flush()


async def send_due(
    sessionmaker: async_sessionmaker[AsyncSession],
    transport: Transport,
    clock: Clock,
    *,
    worker: str,
    lease: timedelta,
    retry_window: timedelta,
    concurrency: int,
    rng: random.Random,
    limit: int = 200,
) -> int:
    """Hand over one round of due mails; how many were tried."""
    jobs = await claim_due(sessionmaker, clock, worker=worker, lease=lease, limit=limit)
    if not jobs:
        return 0
    async with transport.round() as send:

        async def attempt(job: Job) -> Handed:
            return await send(job.recipient, job.message)

        async def store(results: list[tuple[Job, Handed]]) -> None:
            await record(sessionmaker, clock, results, worker=worker, retry_window=retry_window, rng=rng)

        # Each mail is recorded as soon as the server took it: a worker killed mid-round sends none twice
        # but the one in flight.
        results = await outbox.run_round(jobs, attempt, store, concurrency=concurrency, name="mail", record_each=True)
    for _job, handed in results:
        if not handed.ok:
            log.info("mail_not_sent", error=handed.error, permanent=handed.permanent)
    return len(jobs)
