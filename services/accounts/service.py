"""Accounts: registration, sign-in, token revocation, settings (name, password) and privileged roles."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.accounts import addresses, passwords, sessions
from services.accounts.addresses import EmailTaken, normalise_email
from services.accounts.models import AccountSession, Participant, Role
from services.accounts.security import PasswordHashing
from services.accounts.sessions import InvalidToken as InvalidToken
from services.audit import service as audit
from services.kit.db import take_write_lock, utcnow
from services.kit.errors import Conflict, InvalidInput, NotFound, Unauthorized
from services.mail import outbox as mail
from services.settings import Settings


class InvalidCredentials(Unauthorized):
    """Incorrect email or password."""

    code = "invalid_credentials"


class WrongPassword(InvalidCredentials):
    """Your current password is not right."""

    code = "wrong_password"

    def __init__(self, detail: str | None = None, *, field: str = "current_password") -> None:
        super().__init__(detail, errors=[{"field": field, "message": detail or self.__doc__}])


# What every sign-up is told, whether its address was new or not.
SIGN_UP_RECEIVED = (
    "Sign-up received. We mailed a link to this address: open it to confirm the address and take part. Sign in "
    "with this address and the password you chose. If the address already had an account, nothing about it has "
    "changed and that account's own password still applies."
)


async def by_email(session: AsyncSession, email: str) -> Participant | None:
    return await session.scalar(select(Participant).where(Participant.email == normalise_email(email)))


async def register(
    session: AsyncSession, hashing: PasswordHashing, *, email: str, password: str, display_name: str, role: Role = Role.participant
) -> Participant:
    """Create an account for trusted callers (`cogov create-staff`, the demo), its address taken as proven;
    `EmailTaken` if the address has one.

    People signing up go through `sign_up`, which never says whether an address has an account.
    """
    passwords.check(password)
    password_hash = await hashing.hash(password)
    if await addresses.holder(session, email) is not None:
        raise EmailTaken()
    participant = await _create(session, email=email, password_hash=password_hash, display_name=display_name, role=role)
    participant.email_verified_at = utcnow()
    await session.flush()
    return participant


async def sign_up(
    session: AsyncSession, hashing: PasswordHashing, settings: Settings, *, email: str, password: str, display_name: str, now: datetime
) -> None:
    """Create a participant's account for an address that has none, and mail it a verification link; for an
    address that has one, change nothing and tell its owner (`signed_up_again`). Either way the caller gets the
    same: nothing back, after the same work (one password hash, one mail), so a sign-up does not tell whether
    an address has an account.
    """
    passwords.check(password)
    # Before any lock: the hash may wait its turn in the pool.
    password_hash = await hashing.hash(password)
    await take_write_lock(session)
    existing = await by_email(session, email)
    if existing is None and (second := await addresses.holder(session, email)) is not None:
        existing = await session.get(Participant, second)  # another account proved it: tell that account, as for its own
    if existing is None:
        try:
            async with session.begin_nested():
                created = await _create(session, email=email, password_hash=password_hash, display_name=display_name, role=Role.participant)
            await addresses.send_verification(session, settings, created, now=now)
            return
        except IntegrityError:  # the same address signed up at the same moment (PostgreSQL)
            existing = await by_email(session, email)
            if existing is None:
                raise
    await signed_up_again(session, settings, existing, now=now)


async def signed_up_again(session: AsyncSession, settings: Settings, participant: Participant, *, now: datetime) -> None:
    """Someone signed up with the address of an existing account: tell its owner, in the sign-up's transaction
    ("someone tried to create an account with your address; if it was you, sign in, or reset your password")."""
    await mail.queue(
        session,
        settings,
        kind="account_exists",
        recipient=participant.email,
        name=participant.display_name,
        context={"signin": f"{settings.base_url}/signin", "forgot": f"{settings.base_url}/forgot-password"},
        now=now,
        participant_id=participant.id,
    )


async def _create(session: AsyncSession, *, email: str, password_hash: str, display_name: str, role: Role) -> Participant:
    participant = Participant(email=normalise_email(email), display_name=display_name, password_hash=password_hash, role=role)
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


async def participant_for_token(session: AsyncSession, token: str, secret: str) -> Participant:
    """The participant a bearer token speaks for, if it is valid, unexpired and not revoked."""
    return (await sessions.resolve(session, token, secret)).participant


async def logout(session: AsyncSession, participant: Participant) -> None:
    """Sign out everywhere: revoke every session and token of the participant, at once."""
    participant.token_version += 1
    await sessions.revoke_others(session, participant, keep=None)
    await session.flush()
    await audit.record(
        session, actor_id=participant.id, action="participant.signed_out_everywhere", target_type="participant", target_id=participant.id
    )


async def rename(session: AsyncSession, participant: Participant, display_name: str) -> Participant:
    """Change the name shown beside the participant's acts (audited with the new name)."""
    if display_name == participant.display_name:
        return participant
    participant.display_name = display_name
    await session.flush()
    await audit.record(
        session,
        actor_id=participant.id,
        action="participant.renamed",
        target_type="participant",
        target_id=participant.id,
        payload={"display_name": display_name},
    )
    return participant


async def check_password(hashing: PasswordHashing, participant: Participant, password: str, *, field: str = "current_password") -> None:
    """`WrongPassword` (401, naming `field`) unless `password` is the participant's."""
    if not await hashing.verify(password, participant.password_hash):
        raise WrongPassword(field=field)


async def change_password(
    session: AsyncSession, hashing: PasswordHashing, participant: Participant, new_password: str, *, keep: AccountSession | None
) -> None:
    """Set a new password (the caller has checked the current one) and end every other session."""
    passwords.check(new_password)
    participant.password_hash = await hashing.hash(new_password)
    await sessions.revoke_others(session, participant, keep=keep)
    await session.flush()
    await audit.record(
        session, actor_id=participant.id, action="participant.password_changed", target_type="participant", target_id=participant.id
    )


async def grant_role(
    session: AsyncSession, hashing: PasswordHashing, *, email: str, role: Role, password: str | None, display_name: str | None
) -> Participant:
    """Give an existing account a role, or create the account with it (a password is then required)."""
    await take_write_lock(session)  # it reads, then writes: on SQLite, a writer committing between would fail it
    participant = await by_email(session, email)
    if participant is None:
        if not password:
            raise InvalidInput(f"no account for {normalise_email(email)}; a password is needed to create it")
        return await register(session, hashing, email=email, password=password, display_name=display_name or email.split("@")[0], role=role)
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
