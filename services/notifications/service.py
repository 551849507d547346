"""Notifications: written in the transaction of the act that causes them, one row per person, in bulk.

`notify` is the one function the domain services call: it takes who should hear (a SQL query of participant
ids: electors, members, conveners, followers, one person), drops the actor and closed accounts, reads each
person's mail preference for the kind, and inserts every row in one statement. The worker later turns rows
whose mail is due into mails in the mail outbox (`mail_due`), in one transaction with marking them mailed,
so each is mailed exactly once; digests gather a person's rows of the period into one mail.

A members-only notification (a ballot's electors, a network's members) is shown and mailed only while the
person is still a member of its network: leaving, or being removed, stops it at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    type_coerce,
    union,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from networks.models import MemberRole, Membership
from services.accounts.models import Participant
from services.kit.errors import NotFound
from services.notifications.models import DigestSchedule, Follow, Kind, Mode, Notification, Preference, Target
from services.notifications.titles import Title
from services.web.i18n import lazy_gettext

# How each kind is mailed until the person says otherwise: what asks them to act goes at once.
DEFAULT_MODES: dict[Kind, Mode] = {
    Kind.ballot_opened: Mode.at_once,
    Kind.ballot_closing: Mode.at_once,
    Kind.ballot_closed: Mode.at_once,
    Kind.application_received: Mode.at_once,
    Kind.application_decided: Mode.at_once,
    Kind.network_status: Mode.at_once,
    Kind.version_tagged: Mode.daily,
    Kind.consultation_opened: Mode.at_once,
    Kind.consultation_comment: Mode.daily,
    Kind.comment_answered: Mode.at_once,
    Kind.norm_adopted: Mode.at_once,
    Kind.norm_published: Mode.daily,
    Kind.vouch_requested: Mode.at_once,
    Kind.affiliation_verified: Mode.at_once,
    Kind.mention: Mode.at_once,
    Kind.discussion_reply: Mode.daily,
}

# What each kind is, in the reader's language (translated when shown or mailed).
LABELS: dict[Kind, Any] = {
    Kind.ballot_opened: lazy_gettext("A ballot opened in which you are an elector"),
    Kind.ballot_closing: lazy_gettext("A ballot you have not voted in closes within 24 hours"),
    Kind.ballot_closed: lazy_gettext("A ballot closed, with its outcome"),
    Kind.application_received: lazy_gettext("Someone applied to a network you convene"),
    Kind.application_decided: lazy_gettext("Your application to a network was decided"),
    Kind.network_status: lazy_gettext("A network of yours became active or fell back to forming"),
    Kind.version_tagged: lazy_gettext("A version of a norm was tagged"),
    Kind.consultation_opened: lazy_gettext("A public consultation opened"),
    Kind.consultation_comment: lazy_gettext("Someone commented on a consultation of your network"),
    Kind.comment_answered: lazy_gettext("Your consultation comment was answered, addressed or declined"),
    Kind.norm_adopted: lazy_gettext("A norm was adopted"),
    Kind.norm_published: lazy_gettext("An adopted norm was published in the clearing house"),
    Kind.vouch_requested: lazy_gettext("Someone asks you to vouch for their affiliation"),
    Kind.affiliation_verified: lazy_gettext("Your affiliation was verified or its verification ended"),
    Kind.mention: lazy_gettext("Someone mentioned you in a discussion on a norm"),
    Kind.discussion_reply: lazy_gettext("Someone replied in a discussion you took part in"),
}

DEFAULT_HOUR = 8
DIGEST_WEEKDAY = 0  # Monday


class FollowTargetNotFound(NotFound):
    """Nothing to follow there: no such network, norm or topic (or one you may not see)."""

    code = "follow_target_not_found"


# --- Who hears -------------------------------------------------------------------------------

Recipients = Select[tuple[uuid.UUID]]


def person(participant_id: uuid.UUID) -> Recipients:
    return select(literal(participant_id, Participant.id.type).label("participant_id"))


def people(participant_ids: Iterable[uuid.UUID]) -> Recipients:
    return select(Participant.id).where(Participant.id.in_(list(participant_ids)))


def members(network_id: uuid.UUID) -> Recipients:
    return select(Membership.participant_id).where(Membership.network_id == network_id)


def conveners(network_id: uuid.UUID) -> Recipients:
    return select(Membership.participant_id).where(Membership.network_id == network_id, Membership.role == MemberRole.convener)


def followers(*targets: tuple[Target, str]) -> Recipients:
    return select(Follow.participant_id).where(or_(*(and_(Follow.target == target, Follow.target_key == key) for target, key in targets)))


def electors(ballot_id: uuid.UUID, *, not_voted: bool = False) -> Recipients:
    from norms.models import BallotElector, BallotVote

    query = select(BallotElector.participant_id).where(BallotElector.ballot_id == ballot_id)
    if not_voted:
        query = query.where(~exists().where(BallotVote.ballot_id == ballot_id, BallotVote.participant_id == BallotElector.participant_id))
    return query


# --- Writing ---------------------------------------------------------------------------------


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def next_digest(now: datetime, *, hour: int, time_zone: str, weekly: bool) -> datetime:
    """The next moment at `hour` o'clock in `time_zone` after `now` (on a Monday for a weekly digest)."""
    tz = zone(time_zone)
    local = now.astimezone(tz)
    day = local.date()
    while True:
        at = datetime(day.year, day.month, day.day, hour, tzinfo=tz)
        if at > local and (not weekly or at.weekday() == DIGEST_WEEKDAY):
            return at.astimezone(now.tzinfo)
        day += timedelta(days=1)


