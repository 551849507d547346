"""Account sessions: each sign-in (a browser's cookie or an API client's bearer token) is a row, and every
access token names its row. A token is honoured only while its row exists and its participant's token
version is the one it was issued under, so one session can be revoked alone, and all at once by signing
out everywhere (which also bumps the version).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.accounts.models import AccountSession, Participant
from services.accounts.security import issue_token, read_token
from services.audit import service as audit
from services.kit.db import hand_back, take_write_lock, utcnow
from services.kit.errors import NotFound, Unauthorized

USER_AGENT_LENGTH = 200
ADDRESS_LENGTH = 64


class InvalidToken(Unauthorized):
    """The token is missing, malformed, expired or revoked; sign in again."""

    code = "invalid_token"


class NoSuchSession(NotFound):
    """No such session: it has ended or was never yours."""

    code = "no_such_session"


class SessionKind(StrEnum):
    browser = "browser"
    api = "api"


@dataclass(frozen=True)
class SignedIn:
    """Who a token speaks for, and the session it belongs to."""

    participant: Participant
    session: AccountSession


async def start(
    db: AsyncSession,
    participant: Participant,
    *,
    kind: SessionKind,
    secret: str,
    lifetime: timedelta,
    user_agent: str = "",
    address: str = "",
    two_factor: bool = False,
) -> tuple[str, datetime]:
    """Record a new session and return its access token and when it expires.

    It commits the caller's unit of work so far and writes in a new one that takes SQLite's write lock
    first: a sign-in reads (the password check) before it writes here, and on SQLite a transaction that
    read before another writer committed could not write at all.
    """
    await hand_back(db)
    await take_write_lock(db)
    # The participant's expired sessions go here, where the write lock is held anyway.
    await db.execute(delete(AccountSession).where(AccountSession.participant_id == participant.id, AccountSession.expires_at <= utcnow()))
    row = AccountSession(
        participant_id=participant.id,
        kind=kind.value,
        user_agent=user_agent[:USER_AGENT_LENGTH],
        address=address[:ADDRESS_LENGTH],
        created_at=utcnow(),
        expires_at=utcnow() + lifetime,
        two_factor=two_factor,
    )
    db.add(row)
    await db.flush()
    return issue_token(participant.id, participant.token_version, secret, lifetime, session_id=row.id)


async def resolve(db: AsyncSession, token: str, secret: str) -> SignedIn:
    """The participant and session of a valid, unexpired, unrevoked token; `InvalidToken` otherwise."""
    claims = read_token(token, secret)
    if claims is None or claims.session_id is None:
        raise InvalidToken()
    found = (
        await db.execute(
            select(Participant, AccountSession)
            .join(AccountSession, AccountSession.participant_id == Participant.id)
            .where(AccountSession.id == claims.session_id, Participant.id == claims.participant_id)
        )
    ).first()
    if found is None:
        raise InvalidToken()
    participant, row = found
    if participant.token_version != claims.token_version or participant.deleted_at is not None or row.expires_at <= utcnow():
        raise InvalidToken()
    return SignedIn(participant, row)


async def active(db: AsyncSession, participant: Participant) -> list[AccountSession]:
    """The participant's sessions that have not expired, newest first (reads only: expired rows go at the next sign-in)."""
    rows = await db.scalars(
        select(AccountSession)
        .where(AccountSession.participant_id == participant.id, AccountSession.expires_at > utcnow())
        .order_by(AccountSession.created_at.desc())
    )
    return list(rows.all())


async def end(db: AsyncSession, signed_in: SignedIn) -> None:
    """End this one session (signing out here)."""
    await db.execute(delete(AccountSession).where(AccountSession.id == signed_in.session.id))


async def revoke(db: AsyncSession, participant: Participant, session_id: uuid.UUID) -> None:
    """End one of the participant's sessions; `NoSuchSession` if it is not theirs or has ended."""
    ended = await db.execute(delete(AccountSession).where(AccountSession.id == session_id, AccountSession.participant_id == participant.id))
    if ended.rowcount != 1:  # type: ignore[attr-defined]
        raise NoSuchSession()
    # Public, like every act on an account, so without the session's browser or address.
    await audit.record(
        db, actor_id=participant.id, action="participant.session_revoked", target_type="participant", target_id=participant.id
    )


async def revoke_others(db: AsyncSession, participant: Participant, keep: AccountSession | None) -> None:
    """End every session of the participant but `keep` (all of them if None)."""
    query = delete(AccountSession).where(AccountSession.participant_id == participant.id)
    if keep is not None:
        query = query.where(AccountSession.id != keep.id)
    await db.execute(query)


async def mark_two_factor(db: AsyncSession, row: AccountSession) -> None:
    """This session has proven a second factor (it just enrolled one)."""
    row.two_factor = True
    await db.flush()
