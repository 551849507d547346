"""Accounts: registration, sign-in, token revocation and privileged roles."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.accounts.models import Participant, Role
from services.accounts.security import PasswordHashing, issue_token, read_token
from services.audit import service as audit
from services.kit.errors import Conflict, InvalidInput, NotFound, Unauthorized


class EmailTaken(Conflict):
    """An account with this email already exists."""

    code = "email_taken"


class InvalidCredentials(Unauthorized):
    """Incorrect email or password."""

    code = "invalid_credentials"


class InvalidToken(Unauthorized):
    """The token is missing, malformed, expired or revoked; sign in again."""

    code = "invalid_token"


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def by_email(session: AsyncSession, email: str) -> Participant | None:
    return await session.scalar(select(Participant).where(Participant.email == normalise_email(email)))


async def register(
    session: AsyncSession, hashing: PasswordHashing, *, email: str, password: str, display_name: str, role: Role = Role.participant
) -> Participant:
    if await by_email(session, email) is not None:
        raise EmailTaken()
    participant = Participant(
        email=normalise_email(email), display_name=display_name, password_hash=await hashing.hash(password), role=role
    )
    session.add(participant)
    await session.flush()
    await audit.record(
        session,
        actor_id=participant.id,
        action="participant.registered",
        target_type="participant",
        target_id=participant.id,
        payload={"display_name": display_name, "role": role.value},
    )
    return participant


async def authenticate(session: AsyncSession, hashing: PasswordHashing, email: str, password: str) -> Participant:
    """The participant these credentials belong to; one error whichever part is wrong."""
    participant = await by_email(session, email)
    if not await hashing.verify(password, participant.password_hash if participant else None) or participant is None:
        raise InvalidCredentials()
    return participant


def issue(participant: Participant, secret: str, lifetime: timedelta) -> tuple[str, datetime]:
    return issue_token(participant.id, participant.token_version, secret, lifetime)


async def participant_for_token(session: AsyncSession, token: str, secret: str) -> Participant:
    """The participant a bearer token speaks for, if it is valid, unexpired and not revoked."""
    claims = read_token(token, secret)
    if claims is None:
        raise InvalidToken()
    participant = await session.get(Participant, claims.participant_id)
    if participant is None or participant.token_version != claims.token_version:
        raise InvalidToken()
    return participant


async def logout(session: AsyncSession, participant: Participant) -> None:
    """Revoke every token issued to the participant so far."""
    participant.token_version += 1
    await session.flush()


async def grant_role(
    session: AsyncSession, hashing: PasswordHashing, *, email: str, role: Role, password: str | None, display_name: str | None
) -> Participant:
    """Give an existing account a role, or create the account with it (a password is then required)."""
    participant = await by_email(session, email)
    if participant is None:
        if not password:
            raise InvalidInput(f"no account for {normalise_email(email)}; a password is needed to create it")
        return await register(
            session, hashing, email=email, password=password, display_name=display_name or email.split("@")[0], role=role
        )
    await _change_role(session, participant, role, by=None)
    return participant


async def _change_role(session: AsyncSession, participant: Participant, role: Role, by: Participant | None) -> None:
    if participant.role == role:
        return
    previous, participant.role = participant.role, role
    await session.flush()
    await audit.record(
        session,
        actor_id=by.id if by else None,
        action="participant.role_changed",
        target_type="participant",
        target_id=participant.id,
        payload={"from": previous.value, "to": role.value},
    )


async def set_role(session: AsyncSession, participant_id: uuid.UUID, role: Role, by: Participant) -> Participant:
    participant = await session.get(Participant, participant_id)
    if participant is None:
        raise NotFound("No such participant")
    if participant.id == by.id and role is not Role.admin:
        raise Conflict("Administrators cannot remove their own admin role; ask another administrator")
    await _change_role(session, participant, role, by=by)
    return participant


async def directory(session: AsyncSession, *, after_email: str | None, limit: int) -> list[Participant]:
    query = select(Participant).order_by(Participant.email).limit(limit)
    if after_email is not None:
        query = query.where(Participant.email > after_email)
    return list((await session.scalars(query)).all())

