"""The WebSub delivery outbox: POST each notification to each subscriber until it is acknowledged.

Rows are claimed, leased, retried and given up by the shared outbox mechanism (`services/kit/outbox.py`).
A 2xx delivers; a 410 ends the subscription; anything else (an error status, a timeout, a refused
connection) is retried with exponential backoff and jitter until `retry_window` has passed.
A delivery may arrive twice (its `X-CoGov-Delivery` id tells), never zero times.

A subscriber ends on the newest state of its feed: each notification carries the whole feed as it
stood, so of a subscription's pending deliveries only the newest is sent (the older ones are marked
`superseded`, their entries acknowledged with it), and none is sent while another of the same
subscription is in flight, so an older one retried can never land after a newer one.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.clearinghouse import followup
from services.clearinghouse.callbacks import CallbackClient, Reply
from services.clearinghouse.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Notification,
    Subscription,
    SubscriptionState,
)
from services.clearinghouse.schemas import DeliveryTroubleOut, FailingSubscriberOut
from services.clearinghouse.websub import stop_deliveries
from services.kit import metrics, outbox
from services.kit.clock import Clock
from services.kit.db import take_write_lock, transaction

log = structlog.get_logger()

# The one backoff of every outbox, re-exported for callers that knew it here.
backoff = outbox.backoff


@dataclass(frozen=True)
class Job:
    delivery_id: int
    attempts: int
    created_at: datetime
    callback: str
    topic: str
    secret: str | None
    content_type: str
    body: bytes
    # URNs of the entries the notification announces (a receipt acknowledges them).
    entries: tuple[str, ...] = ()


def signature(secret: str, body: bytes) -> str:
    """The `X-Hub-Signature` value: `sha256=` + hex HMAC-SHA256 of the body under the subscription's secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def claim_due(
    sessionmaker: async_sessionmaker[AsyncSession], clock: Clock, *, worker: str, lease: timedelta, limit: int = 100
) -> list[Job]:
    """Due deliveries of live subscriptions, leased to `worker`; those of ended subscriptions stop here."""
    async with transaction(sessionmaker) as session:
        await take_write_lock(session)
        now = clock.now()
        deliveries = await outbox.claim(session, Delivery, DeliveryStatus.pending, now, limit=limit)
        if not deliveries:
            return []
        newest, busy, acknowledged = await _supersede(session, {d.subscription_id for d in deliveries}, now)
        deliveries = [d for d in deliveries if newest.get(d.subscription_id) is d and d.subscription_id not in busy]
        if not deliveries:
            return []
        subscriptions = {
            s.id: s for s in await session.scalars(select(Subscription).where(Subscription.id.in_({d.subscription_id for d in deliveries})))
        }
        bodies = {
            n.id: n for n in await session.scalars(select(Notification).where(Notification.id.in_({d.notification_id for d in deliveries})))
        }
        jobs = []
        for delivery in deliveries:
            subscription = subscriptions[delivery.subscription_id]
            stopped = _stopped(subscription, now)
            if stopped is not None:
                delivery.status, delivery.finished_at = stopped, now
                continue
            outbox.lease(delivery, worker, now + lease)
            notification = bodies[delivery.notification_id]
            jobs.append(
                Job(
                    delivery.id,
                    delivery.attempts,
                    delivery.created_at,
                    subscription.callback,
                    subscription.topic,
                    subscription.secret,
                    notification.content_type,
                    notification.body,
                    tuple(dict.fromkeys([*acknowledged.get(delivery.subscription_id, []), *(notification.entries or ())])),
                )
            )
        return jobs