def mail_due_at(mode: Mode, now: datetime, hour: int | None, time_zone: str | None) -> datetime | None:
    if mode is Mode.never:
        return None
    if mode is Mode.at_once:
        return now
    return next_digest(now, hour=DEFAULT_HOUR if hour is None else hour, time_zone=time_zone or "UTC", weekly=mode is Mode.weekly)


async def notify(
    session: AsyncSession,
    kind: Kind,
    recipients: Iterable[Recipients],
    *,
    title: Title,
    url: str,
    now: datetime,
    network_id: uuid.UUID | None = None,
    members_only: bool = False,
    actor_id: uuid.UUID | None = None,
) -> int:
    """Tell each of `recipients` (the union of these queries) that `kind` happened, in the caller's transaction;
    how many were told. The actor is not told of their own act."""
    queries = list(recipients)
    if not queries:
        return 0
    everyone = union(*queries) if len(queries) > 1 else queries[0]
    english, source = title.english()[:300], title.source()
    default = DEFAULT_MODES[kind]
    # The person's mode for this kind, or the kind's default.
    chosen = func.coalesce(type_coerce(Preference.mode, String(10)), literal(default.value, String(10)))
    told = (
        select(Participant.id)
        .outerjoin(Preference, and_(Preference.participant_id == Participant.id, Preference.kind == kind.value))
        .where(
            Participant.id.in_(everyone),  # each person once, however many ways they are reached
            Participant.deleted_at.is_(None),
            *([Participant.id != actor_id] if actor_id is not None else []),
        )
    )
    columns = Notification.__table__.c
    at = literal(now, columns.created_at.type)
    nothing = cast(null(), columns.mail_due_at.type)
    # Mailed at once or never: written by the database in one INSERT … SELECT, with no row passing through here.
    direct = told.add_columns(
        literal(kind.value, columns.kind.type),
        literal(network_id, columns.network_id.type),
        literal(members_only, columns.members_only.type),
        literal(english, columns.title.type),
        literal(source, columns.title_source.type),
        literal(url[:500], columns.url.type),
        at,
        nothing,
        chosen,
        case((chosen == Mode.never.value, nothing), else_=at),
        case((chosen == Mode.never.value, at), else_=nothing),
    ).where(chosen.in_([Mode.at_once.value, Mode.never.value]))
    names = [
        "participant_id",
        "kind",
        "network_id",
        "members_only",
        "title",
        "title_source",
        "url",
        "created_at",
        "read_at",
        "mail_mode",
        "mail_due_at",
        "mailed_at",
    ]
    written = await session.execute(insert(Notification).from_select(names, direct))
    count = int(getattr(written, "rowcount", 0) or 0)
    # Digests: when each is due depends on the person's hour and time zone.
    rows = (
        await session.execute(
            told.add_columns(chosen, DigestSchedule.hour, DigestSchedule.time_zone)
            .outerjoin(DigestSchedule, DigestSchedule.participant_id == Participant.id)
            .where(chosen.in_([Mode.daily.value, Mode.weekly.value]))
        )
    ).all()
    if not rows:
        return count
    values: list[dict[str, Any]] = []
    for participant_id, mode, hour, time_zone in rows:
        values.append(
            {
                "participant_id": participant_id,
                "kind": kind.value,
                "network_id": network_id,
                "members_only": members_only,
                "title": english,
                "title_source": source,
                "url": url[:500],
                "created_at": now,
                "read_at": None,
                "mail_mode": mode,
                "mail_due_at": mail_due_at(Mode(mode), now, hour, time_zone),
                "mailed_at": None,
            }
        )
    await session.execute(insert(Notification), values)
    return count + len(values)


