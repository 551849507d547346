"""Proven email addresses: the verification mailed at sign-up (and on request), a change of address,
which takes effect only once the new address is proven, the old one having been told, and second addresses
proven by a mailed link (an address at one's organisation when one signs in with another).

An address proves one account: no account may use as its sign-in address another's proven second address,
nor prove as a second address another's sign-in or second address (`holder`).

Until its address is verified, an account may sign in and read but not take part (`require_verified`,
asked by `networks/membership.py`, the one place that decides who may take part).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.accounts import links
from services.accounts.links import LinkPurpose
from services.accounts.models import Participant, ProvenAddress
from services.audit import service as audit
from services.kit.errors import Conflict, Forbidden, InvalidInput
from services.mail import outbox as mail
from services.mail.message import refuse_line_breaks
from services.settings import Settings

VERIFY_PATH = "/verify-email"
CONFIRM_CHANGE_PATH = "/confirm-email"
PROVE_PATH = "/prove-address"


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


async def mail_link(
    session: AsyncSession, settings: Settings, participant: Participant, purpose: LinkPurpose, address: str, path: str, *, now: datetime
) -> None:
    """Issue a single-use link for `purpose`, bound to `address`, and mail it there (the mail of the same kind),
    in the caller's transaction; following it opens `path` with the link's token."""
    token = await links.issue(session, participant.id, purpose, address, now=now, secret=settings.signing_key)
    await mail.queue(
        session,
        settings,
        kind=purpose.value,
        recipient=address,
        name=participant.display_name,
        context={"link": f"{settings.base_url}{path}?token={token}"},
        now=now,
        participant_id=participant.id,
    )


async def send_verification(session: AsyncSession, settings: Settings, participant: Participant, *, now: datetime) -> None:
    """Mail a link proving the account's address (valid 48 h), in the caller's transaction."""
    await mail_link(session, settings, participant, LinkPurpose.verify_email, participant.email, VERIFY_PATH, now=now)


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
    if (await holder(session, address)) not in (None, participant.id):
        raise EmailTaken()
    await mail_link(session, settings, participant, LinkPurpose.change_email, address, CONFIRM_CHANGE_PATH, now=now)
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
    if (await holder(session, link.email)) not in (None, participant.id):
        raise EmailTaken()
    await session.execute(delete(ProvenAddress).where(ProvenAddress.email == link.email))  # now its sign-in address
    participant.email, participant.email_verified_at, participant.email_bounced_at = link.email, now, None
    await session.flush()
    await audit.record(
        session, actor_id=participant.id, action="participant.email_changed", target_type="participant", target_id=participant.id
    )
    return participant


async def holder(session: AsyncSession, address: str) -> uuid.UUID | None:
    """The account whose sign-in address or proven second address this is, if any."""
    address = normalise_email(address)
    signs_in = await session.scalar(select(Participant.id).where(Participant.email == address))
    return signs_in or await session.scalar(select(ProvenAddress.participant_id).where(ProvenAddress.email == address))


async def second_addresses(session: AsyncSession, participant_id: uuid.UUID) -> list[ProvenAddress]:
    """The account's proven second addresses, oldest first (private: only their owner sees them)."""
    query = select(ProvenAddress).where(ProvenAddress.participant_id == participant_id).order_by(ProvenAddress.proven_at)
    return list((await session.scalars(query)).all())


async def request_proof(session: AsyncSession, settings: Settings, participant: Participant, address: str, *, now: datetime) -> str:
    """Mail a link to `address` (single use, 48 h); opening it proves the account holds that mailbox. Returns the
    address as stored. 422 for one's own sign-in address, 409 (`AlreadyVerified`) for one already proven,
    `EmailTaken` (409) for another account's address; nothing is mailed then."""
    address = normalise_email(address)
    refuse_line_breaks(address)
    if address == participant.email:
        raise InvalidInput(
            "This is already your sign-in address", errors=[{"field": "email", "message": "This is already your sign-in address"}]
        )
    held = await holder(session, address)
    if held == participant.id:
        raise AlreadyVerified("You have already proven this address")
    if held is not None:
        raise EmailTaken()
    await mail_link(session, settings, participant, LinkPurpose.prove_address, address, PROVE_PATH, now=now)
    await audit.record(
        session, actor_id=participant.id, action="participant.address_proof_requested", target_type="participant", target_id=participant.id
    )
    return address


async def prove(session: AsyncSession, settings: Settings, token: str, *, now: datetime) -> tuple[Participant, str]:
    """Prove the second address the link was mailed to; the link is used up. Returns the account and the address."""
    link = await links.redeem(session, token, LinkPurpose.prove_address, now=now, secret=settings.signing_key)
    participant = await session.get_one(Participant, link.participant_id, with_for_update=True, populate_existing=True)
    if participant.deleted_at is not None:
        raise links.LinkUsed("This link was mailed for an account that no longer exists")
    held = await holder(session, link.email)
    if held is not None and held != participant.id:
        raise EmailTaken()
    if held is None:
        session.add(ProvenAddress(participant_id=participant.id, email=link.email, proven_at=now))
        await session.flush()
        await audit.record(
            session, actor_id=participant.id, action="participant.address_proven", target_type="participant", target_id=participant.id
        )
    return participant, link.email
