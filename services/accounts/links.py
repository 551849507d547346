"""Links mailed to an account's owner: to confirm an address, to reset a password, to confirm a new address, to
prove a second address (at one's organisation).

A link carries a token signed with the server's key (HS256, as bearer tokens) that names one row here; the row
makes it single-use and lets a newer link void an older one. Nothing but `redeem` and `check` decides
whether a link still works: a forged, altered or cut-short token is `LinkInvalid` (400); one past its time
`LinkExpired` (410); one used, or replaced by a newer one, `LinkUsed` (410). None of them changes anything.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime, timedelta

import jwt
from sqlalchemy import Enum, ForeignKey, String, Uuid, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from services.accounts.security import ALGORITHM
from services.kit.db import Base, UTCDateTime, new_id
from services.kit.errors import DomainError


class LinkPurpose(enum.StrEnum):
    verify_email = "verify_email"
    reset_password = "reset_password"
    change_email = "change_email"
    # A second address, at one's organisation's domain (`addresses.request_proof`).
    prove_address = "prove_address"


LIFETIMES = {
    LinkPurpose.verify_email: timedelta(hours=48),
    LinkPurpose.reset_password: timedelta(hours=1),
    LinkPurpose.change_email: timedelta(hours=48),
    LinkPurpose.prove_address: timedelta(hours=48),
}
# A newer link of these purposes voids the older ones: only the latest reset or address change works.
VOIDED_BY_NEWER = frozenset({LinkPurpose.reset_password, LinkPurpose.change_email})


class AccountLink(Base):
    """One mailed link: whose, what for, which address it was sent to, and whether it still works."""

    __tablename__ = "account_links"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    participant_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"), index=True)
    purpose: Mapped[LinkPurpose] = mapped_column(
        Enum(LinkPurpose, native_enum=False, length=20, create_constraint=True, name="link_purpose")
    )
    # The address the link was mailed to (for a change of address, the new one).
    email: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LinkInvalid(DomainError):
    """This link is not valid: it may have been cut short or altered. Ask for a new one."""

    status_code = 400
    code = "link_invalid"


class LinkExpired(DomainError):
    """This link has expired. Ask for a new one."""

    status_code = 410
    code = "link_expired"


class LinkUsed(DomainError):
    """This link has already been used, or a newer link replaced it. Ask for a new one if you still need it."""

    status_code = 410
    code = "link_used"


async def issue(session: AsyncSession, participant_id: uuid.UUID, purpose: LinkPurpose, email: str, *, now: datetime, secret: str) -> str:
    """A new link's token; older unused links of a purpose in `VOIDED_BY_NEWER` stop working."""
    if purpose in VOIDED_BY_NEWER:
        await session.execute(
            update(AccountLink)
            .where(
                AccountLink.participant_id == participant_id,
                AccountLink.purpose == purpose,
                AccountLink.used_at.is_(None),
                AccountLink.voided_at.is_(None),
            )
            .values(voided_at=now)
        )
    link = AccountLink(participant_id=participant_id, purpose=purpose, email=email, created_at=now, expires_at=now + LIFETIMES[purpose])
    session.add(link)
    await session.flush()
    return jwt.encode({"sub": str(link.id), "typ": f"link:{purpose.value}"}, secret, algorithm=ALGORITHM)


async def check(session: AsyncSession, token: str, purpose: LinkPurpose, *, now: datetime, secret: str) -> AccountLink:
    """The link `token` names, locked, if it still works for `purpose`; raises otherwise. Nothing is changed."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["sub"]})
        link_id = uuid.UUID(claims["sub"])
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise LinkInvalid() from exc
    if claims.get("typ") != f"link:{purpose.value}":
        raise LinkInvalid()
    query = select(AccountLink).where(AccountLink.id == link_id).with_for_update().execution_options(populate_existing=True)
    link = (await session.scalars(query)).first()
    if link is None or link.purpose is not purpose:
        raise LinkInvalid()
    if link.used_at is not None or link.voided_at is not None:
        raise LinkUsed()
    if now >= link.expires_at:
        raise LinkExpired()
    return link


async def redeem(session: AsyncSession, token: str, purpose: LinkPurpose, *, now: datetime, secret: str) -> AccountLink:
    """As `check`, and the link is used: it never works again."""
    link = await check(session, token, purpose, now=now, secret=secret)
    link.used_at = now
    await session.flush()
    return link