# --- Reading ---------------------------------------------------------------------------------


def visible(participant_id: uuid.UUID | Any) -> ColumnElement[bool]:
    """A notification its person may still see: not members-only, or they are still a member of its network."""
    return or_(
        Notification.members_only.is_(False),
        exists().where(Membership.network_id == Notification.network_id, Membership.participant_id == participant_id),
    )


async def unread_count(session: AsyncSession, participant_id: uuid.UUID) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.participant_id == participant_id, Notification.read_at.is_(None), visible(participant_id))
        )
        or 0
    )


async def recent(session: AsyncSession, participant_id: uuid.UUID, *, limit: int = 100) -> Sequence[Notification]:
    return (
        await session.scalars(
            select(Notification)
            .where(Notification.participant_id == participant_id, visible(participant_id))
            .order_by(Notification.id.desc())
            .limit(limit)
        )
    ).all()


async def mark_read(session: AsyncSession, participant_id: uuid.UUID, now: datetime, notification_id: int | None = None) -> int:
    """Mark one notification (or, without an id, every one) of this person read; how many changed."""
    statement = update(Notification).where(Notification.participant_id == participant_id, Notification.read_at.is_(None))
    if notification_id is not None:
        statement = statement.where(Notification.id == notification_id)
    result = await session.execute(statement.values(read_at=now))
    return int(getattr(result, "rowcount", 0) or 0)


async def read_one(session: AsyncSession, participant_id: uuid.UUID, notification_id: int, now: datetime) -> Notification | None:
    """The person's notification, marked read (None when it is not theirs or no longer visible to them)."""
    found = await session.scalar(
        select(Notification).where(
            Notification.id == notification_id, Notification.participant_id == participant_id, visible(participant_id)
        )
    )
    if found is not None and found.read_at is None:
        found.read_at = now
        await session.flush()
    return found


# --- Preferences -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Preferences:
    modes: dict[Kind, Mode]
    versions: dict[Kind, int]
    hour: int
    time_zone: str


async def preferences(session: AsyncSession, participant_id: uuid.UUID) -> Preferences:
    chosen = {row.kind: row for row in await session.scalars(select(Preference).where(Preference.participant_id == participant_id))}
    schedule = await session.get(DigestSchedule, participant_id)
    return Preferences(
        modes={kind: chosen[kind.value].mode if kind.value in chosen else DEFAULT_MODES[kind] for kind in Kind},
        versions={kind: chosen[kind.value].version if kind.value in chosen else 0 for kind in Kind},
        hour=schedule.hour if schedule else DEFAULT_HOUR,
        time_zone=schedule.time_zone if schedule else "UTC",
    )


