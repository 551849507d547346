"""Follow-up of adopted norms by subscriber organisations: per entry, a status with a date, a link to the
national instrument and a note; a public table and a world-region summary. Every change is audited.

A subscriber may also take a receipt token: a WebSub callback that answers a delivery with
`X-CoGov-Receipt: <token>` acknowledges the delivered entries as `received` (never overriding a status it set).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from networks import service as networks
from services.accounts import service as accounts
from services.accounts.models import Participant, Role
from services.audit import service as audit
from services.clearinghouse.errors import FollowUpDateInvalid
from services.clearinghouse.models import URL_LENGTH, FeedEntry, FollowUp, FollowUpStatus, ReceiptToken
from services.clearinghouse.schemas import PersonRef
from services.kit.errors import Conflict, Forbidden, NotFound
from services.kit.validation import SafeText

RECEIPT_HEADER = "X-CoGov-Receipt"
UNSPECIFIED_REGION = "unspecified"


class NotASubscriber(Forbidden):
    """Only subscriber organisations record follow-up (role `subscriber`, given by an administrator)."""

    code = "not_a_subscriber"


class SubscriberVerification(BaseModel):
    model_config = ConfigDict(extra="forbid")

    participant_id: uuid.UUID = Field(description="A self-registered account whose organisation staff have verified")


async def verify_subscriber(session: AsyncSession, staff: Participant, participant_id: uuid.UUID) -> Participant:
    """Staff turn a self-registered participant into a subscriber (audited as a role change); 409 for staff or admins."""
    participant = await session.get(Participant, participant_id)
    if participant is None:
        raise NotFound("No such participant")
    if participant.role in (Role.staff, Role.admin):
        raise Conflict("Staff and administrators keep their role; only participants become subscribers")
    return await accounts.set_role(session, participant.id, Role.subscriber, by=staff)


class FollowUpIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: FollowUpStatus
    date: dt.date = Field(description="When the status was reached")
    instrument_url: SafeText | None = Field(default=None, max_length=URL_LENGTH, description="The national instrument (http or https)")
    note: SafeText | None = Field(default=None, max_length=5000)

    @field_validator("instrument_url")
    @classmethod
    def _web_address(cls, value: str | None) -> str | None:
        if value is not None and not value.lower().startswith(("http://", "https://")):
            raise ValueError("must be an http or https address")
        return value


class FollowUpRow(BaseModel):
    subscriber: PersonRef
    organisation: str | None
    country: str | None
    region: str
    status: FollowUpStatus
    date: dt.date
    instrument_url: str | None
    note: str | None
    updated_at: datetime


class FollowUpOut(BaseModel):
    entry_id: uuid.UUID
    total: int
    by_status: dict[str, int]
    by_region: dict[str, dict[str, int]] = Field(description="region → status → subscribers")
    items: list[FollowUpRow]


class ReceiptTokenOut(BaseModel):
    token: str = Field(description=f"Answer deliveries with `{RECEIPT_HEADER}: <token>` to acknowledge them; shown once")


def _require_subscriber(participant: Participant) -> None:
    if participant.role is not Role.subscriber:
        raise NotASubscriber()


async def _write(
    session: AsyncSession,
    now: datetime,
    subscriber: Participant,
    entry: FeedEntry,
    status: FollowUpStatus,
    on: date,
    instrument_url: str | None,
    note: str | None,
    *,
    automatic: bool = False,
) -> FollowUp:
    row = await session.scalar(select(FollowUp).where(FollowUp.entry_id == entry.id, FollowUp.subscriber_id == subscriber.id))
    affiliation = await networks.current_affiliation(session, subscriber.id)
    previous = row.status.value if row else None
    if row is None:
        row = FollowUp(entry_id=entry.id, subscriber_id=subscriber.id)
        session.add(row)
    row.status, row.status_date, row.instrument_url, row.note, row.updated_at = status, on, instrument_url, note, now
    row.country = affiliation.country if affiliation else None
    row.region = affiliation.region if affiliation else None
    row.organisation = affiliation.organisation if affiliation else None
    await session.flush()
    await audit.record(
        session,
        actor_id=subscriber.id,
        action="clearinghouse.follow_up_recorded",
        target_type="feed_entry",
        target_id=entry.id,
        payload={
            "from": previous,
            "to": status.value,
            "date": on.isoformat(),
            "instrument_url": instrument_url,
            "note": note,
            "automatic": automatic,
        },
    )
    return row


# The furthest ahead of UTC a subscriber's own calendar can be (UTC+14): its today may be UTC's tomorrow.
LATEST_ZONE = timedelta(hours=14)


def latest_date(now: datetime) -> dt.date:
    """The latest date a status can have been reached on: today somewhere on Earth."""
    return (now + LATEST_ZONE).date()


async def record(session: AsyncSession, now: datetime, subscriber: Participant, entry: FeedEntry, body: FollowUpIn) -> None:
    """Record the subscriber's status for the entry (FollowUpDateInvalid for a date not yet reached anywhere)."""
    _require_subscriber(subscriber)
    if body.date > latest_date(now):
        raise FollowUpDateInvalid(
            f"date {body.date.isoformat()} is in the future: give the day the status was reached (today at the latest)",
            field="date",
        )
    await _write(session, now, subscriber, entry, body.status, body.date, body.instrument_url, body.note)


