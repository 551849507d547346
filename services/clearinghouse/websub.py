"""The WebSub hub (W3C WebSub): subscription requests, intent verification, notifications, status.

A request is stored and answered 202 at once; the worker then verifies intent by a GET to the
callback with a random, single-use `hub.challenge`, and only an echoed challenge creates,
renews or ends a subscription, or changes its secret: until then the subscription and its secret
stay as they are. A subscribe verification carries `X-Hub-Signature`, the challenge signed with the
secret the request would set (none when it sets none), so a callback can refuse a secret it did
not ask for. Only the secret of the verified subscription shows its status. When entries appear in a topic's feed, one rendering of that
feed becomes a notification and each live subscription of the topic gets a delivery row (the
durable outbox `delivery` works through).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from networks.models import Network
from networks.taxonomy import Taxonomy
from norms.consultation_models import Consultation
from norms.models import Norm
from services.clearinghouse import consultation_feed, feeds
from services.clearinghouse.callbacks import CallbackClient, CallbackRefused, check_reachable_address, check_url
from services.clearinghouse.errors import HubRequestInvalid, ProofRequired, SubscriptionNotFound
from services.clearinghouse.models import (
    TOPIC_LENGTH,
    URL_LENGTH,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Notification,
    RequestMode,
    RequestStatus,
    Subscription,
    SubscriptionRequest,
    SubscriptionState,
)
from services.clearinghouse.schemas import DeliveryAttemptOut, DeliveryOut, HubRequestOut, SubscriptionStatus
from services.kit.clock import Clock
from services.kit.db import take_write_lock, transaction
from services.kit.errors import DomainError

log = structlog.get_logger()

DEFAULT_LEASE_SECONDS = 10 * 24 * 3600
MAX_LEASE_SECONDS = 30 * 24 * 3600
MIN_LEASE_SECONDS = 60
MAX_SECRET_BYTES = 199


@dataclass(frozen=True)
class HubForm:
    mode: str | None
    topic: str | None
    callback: str | None
    lease_seconds: str | None = None
    secret: str | None = None


def lease_from(value: str | None) -> int:
    """The lease the hub grants: the asked-for seconds within [1 minute, 30 days], 10 days when none is asked."""
    if value is None or value == "":
        return DEFAULT_LEASE_SECONDS
    if not value.isdigit():
        raise HubRequestInvalid("hub.lease_seconds must be a whole number of seconds")
    return max(MIN_LEASE_SECONDS, min(int(value), MAX_LEASE_SECONDS))


async def receive(
    sessionmaker: async_sessionmaker[AsyncSession], clock: Clock, taxonomy: Taxonomy, form: HubForm, *, base_url: str, allow_private: bool
) -> int:
    """Accept a subscribe or unsubscribe request for verification (its id), or refuse it with the reason.

    A refused request whose callback and topic are well-formed strings is kept, refused, so the
    subscription status shows why.
    """
    if form.mode not in ("subscribe", "unsubscribe"):
        raise HubRequestInvalid("hub.mode must be subscribe or unsubscribe")
    if not form.callback:
        raise HubRequestInvalid("hub.callback is required")
    if not form.topic:
        raise HubRequestInvalid("hub.topic is required")
    mode = RequestMode(form.mode)
    keepable = len(form.callback.encode()) <= URL_LENGTH and len(form.topic.encode()) <= TOPIC_LENGTH
    try:
        check_url(form.callback)
        if len(form.topic.encode()) > TOPIC_LENGTH:
            raise HubRequestInvalid(f"hub.topic is longer than {TOPIC_LENGTH} bytes")
        query = feeds.parse_topic(form.topic, base_url)
        async with sessionmaker() as session:
            try:
                await feeds.check(session, taxonomy, query)
            except DomainError as exc:
                raise HubRequestInvalid(f"hub.topic: {exc.detail}") from exc
        secret = None
        lease = None
        if mode is RequestMode.subscribe:
            secret = form.secret or None
            if secret is not None and len(secret.encode()) > MAX_SECRET_BYTES:
                raise HubRequestInvalid("hub.secret must be shorter than 200 bytes")
            lease = lease_from(form.lease_seconds)
        await check_reachable_address(form.callback, allow_private)
    except (CallbackRefused, HubRequestInvalid) as exc:
        reason = exc.detail if isinstance(exc, HubRequestInvalid) else str(exc)
        if keepable:
            async with transaction(sessionmaker) as session:
                await take_write_lock(session)
                now = clock.now()
                session.add(
                    SubscriptionRequest(
                        mode=mode,
                        topic=form.topic,
                        callback=form.callback,
                        status=RequestStatus.refused,
                        reason=reason,
                        requested_at=now,
                        completed_at=now,
                        attempts=0,
                    )
                )
        raise HubRequestInvalid(reason) from exc
    async with transaction(sessionmaker) as session:
        await take_write_lock(session)
        request = SubscriptionRequest(
            mode=mode,
            topic=form.topic,
            callback=form.callback,
            lease_seconds=lease,
            secret=secret,
            status=RequestStatus.pending,
            requested_at=clock.now(),
            attempts=0,
        )
        session.add(request)
        await session.flush()
        return request.id


# --- Intent verification -----------------------------------------------------------------


async def verify_pending(
    sessionmaker: async_sessionmaker[AsyncSession], client: CallbackClient, clock: Clock, *, worker: str, lease: timedelta, limit: int = 50
) -> int:
    """Verify the intent of waiting requests (each once); how many were settled."""
    async with transaction(sessionmaker) as session:
        await take_write_lock(session)
        now = clock.now()
        requests = (
            await session.scalars(
                select(SubscriptionRequest)
                .where(
                    SubscriptionRequest.status == RequestStatus.pending,
                    or_(SubscriptionRequest.claimed_until.is_(None), SubscriptionRequest.claimed_until <= now),
                )
                .order_by(SubscriptionRequest.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
                .execution_options(populate_existing=True)
            )
        ).all()
        for request in requests:
            request.claimed_by, request.claimed_until = worker, now + lease
            request.attempts += 1
        jobs = [(r.id, r.mode, r.topic, r.callback, r.lease_seconds, r.secret) for r in requests]
    settled = 0
    for request_id, mode, topic, callback, lease_seconds, secret in jobs:
        challenge = secrets.token_urlsafe(32)
        params = {"hub.mode": mode.value, "hub.topic": topic, "hub.challenge": challenge}
        headers: dict[str, str] = {}
        if mode is RequestMode.subscribe:
            params["hub.lease_seconds"] = str(lease_seconds)
            if secret:
                headers["X-Hub-Signature"] = signed(secret, challenge)
        reply = await client.request("GET", callback, params=params, headers=headers)
        if reply.error:
            reason = f"intent verification failed: {reply.error}"
        elif not reply.ok:
            reason = f"the callback answered {reply.status_code} to intent verification"
        elif reply.body.decode("utf-8", "replace").strip() != challenge:
            reason = "the callback did not echo hub.challenge"
        else:
            reason = None
        try:
            settled += await _settle(sessionmaker, clock, request_id, worker, reason)
        except IntegrityError:  # a concurrent verification created the same subscription: retried after the lease
            log.warning("websub_verification_conflict", request_id=request_id)
    return settled


async def _settle(sessionmaker: async_sessionmaker[AsyncSession], clock: Clock, request_id: int, worker: str, reason: str | None) -> int:
    async with transaction(sessionmaker) as session:
        await take_write_lock(session)
        request = await session.scalar(
            select(SubscriptionRequest)
            .where(SubscriptionRequest.id == request_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if request is None or request.status is not RequestStatus.pending or request.claimed_by != worker:
            return 0
        now = clock.now()
        request.completed_at, request.claimed_until = now, None
        if reason is not None:
            # A refused request's secret is never used again: not kept.
            request.status, request.reason, request.secret = RequestStatus.refused, reason, None
            log.info("websub_refused", callback=request.callback, topic=request.topic, reason=reason)
            return 1
        request.status = RequestStatus.verified
        subscription = await session.scalar(
            select(Subscription)
            .where(Subscription.topic == request.topic, Subscription.callback == request.callback)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if request.mode is RequestMode.subscribe:
            if request.lease_seconds is None:  # never: a subscribe request is stored with its lease
                raise RuntimeError(f"subscribe request {request_id} has no lease")
            if subscription is None:
                subscription = Subscription(topic=request.topic, callback=request.callback, created_at=now)
                session.add(subscription)
            subscription.secret = request.secret
            subscription.state = SubscriptionState.active
            subscription.lease_seconds = request.lease_seconds
            subscription.expires_at = now + timedelta(seconds=request.lease_seconds)
            subscription.verified_at = now
            subscription.ended_at = None
            await session.flush()
        elif subscription is not None and subscription.state is SubscriptionState.active:
            subscription.state, subscription.ended_at = SubscriptionState.unsubscribed, now
            await stop_deliveries(session, subscription.id, DeliveryStatus.unsubscribed, now)
        log.info("websub_verified", mode=request.mode.value, callback=request.callback, topic=request.topic)
        return 1


async def stop_deliveries(session: AsyncSession, subscription_id: uuid.UUID, status: DeliveryStatus, now: datetime) -> None:
    await session.execute(
        update(Delivery)
        .where(Delivery.subscription_id == subscription_id, Delivery.status == DeliveryStatus.pending)
        .values(status=status, finished_at=now, claimed_by=None, claimed_until=None)
    )


# --- Notifications -----------------------------------------------------------------------


async def announce(
    session: AsyncSession,
    entry_ids: Sequence[uuid.UUID],
    *,
    now: datetime,
    base_url: str,
    only: Callable[[feeds.FeedQuery], bool] | None = None,
) -> int:
    """Queue a delivery of each subscribed feed that now holds any of `entry_ids` to its live subscribers; how many.

    `only` narrows the feeds to those a change concerns (a topic given to an entry concerns the
    feeds filtered by that topic, not the main feed that held the entry already).
    """
    live = (Subscription.state == SubscriptionState.active, Subscription.expires_at > now)
    topics = (await session.scalars(select(Subscription.topic).where(*live).distinct())).all()
    queued = 0
    for topic in topics:
        try:
            query = feeds.parse_topic(topic, base_url)
        except HubRequestInvalid:  # subscribed under another base URL
            continue
        if only is not None and not only(query):
            continue
        if not await feeds.entries_containing(session, query, entry_ids):
            continue
        body = await feeds.render(session, query.topic_url_form, base_url, now)
        found, _ = await feeds.select_entries(session, query.topic_url_form)
        wanted = set(entry_ids)
        queued += await _queue(session, topic, query, body, [entry.urn for entry in found if entry.id in wanted], now)
    await session.flush()
    return queued


async def announce_consultation(session: AsyncSession, consultation: Consultation, *, now: datetime, base_url: str) -> int:
    """Queue a delivery of each subscribed consultations feed the newly opened `consultation` shows in; how many."""
    network = await session.scalar(select(Network.slug).join(Norm, Norm.network_id == Network.id).where(Norm.id == consultation.norm_id))
    live = (Subscription.state == SubscriptionState.active, Subscription.expires_at > now)
    queued = 0
    for topic in (await session.scalars(select(Subscription.topic).where(*live).distinct())).all():
        try:
            query = feeds.parse_topic(topic, base_url)
        except HubRequestInvalid:
            continue
        if not query.consultations or query.network not in (None, network):
            continue
        body, _, _ = await consultation_feed.render(session, query, base_url, now)
        queued += await _queue(session, topic, query, body, [], now)
    await session.flush()
    return queued


async def announce_activity(session: AsyncSession, network: Network, *, now: datetime, base_url: str) -> int:
    """Queue a delivery of `network`'s activity feed (each format subscribed) to its live subscribers; how many."""
    from services.clearinghouse import activity_feed

    live = (Subscription.state == SubscriptionState.active, Subscription.expires_at > now)
    queued = 0
    for topic in (await session.scalars(select(Subscription.topic).where(*live).distinct())).all():
        try:
            query = feeds.parse_topic(topic, base_url)
        except HubRequestInvalid:
            continue
        if not query.activity or query.network != network.slug:
            continue
        body, _, _ = await activity_feed.render(session, network, query, base_url)
        queued += await _queue(session, topic, query, body, [], now)
    await session.flush()
    return queued