async def set_mode(session: AsyncSession, participant_id: uuid.UUID, kind: Kind, mode: Mode) -> None:
    """Change how `kind` is mailed; every change voids the unsubscribe links mailed before it."""
    row = await session.get(Preference, (participant_id, kind.value), with_for_update=True)
    if row is None:
        session.add(Preference(participant_id=participant_id, kind=kind.value, mode=mode, version=1))
    elif row.mode is not mode:
        row.mode, row.version = mode, row.version + 1
    await session.flush()


async def set_schedule(session: AsyncSession, participant_id: uuid.UUID, hour: int, time_zone: str) -> None:
    row = await session.get(DigestSchedule, participant_id)
    if row is None:
        session.add(DigestSchedule(participant_id=participant_id, hour=hour, time_zone=time_zone))
    else:
        row.hour, row.time_zone = hour, time_zone
    await session.flush()


# --- Following -------------------------------------------------------------------------------


async def resolve_target(session: AsyncSession, target: Target, key: str) -> str:
    """The stored key of a followable thing: a network's or norm's id (a network by slug too), a topic's slug,
    or '' for the clearing house. `FollowTargetNotFound` (404) when there is no such thing."""
    from networks.models import Network
    from norms.models import Norm
    from services.clearinghouse.models import Topic

    if target is Target.clearinghouse:
        return ""
    if target is Target.topic:
        if await session.scalar(select(Topic.slug).where(Topic.slug == key)) is not None:
            return key
        raise FollowTargetNotFound(f"No clearing-house topic {key!r}")
    try:
        ident = uuid.UUID(key)
    except ValueError:
        ident = None
    if target is Target.network:
        found = await session.scalar(
            select(Network.id).where(Network.id == ident) if ident else select(Network.id).where(Network.slug == key)
        )
        if found is None:
            raise FollowTargetNotFound(f"No network {key!r}")
        return str(found)
    found_norm = await session.scalar(select(Norm.id).where(Norm.id == ident)) if ident else None
    if found_norm is None:
        raise FollowTargetNotFound(f"No norm {key!r}")
    return str(found_norm)


async def follow(session: AsyncSession, participant_id: uuid.UUID, target: Target, key: str, now: datetime) -> str:
    stored = await resolve_target(session, target, key)
    if await session.get(Follow, (participant_id, target, stored)) is None:
        session.add(Follow(participant_id=participant_id, target=target, target_key=stored, created_at=now))
        await session.flush()
    return stored


async def unfollow(session: AsyncSession, participant_id: uuid.UUID, target: Target, key: str) -> str:
    stored = await resolve_target(session, target, key)
    found = await session.get(Follow, (participant_id, target, stored))
    if found is not None:
        await session.delete(found)
        await session.flush()
    return stored


async def follower_count(session: AsyncSession, target: Target, stored_key: str) -> int:
    return int(
        await session.scalar(select(func.count()).select_from(Follow).where(Follow.target == target, Follow.target_key == stored_key)) or 0
    )


async def follower_counts(session: AsyncSession, target: Target, stored_keys: Sequence[str]) -> dict[str, int]:
    """The public follower count of each of `stored_keys` (0 for those nobody follows), in one query."""
    rows = await session.execute(
        select(Follow.target_key, func.count())
        .where(Follow.target == target, Follow.target_key.in_(list(stored_keys)))
        .group_by(Follow.target_key)
    )
    counts = {key: int(count) for key, count in rows.all()}
    return {key: counts.get(key, 0) for key in stored_keys}


async def follows(session: AsyncSession, participant_id: uuid.UUID, target: Target, stored_key: str) -> bool:
    return await session.get(Follow, (participant_id, target, stored_key)) is not None


async def followed(session: AsyncSession, participant_id: uuid.UUID) -> Sequence[Follow]:
    return (await session.scalars(select(Follow).where(Follow.participant_id == participant_id).order_by(Follow.created_at))).all()