async def table(session: AsyncSession, entry: FeedEntry) -> FollowUpOut:
    """Every subscriber's status for the entry (by region, then organisation) and the counts per status and region."""
    rows = (await session.scalars(select(FollowUp).where(FollowUp.entry_id == entry.id))).all()
    names = (
        dict(
            (
                await session.execute(
                    select(Participant.id, Participant.display_name).where(Participant.id.in_({r.subscriber_id for r in rows}))
                )
            )
            .tuples()
            .all()
        )
        if rows
        else {}
    )
    by_region: dict[str, Counter] = defaultdict(Counter)
    for row in rows:
        by_region[row.region or UNSPECIFIED_REGION][row.status.value] += 1
    items = sorted(
        (
            FollowUpRow(
                subscriber=PersonRef(id=r.subscriber_id, display_name=names[r.subscriber_id]),
                organisation=r.organisation,
                country=r.country,
                region=r.region or UNSPECIFIED_REGION,
                status=r.status,
                date=r.status_date,
                instrument_url=r.instrument_url,
                note=r.note,
                updated_at=r.updated_at,
            )
            for r in rows
        ),
        key=lambda item: (item.region, (item.organisation or item.subscriber.display_name).lower()),
    )
    counts = Counter(row.status.value for row in rows)
    return FollowUpOut(
        entry_id=entry.id,
        total=len(rows),
        by_status={s.value: counts.get(s.value, 0) for s in FollowUpStatus},
        by_region={region: dict(found) for region, found in sorted(by_region.items())},
        items=items,
    )


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def new_receipt_token(session: AsyncSession, now: datetime, subscriber: Participant) -> ReceiptTokenOut:
    """A fresh token for the subscriber (the previous one stops working)."""
    _require_subscriber(subscriber)
    token = "cgr_" + secrets.token_urlsafe(32)
    row = await session.get(ReceiptToken, subscriber.id)
    if row is None:
        session.add(ReceiptToken(subscriber_id=subscriber.id, token_sha256=_hash(token), created_at=now))
    else:
        row.token_sha256, row.created_at = _hash(token), now
    await session.flush()
    await audit.record(
        session,
        actor_id=subscriber.id,
        action="clearinghouse.receipt_token_issued",
        target_type="participant",
        target_id=subscriber.id,
        payload={},
    )
    return ReceiptTokenOut(token=token)


async def acknowledge(session: AsyncSession, now: datetime, token: str, urns: Sequence[str]) -> int:
    """Mark the delivered entries `received` for the token's subscriber where it has no status yet; how many."""
    row = await session.scalar(select(ReceiptToken).where(ReceiptToken.token_sha256 == _hash(token.strip())))
    if row is None or not urns:
        return 0
    subscriber = await session.get(Participant, row.subscriber_id)
    if subscriber is None or subscriber.role is not Role.subscriber:
        return 0
    found = (await session.scalars(select(FeedEntry).where(FeedEntry.urn.in_(list(urns))))).all()
    known = set(
        (
            await session.scalars(
                select(FollowUp.entry_id).where(FollowUp.subscriber_id == subscriber.id, FollowUp.entry_id.in_([e.id for e in found]))
            )
        ).all()
    )
    made = 0
    for entry in found:
        if entry.id not in known:
            await _write(session, now, subscriber, entry, FollowUpStatus.received, now.date(), None, None, automatic=True)
            made += 1
    return made
