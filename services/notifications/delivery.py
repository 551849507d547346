"""Turning notifications into mail, the closing-ballot reminders, and one-click unsubscribe links.

`mail_due` runs in the worker: it locks the people whose notifications are due for mail (PostgreSQL
`SKIP LOCKED`; on SQLite the write lock), writes their mails into the mail outbox and marks the rows mailed,
all in one transaction: a row is mailed exactly once, and the mail outbox hands the mail over (retries,
give-up, bounces). An at-once row becomes one mail; a person's due digest rows of one period become one mail.
At that moment a row is dropped if its person no longer takes mail of its kind, left its network (for a
members-only row), closed their account, or has an unproven or bouncing address.

Every mail carries RFC 8058 one-click unsubscribe headers for its kind(s): a signed token naming the person
and the version of each kind's preference; using it sets the kinds to "never" and moves their versions on, so
the same link used again (or any link forged) is refused and changes nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import and_, exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from networks.models import Membership
from services.accounts.models import Participant
from services.kit.clock import Clock
from services.kit.db import take_write_lock, transaction
from services.kit.errors import DomainError
from services.mail import outbox as mail_outbox
from services.mail.message import Stencil
from services.mail.models import Mail
from services.notifications import events, service
from services.notifications.models import BallotReminder, Kind, Mode, Notification, Preference
from services.settings import Settings
from services.web import i18n

log = structlog.get_logger()

UNSUBSCRIBE_PATH = "/notifications/unsubscribe"
PREFERENCES_PATH = "/settings/notifications"
REMIND_BEFORE = timedelta(hours=24)


class UnsubscribeInvalid(DomainError):
    """This unsubscribe link is not valid: it was changed, or it was used already. Nothing was changed."""

    status_code = 400
    code = "unsubscribe_invalid"


# --- Unsubscribe tokens ------------------------------------------------------------------------


def _mac(settings: Settings, body: str) -> str:
    digest = hmac.new(settings.signing_key.encode(), f"unsubscribe:{body}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def unsubscribe_token(settings: Settings, participant_id: uuid.UUID, versions: dict[str, int]) -> str:
    body = base64.urlsafe_b64encode(json.dumps({"p": str(participant_id), "k": versions}, sort_keys=True).encode()).decode().rstrip("=")
    return f"{body}.{_mac(settings, body)}"


def read_token(settings: Settings, token: str) -> tuple[uuid.UUID, dict[Kind, int]]:
    """The person and kinds (with preference versions) a token names; `UnsubscribeInvalid` (400) if it is forged."""
    body, _, mac = token.partition(".")
    if not body or not mac or not hmac.compare_digest(mac.encode(), _mac(settings, body).encode()):
        raise UnsubscribeInvalid()
    try:
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        return uuid.UUID(data["p"]), {Kind(kind): int(version) for kind, version in data["k"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UnsubscribeInvalid() from exc


async def unsubscribe(session: AsyncSession, settings: Settings, token: str) -> tuple[Participant, list[Kind]]:
    """Set the kinds a valid, unused token names to "never"; `UnsubscribeInvalid` (400) and nothing changed otherwise."""
    participant_id, kinds = read_token(settings, token)
    participant = await session.get(Participant, participant_id)
    if participant is None or participant.deleted_at is not None or not kinds:
        raise UnsubscribeInvalid()
    current = await service.preferences(session, participant_id)
    if any(current.versions[kind] != version for kind, version in kinds.items()):
        raise UnsubscribeInvalid(
            "This unsubscribe link was used already, or your preferences changed since it was mailed; nothing was changed"
        )
    for kind in kinds:
        row = await session.get(Preference, (participant_id, kind.value), with_for_update=True)
        if row is None:
            session.add(Preference(participant_id=participant_id, kind=kind.value, mode=Mode.never, version=1))
        else:
            row.mode, row.version = Mode.never, row.version + 1
    await session.flush()
    return participant, sorted(kinds)


# --- Mail --------------------------------------------------------------------------------------


async def mail_due(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, clock: Clock, *, people: int = 200) -> int:
    """Write the mails of notifications now due, for up to `people` people; how many notifications were settled."""
    async with transaction(sessionmaker) as session:
        await take_write_lock(session)
        now = clock.now()
        due = and_(Notification.mailed_at.is_(None), Notification.mail_due_at.is_not(None), Notification.mail_due_at <= now)
        candidates = (
            await session.scalars(select(Notification.participant_id).where(due).group_by(Notification.participant_id).limit(people))
        ).all()
        if not candidates:
            return 0
        locked = (
            await session.scalars(
                select(Participant)
                .where(Participant.id.in_(candidates))
                .with_for_update(skip_locked=True)
                .execution_options(populate_existing=True)
            )
        ).all()
        if not locked:
            return 0
        by_id = {p.id: p for p in locked}
        rows = (
            await session.execute(
                select(Notification, Preference.mode, Preference.version, Membership.participant_id.is_not(None))
                .outerjoin(Preference, and_(Preference.participant_id == Notification.participant_id, Preference.kind == Notification.kind))
                .outerjoin(
                    Membership,
                    and_(Membership.participant_id == Notification.participant_id, Membership.network_id == Notification.network_id),
                )
                .where(due, Notification.participant_id.in_(list(by_id)))
                .order_by(Notification.participant_id, Notification.id)
            )
        ).all()
        at_once: list[tuple[Notification, int]] = []
        digests: dict[tuple[uuid.UUID, str], list[tuple[Notification, int]]] = defaultdict(list)
        for notification, mode, version, member in rows:
            notification.mailed_at = now
            person = by_id[notification.participant_id]
            kind = Kind(notification.kind)
            current = Mode(mode) if mode is not None else service.DEFAULT_MODES[kind]
            if (
                current is Mode.never
                or (notification.members_only and not member)
                or person.deleted_at is not None
                or person.email_verified_at is None
                or person.email_bounced_at is not None
            ):
                continue
            if notification.mail_mode == Mode.at_once.value:
                at_once.append((notification, version or 0))
            else:
                digests[(person.id, notification.mail_mode)].append((notification, version or 0))
        # One event told to many people (a ballot's electors) is one mail rendered once per language, copied for
        # each; a mail is written in the language its person chose (English if they never did).
        groups: dict[tuple[str, str, str, str], list[tuple[Notification, int]]] = defaultdict(list)
        for notification, version in at_once:
            language = i18n.supported(by_id[notification.participant_id].language) or i18n.DEFAULT
            groups[(notification.kind, notification.title, notification.url, language)].append((notification, version))
        mails: list[Mail] = []
        for (_kind, _title, _url, language), items in groups.items():
            with i18n.speaking(language):
                stencil = _stencil(settings, items[0][0].kind, [items[0][0]], now=now, period=None)
            mails.extend(
                _copy(settings, stencil, by_id[notification.participant_id], [(notification, version)], now=now)
                for notification, version in items
            )
        for (participant_id, mode), items in digests.items():
            period = "daily" if mode == Mode.daily.value else "weekly"
            kinds = sorted({notification.kind for notification, _ in items})
            with i18n.speaking(by_id[participant_id].language or i18n.DEFAULT):
                stencil = _stencil(settings, kinds, [notification for notification, _ in items], now=now, period=period)
            mails.append(_copy(settings, stencil, by_id[participant_id], items, now=now))
        session.add_all(mails)
        await session.flush()
        if mails:
            log.info("notification_mails_written", mails=len(mails), notifications=len(rows))
        return len(rows)


def _stencil(settings: Settings, kinds: str | list[str], items: list[Notification], *, now: datetime, period: str | None) -> Stencil:
    """The mail of one notification (to everyone it tells) or of one digest, rendered once; the unsubscribe link
    is each person's own."""
    kinds = [kinds] if isinstance(kinds, str) else kinds
    context: dict[str, Any] = {"kinds": "; ".join(service.LABELS[Kind(kind)].lower() for kind in sorted(kinds))}
    headers = {"List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    if period is None:
        return mail_outbox.stencil(
            settings,
            kind="notification",
            context={**context, "item": items[0]},
            varying=("unsubscribe",),
            now=now,
            subject=items[0].shown_title,
            headers=headers,
        )
    return mail_outbox.stencil(
        settings,
        kind="digest",
        context={**context, "items": items, "period": period},
        varying=("unsubscribe",),
        now=now,
        subject=(
            i18n.ngettext("Your daily CoGov digest: %(num)d notification", "Your daily CoGov digest: %(num)d notifications", len(items))
            if period == "daily"
            else i18n.ngettext(
                "Your weekly CoGov digest: %(num)d notification", "Your weekly CoGov digest: %(num)d notifications", len(items)
            )
        )
        % {"num": len(items)},
        headers=headers,
    )


def _copy(settings: Settings, stencil: Stencil, person: Participant, items: list[tuple[Notification, int]], *, now: datetime) -> Any:
    """`person`'s copy, with their one-click unsubscribe link for the kinds it tells of (RFC 8058)."""
    versions = {notification.kind: version for notification, version in items}
    link = f"{settings.base_url}{UNSUBSCRIBE_PATH}?token={unsubscribe_token(settings, person.id, versions)}"
    return mail_outbox.copy(
        stencil,
        recipient=person.email,
        name=person.display_name,
        now=now,
        participant_id=person.id,
        values={"unsubscribe": link},
        headers={"List-Unsubscribe": f"<{link}>"},
    )


# --- Reminders ---------------------------------------------------------------------------------


async def remind_closing(sessionmaker: async_sessionmaker[AsyncSession], clock: Clock, *, batch: int = 50) -> int:
    """Tell the electors who have not voted that a ballot closes within 24 hours, once per ballot; how many ballots."""
    from norms.models import Ballot, BallotStatus

    now = clock.now()
    async with transaction(sessionmaker) as session:
        due = (
            await session.scalars(
                select(Ballot.id)
                .where(
                    Ballot.status == BallotStatus.open,
                    Ballot.closes_at > now,
                    Ballot.closes_at <= now + REMIND_BEFORE,
                    ~exists().where(BallotReminder.ballot_id == Ballot.id),
                )
                .order_by(Ballot.closes_at)
                .limit(batch)
            )
        ).all()
    reminded = 0
    for ballot_id in due:
        async with transaction(sessionmaker) as session:
            await take_write_lock(session)
            ballot = await session.scalar(
                select(Ballot).where(Ballot.id == ballot_id).with_for_update(skip_locked=True).execution_options(populate_existing=True)
            )
            if ballot is None or ballot.status is not BallotStatus.open or await session.get(BallotReminder, ballot_id) is not None:
                continue
            session.add(BallotReminder(ballot_id=ballot_id, sent_at=now))
            await session.flush()
            await events.ballot_closing(
                session, ballot_id=ballot.id, norm_id=ballot.norm_id, version=ballot.version_number, closes_at=ballot.closes_at, now=now
            )
            reminded += 1
    return reminded