async def _supersede(
    session: AsyncSession, subscription_ids: set[uuid.UUID], now: datetime
) -> tuple[dict[uuid.UUID, Delivery], set[uuid.UUID], dict[uuid.UUID, list[str]]]:
    """Mark `superseded` every pending delivery of these subscriptions but the newest, unless in flight.

    Answers the newest pending delivery of each subscription, the subscriptions with a delivery in flight (none of
    theirs is sent until it settles), and the entries of each subscription's deliveries superseded since its last
    delivery (the newest acknowledges them: its feed holds them too).
    """
    pending = (
        await session.scalars(
            select(Delivery)
            .where(Delivery.subscription_id.in_(subscription_ids), Delivery.status == DeliveryStatus.pending)
            .order_by(Delivery.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).all()
    newest = {delivery.subscription_id: delivery for delivery in pending}
    busy = set()
    for delivery in pending:
        if delivery.claimed_until is not None and delivery.claimed_until > now:
            busy.add(delivery.subscription_id)
        elif delivery is not newest[delivery.subscription_id]:
            delivery.status, delivery.finished_at = DeliveryStatus.superseded, now
            delivery.claimed_by = delivery.claimed_until = None
    await session.flush()
    last_delivered = dict(
        (
            await session.execute(
                select(Delivery.subscription_id, func.max(Delivery.id))
                .where(Delivery.subscription_id.in_(subscription_ids), Delivery.status == DeliveryStatus.delivered)
                .group_by(Delivery.subscription_id)
            )
        )
        .tuples()
        .all()
    )
    acknowledged: dict[uuid.UUID, list[str]] = {}
    for subscription_id, delivery_id, urns in await session.execute(
        select(Delivery.subscription_id, Delivery.id, Notification.entries)
        .join(Notification, Notification.id == Delivery.notification_id)
        .where(Delivery.subscription_id.in_(subscription_ids), Delivery.status == DeliveryStatus.superseded)
        .order_by(Delivery.id)
    ):
        if delivery_id > last_delivered.get(subscription_id, 0):
            acknowledged.setdefault(subscription_id, []).extend(urns or ())
    return newest, busy, acknowledged


def _stopped(subscription: Subscription, now: datetime) -> DeliveryStatus | None:
    if subscription.state is SubscriptionState.gone:
        return DeliveryStatus.gone
    if subscription.state is SubscriptionState.unsubscribed:
        return DeliveryStatus.unsubscribed
    if subscription.expires_at <= now:
        return DeliveryStatus.expired
    return None


async def send(client: CallbackClient, job: Job, *, hub_url: str) -> Reply:
    headers = {
        "Content-Type": job.content_type,
        "Link": f'<{hub_url}>; rel="hub", <{job.topic}>; rel="self"',
        "X-CoGov-Delivery": str(job.delivery_id),
    }
    if job.secret:
        headers["X-Hub-Signature"] = signature(job.secret, job.body)
    return await client.request("POST", job.callback, content=job.body, headers=headers)


async def record(
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
    results: list[tuple[Job, Reply]],
    *,
    worker: str,
    retry_window: timedelta,
    rng: random.Random,
) -> list[DeliveryStatus]:
    """Store the attempts and what follows from each, in one transaction; the deliveries' statuses (in id order)."""
    async with transaction(sessionmaker) as session:
        await take_write_lock(session)
        # In id order, so two workers recording overlapping rounds lock rows in the same order.
        ordered = sorted(results, key=lambda result: result[0].delivery_id)
        return [
            await _record_one(session, clock.now(), job, reply, worker=worker, retry_window=retry_window, rng=rng) for job, reply in ordered
        ]


async def _record_one(
    session: AsyncSession, now: datetime, job: Job, reply: Reply, *, worker: str, retry_window: timedelta, rng: random.Random
) -> DeliveryStatus:
    delivery = (
        await session.scalars(
            select(Delivery).where(Delivery.id == job.delivery_id).with_for_update().execution_options(populate_existing=True)
        )
    ).one()
    error = reply.error or (None if reply.ok else f"the callback answered {reply.status_code}")
    session.add(DeliveryAttempt(delivery_id=delivery.id, at=now, status_code=reply.status_code, error=error, duration_ms=reply.duration_ms))
    if not outbox.held_by(delivery, worker, DeliveryStatus.pending):
        return delivery.status  # settled meanwhile (unsubscribed, or retried by another after our lease ran out)
    delivery.last_status_code = reply.status_code
    if reply.ok:
        outbox.finish(delivery, DeliveryStatus.delivered, now)
        if reply.receipt:
            await followup.acknowledge(session, now, reply.receipt, job.entries)
    elif reply.status_code == 410:
        subscription = await session.get_one(Subscription, delivery.subscription_id, with_for_update=True, populate_existing=True)
        subscription.state, subscription.ended_at = SubscriptionState.gone, now
        outbox.finish(delivery, DeliveryStatus.gone, now, error)
        await session.flush()
        await stop_deliveries(session, subscription.id, DeliveryStatus.gone, now)
    elif not outbox.retry_or_give_up(delivery, now, error or "", failed=DeliveryStatus.failed, retry_window=retry_window, rng=rng):
        log.warning("delivery_abandoned", delivery_id=delivery.id, callback=job.callback, attempts=delivery.attempts)
    await session.flush()
    return delivery.status


async def deliver_due(
    sessionmaker: async_sessionmaker[AsyncSession],
    client: CallbackClient,
    clock: Clock,
    *,
    worker: str,
    lease: timedelta,
    retry_window: timedelta,
    hub_url: str,
    concurrency: int,
    rng: random.Random,
    limit: int = 200,
) -> int:
    """Make one round of due deliveries, `concurrency` at a time; how many were attempted."""
    jobs = await claim_due(sessionmaker, clock, worker=worker, lease=lease, limit=limit)

    async def attempt(job: Job) -> Reply:
        return await send(client, job, hub_url=hub_url)

    async def store(results: list[tuple[Job, Reply]]) -> None:
        await record(sessionmaker, clock, results, worker=worker, retry_window=retry_window, rng=rng)

    results = await outbox.run_round(jobs, attempt, store, concurrency=concurrency, name="delivery")
    metrics.deliveries_attempted([reply.ok for _job, reply in results])
    return len(jobs)


async def troubled(session: AsyncSession, *, limit: int = 200) -> list[DeliveryTroubleOut]:
    """Deliveries abandoned after the retry window, and those whose last try failed, newest first."""
    rows = (
        await session.execute(
            select(Delivery, Subscription.callback, Subscription.topic, Notification.entries)
            .join(Subscription, Subscription.id == Delivery.subscription_id)
            .join(Notification, Notification.id == Delivery.notification_id)
            .where(
                or_(
                    Delivery.status == DeliveryStatus.failed,
                    (Delivery.status == DeliveryStatus.pending) & Delivery.last_error.is_not(None),
                )
            )
            .order_by(Delivery.id.desc())
            .limit(limit)
        )
    ).all()
    return [
        DeliveryTroubleOut(
            id=delivery.id,
            status=delivery.status.value,
            callback=callback,
            topic=topic,
            entries=list(urns or ()),
            created_at=delivery.created_at,
            attempts=delivery.attempts,
            next_attempt_at=delivery.next_attempt_at if delivery.status is DeliveryStatus.pending else None,
            finished_at=delivery.finished_at,
            last_status_code=delivery.last_status_code,
            last_error=delivery.last_error,
        )
        for delivery, callback, topic, urns in rows
    ]


async def failing_subscribers(session: AsyncSession) -> list[FailingSubscriberOut]:
    """Subscriptions whose deliveries fail since their last accepted one (being retried, or given up), the longest
    failing first: one line per subscriber, where `troubled` lists each delivery."""
    last_delivered = (
        select(Delivery.subscription_id, func.max(Delivery.finished_at).label("at"))
        .where(Delivery.status == DeliveryStatus.delivered)
        .group_by(Delivery.subscription_id)
        .subquery()
    )
    rows = (
        await session.execute(
            select(Delivery, Subscription, last_delivered.c.at)
            .join(Subscription, Subscription.id == Delivery.subscription_id)
            .outerjoin(last_delivered, last_delivered.c.subscription_id == Delivery.subscription_id)
            .where(
                or_(
                    Delivery.status == DeliveryStatus.failed,
                    (Delivery.status == DeliveryStatus.pending) & Delivery.last_error.is_not(None),
                ),
                or_(last_delivered.c.at.is_(None), Delivery.created_at > last_delivered.c.at),
            )
            .order_by(Delivery.id)
        )
    ).all()
    found: dict[uuid.UUID, FailingSubscriberOut] = {}
    for delivery, subscription, delivered_at in rows:
        line = found.get(subscription.id)
        if line is None:
            line = found[subscription.id] = FailingSubscriberOut(
                callback=subscription.callback,
                topic=subscription.topic,
                state=subscription.state.value,
                failing_since=delivery.created_at,
                last_delivered_at=delivered_at,
                retrying=0,
                given_up=0,
                failed_attempts=0,
                last_attempt_at=None,
                last_status_code=None,
                last_error=None,
            )
        if delivery.status is DeliveryStatus.failed:
            line.given_up += 1
        else:
            line.retrying += 1
        line.failed_attempts += delivery.attempts
        line.last_status_code, line.last_error = delivery.last_status_code, delivery.last_error
    if found:
        for subscription_id, at in await session.execute(
            select(Delivery.subscription_id, func.max(DeliveryAttempt.at))
            .join(Delivery, Delivery.id == DeliveryAttempt.delivery_id)
            .where(Delivery.subscription_id.in_(found))
            .group_by(Delivery.subscription_id)
        ):
            found[subscription_id].last_attempt_at = at
    return sorted(found.values(), key=lambda line: line.failing_since)