async def _queue(session: AsyncSession, topic: str, query: feeds.FeedQuery, body: bytes, urns: list[str], now: datetime) -> int:
    """One notification of `topic` holding `body`, and a delivery of it to each live subscription; how many."""
    notification = Notification(topic=topic, content_type=feeds.CONTENT_TYPES[query.format], body=body, entries=urns, created_at=now)
    session.add(notification)
    await session.flush()
    live = (Subscription.state == SubscriptionState.active, Subscription.expires_at > now)
    subscriptions = (await session.scalars(select(Subscription.id).where(Subscription.topic == topic, *live))).all()
    session.add_all(
        Delivery(
            subscription_id=subscription_id,
            notification_id=notification.id,
            status=DeliveryStatus.pending,
            attempts=0,
            created_at=now,
            next_attempt_at=now,
        )
        for subscription_id in subscriptions
    )
    return len(subscriptions)


# --- Status ------------------------------------------------------------------------------


def signed(secret: str, text: str) -> str:
    """`sha256=` + hex HMAC-SHA256 of `text` under `secret` (the X-Hub-Signature form)."""
    return "sha256=" + hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def proof_for(secret: str, callback: str) -> str:
    """What proves a subscription's secret: `sha256=` + hex HMAC-SHA256 of the callback URL under the secret."""
    return signed(secret, callback)


