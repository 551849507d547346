"""Password reset by a mailed link (single use, 1 h, voided by a newer link). A request for an address
without an account gets the same answer after the same work (one mail written, to that address, saying
so), so the answer tells nobody which addresses have accounts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.accounts import addresses, links, passwords
from services.accounts.links import LinkPurpose
from services.accounts.models import Participant
from services.accounts.security import PasswordHashing
from services.accounts.service import by_email, logout, normalise_email
from services.audit import service as audit
from services.kit.db import take_write_lock
from services.mail import outbox as mail
from services.mail.message import refuse_line_breaks
from services.settings import Settings

RESET_PATH = "/reset-password"
# What every request is told, whether or not the address has an account.
RESET_REQUESTED = (
    "If an account uses this address, a link to choose a new password is on its way (valid for one hour). "
    "Check your mail, and your spam folder."
)


async def request_reset(session: AsyncSession, settings: Settings, email: str, *, now: datetime) -> None:
    address = normalise_email(email)
    refuse_line_breaks(address)
    await take_write_lock(session)
    participant = await by_email(session, address)
    if participant is None:
        await mail.queue(
            session, settings, kind="no_account", recipient=address, name=None, context={"signup": f"{settings.base_url}/signup"}, now=now
        )
        return
    await addresses.mail_link(session, settings, participant, LinkPurpose.reset_password, participant.email, RESET_PATH, now=now)
    await audit.record(
        session,
        actor_id=None,
        action="participant.password_reset_requested",
        target_type="participant",
        target_id=participant.id,
    )


async def reset(
    session: AsyncSession, hashing: PasswordHashing, settings: Settings, token: str, password: str, *, now: datetime
) -> Participant:
    """Set a new password from a reset link; every session and token of the account is signed out. The link
    was mailed to the account's address, so opening it also proves that address."""
    passwords.check(password)
    await links.check(
        session, token, LinkPurpose.reset_password, now=now, secret=settings.signing_key
    )  # before hashing: a bad link costs nothing
    password_hash = await hashing.hash(password)
    link = await links.redeem(session, token, LinkPurpose.reset_password, now=now, secret=settings.signing_key)
    participant = await session.get_one(Participant, link.participant_id, with_for_update=True, populate_existing=True)
    if participant.email != link.email:
        raise links.LinkUsed("This link was mailed to an address the account no longer uses")
    participant.password_hash = password_hash
    if participant.email_verified_at is None:
        participant.email_verified_at = now
    await logout(session, participant)
    await audit.record(
        session, actor_id=participant.id, action="participant.password_reset", target_type="participant", target_id=participant.id
    )
    return participant
