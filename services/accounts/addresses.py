"""Proven email addresses: the verification mailed at sign-up (and on request), and a change of address,
which takes effect only once the new address is proven, the old one having been told.

Until its address is verified, an account may sign in and read but not take part (`require_verified`,
asked by `networks/membership.py`, the one place that decides who may take part).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.accounts import links
from services.accounts.links import LinkPurpose
from services.accounts.models import Participant
from services.audit import service as audit
from services.kit.errors import Conflict, Forbidden, InvalidInput
from services.mail import outbox as mail
from services.mail.message import refuse_line_breaks
from services.settings import Settings

VERIFY_PATH = "/verify-email"
CONFIRM_CHANGE_PATH = "/confirm-email"


class EmailUnverified(Forbidden):
    """Confirm your email address first: open the link we mailed you, or ask for a new one. Until then you can read, but not take part."""

    code = "email_unverified"


class AlreadyVerified(Conflict):
    """This address is already confirmed."""

    code = "already_verified"


class EmailTaken(Conflict):
    """An account with this email already exists."""

    code = "email_taken"


def normalise_email(email: str) -> str:
    return email.strip().lower()


def require_verified(verified_at: datetime | None) -> None:
    """`EmailUnverified` (403) unless the account's address is proven."""
    if verified_at is None:
        raise EmailUnverified()


async def send_verification(session: AsyncSession, settings: Settings, participant: Participant, *, now: datetime) -> None:
    """Mail a link proving the account's address (valid 48 h), in the caller's transaction."""
    token = await links.issue(session, participant.id, LinkPurpose.verify_email, participant.email, now=now, secret=settings.signing_key)
    await mail.queue(
        session,
        settings,
        kind="verify_email",
        recipient=participant.email,
        name=participant.display_name,
        context={"link": f"{settings.base_url}{VERIFY_PATH}?token={token}"},
        now=now,
        participant_id=participant.id,
    )


async def resend_verification(session: AsyncSession, settings: Settings, participant: Participant, *, now: datetime) -> None:
    """Mail a new verification link (the first one goes with `participant.registered`)."""
    if participant.email_verified_at is not None:
        raise AlreadyVerified()
    await send_verification(session, settings, participant, now=now)
    await audit.record(
        session,
        actor_id=participant.id,
        action="participant.email_verification_resent",
        target_type="participant",
        target_id=participant.id,
    )


async def verify(session: AsyncSession, settings: Settings, token: str, *, now: datetime) -> Participant:
    """Prove the address the link was mailed to; the link is used up."""
    link = await links.redeem(session, token, LinkPurpose.verify_email, now=now, secret=settings.signing_key)
    participant = await session.get_one(Participant, link.participant_id, with_for_update=True, populate_existing=True)
    if participant.email != link.email:
        raise links.LinkUsed("This link was mailed to an address the account no longer uses")
    if participant.email_verified_at is None:
        participant.email_verified_at = now
        await session.flush()
        await audit.record(
            session, actor_id=participant.id, action="participant.email_verified", target_type="participant", target_id=participant.id
        )
    return participant


async def request_change(session: AsyncSession, settings: Settings, participant: Participant, new_email: str, *, now: datetime) -> None:
    """Mail a link to `new_email` (it replaces the account's address once opened) and tell the old address.

    `EmailTaken` (409) when another account holds the new address; nothing is mailed then."""
    address = normalise_email(new_email)
    refuse_line_breaks(address)
    if address == participant.email:
        raise InvalidInput("This is already your address", errors=[{"field": "email", "message": "This is already your address"}])
    if await session.scalar(select(Participant.id).where(Participant.email == address)) is not None:
        raise EmailTaken()
    token = await links.issue(session, participant.id, LinkPurpose.change_email, address, now=now, secret=settings.signing_key)
    await mail.queue(
        session,
        settings,
        kind="change_email",
        recipient=address,
        name=participant.display_name,
        context={"link": f"{settings.base_url}{CONFIRM_CHANGE_PATH}?token={token}"},
        now=now,
        participant_id=participant.id,
    )
    await mail.queue(
        session,
        settings,
        kind="email_changed",
        recipient=participant.email,
        name=participant.display_name,
        context={"new_address": address, "forgot": f"{settings.base_url}/forgot-password"},
        now=now,
        participant_id=participant.id,
    )
    await audit.record(
        session,
        actor_id=participant.id,
        action="participant.email_change_requested",
        target_type="participant",
        target_id=participant.id,
    )


async def confirm_change(session: AsyncSession, settings: Settings, token: str, *, now: datetime) -> Participant:
    """Replace the account's address with the one the link was mailed to, now proven."""
    link = await links.redeem(session, token, LinkPurpose.change_email, now=now, secret=settings.signing_key)
    participant = await session.get_one(Participant, link.participant_id, with_for_update=True, populate_existing=True)
    holder = await session.scalar(select(Participant.id).where(Participant.email == link.email))
    if holder is not None and holder != participant.id:
        raise EmailTaken()
    participant.email, participant.email_verified_at, participant.email_bounced_at = link.email, now, None
    await session.flush()
    await audit.record(
        session, actor_id=participant.id, action="participant.email_changed", target_type="participant", target_id=participant.id
    )
    return participant