async def status(session: AsyncSession, *, callback: str, topic: str, proof: str | None, staff: bool, now: datetime) -> SubscriptionStatus:
    """The subscription's state, its recent requests and deliveries, to staff or whoever proves its secret.

    Only the verified subscription's secret counts: a secret sent in a request that is pending or was
    refused proves nothing, since anyone may send a request for any callback. A subscription without a
    secret, and requests for a callback and topic with no subscription, hold nothing to prove and are
    shown to anyone.
    """
    subscription = await session.scalar(select(Subscription).where(Subscription.topic == topic, Subscription.callback == callback))
    requests = (
        await session.scalars(
            select(SubscriptionRequest)
            .where(SubscriptionRequest.callback == callback, SubscriptionRequest.topic == topic)
            .order_by(SubscriptionRequest.id.desc())
            .limit(10)
        )
    ).all()
    if subscription is None and not requests:
        raise SubscriptionNotFound(f"No subscription or request of {callback[:200]} to {topic[:200]}")
    secret = subscription.secret if subscription is not None else None
    if not staff and secret and (proof is None or not hmac.compare_digest(proof.strip().encode(), proof_for(secret, callback).encode())):
        raise ProofRequired()

    reason = None
    if subscription is not None:
        state = subscription.state.value
        if subscription.state is SubscriptionState.active and subscription.expires_at <= now:
            state, reason = "expired", f"the lease ended at {subscription.expires_at.isoformat()}"
        elif subscription.state is SubscriptionState.gone:
            reason = "the callback answered 410 Gone to a delivery"
    else:
        latest = requests[0]
        state = {RequestStatus.pending: "pending", RequestStatus.refused: "refused", RequestStatus.verified: "unsubscribed"}[latest.status]
        reason = latest.reason
    deliveries: list[DeliveryOut] = []
    if subscription is not None:
        rows = (
            await session.execute(
                select(Delivery, Notification.entries)
                .join(Notification, Notification.id == Delivery.notification_id)
                .where(Delivery.subscription_id == subscription.id)
                .order_by(Delivery.id.desc())
                .limit(20)
            )
        ).all()
        attempts: dict[int, list[DeliveryAttempt]] = {}
        if rows:
            for attempt in await session.scalars(
                select(DeliveryAttempt).where(DeliveryAttempt.delivery_id.in_([d.id for d, _ in rows])).order_by(DeliveryAttempt.id.desc())
            ):
                attempts.setdefault(attempt.delivery_id, []).append(attempt)
        deliveries = [
            DeliveryOut(
                id=delivery.id,
                status=delivery.status.value,
                entries=list(urns),
                created_at=delivery.created_at,
                attempts=delivery.attempts,
                next_attempt_at=delivery.next_attempt_at if delivery.status is DeliveryStatus.pending else None,
                finished_at=delivery.finished_at,
                last_status_code=delivery.last_status_code,
                last_error=delivery.last_error,
                recent_attempts=[
                    DeliveryAttemptOut(at=a.at, status_code=a.status_code, error=a.error, duration_ms=a.duration_ms)
                    for a in attempts.get(delivery.id, [])[:10]
                ],
            )
            for delivery, urns in rows
        ]
    return SubscriptionStatus(
        topic=topic,
        callback=callback,
        state=state,
        reason=reason,
        lease_seconds=subscription.lease_seconds if subscription else None,
        expires_at=subscription.expires_at if subscription else None,
        verified_at=subscription.verified_at if subscription else None,
        requests=[
            HubRequestOut(
                id=r.id, mode=r.mode.value, status=r.status.value, reason=r.reason, requested_at=r.requested_at, completed_at=r.completed_at
            )
            for r in requests
        ],
        deliveries=deliveries,
    )
