from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Enum, ForeignKey, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from services.kit.db import Base, UTCDateTime, new_id, utcnow


class Role(enum.StrEnum):
    participant = "participant"
    staff = "staff"
    admin = "admin"
    # An organisation following adopted norms: records their follow-up (received, implemented …).
    subscriber = "subscriber"
    # Verifies affiliations and organisations by hand, with a public note; no say over norms.
    registrar = "registrar"


class Participant(Base):
    __tablename__ = "participants"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=20, create_constraint=True, name="role"), default=Role.participant
    )
    # Bumped by logout: every token carries the version it was issued under.
    token_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when the owner opened a link mailed to `email`; until then they may read but not take part.
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Set when the mail server refused `email` for good (a 5xx answer).
    email_bounced_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    # Two-factor sign-in (accounts/twofactor.py): the TOTP secret (base32) once enrolled, and the last time
    # step a code was accepted for, so no code is accepted twice.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    # Set when the person deleted their account: the row stays, under a pseudonym, for the public record.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The interface language they chose with the switch in the header (services/web/i18n.py); None: not chosen.
    language: Mapped[str | None] = mapped_column(String(8), default=None)

    @property
    def two_factor(self) -> bool:
        """Two-factor sign-in is on."""
        return self.totp_enabled_at is not None


class AccountSession(Base):
    """One signed-in browser or API client: every access token names its session, and a token whose
    session row is gone is refused (accounts/sessions.py)."""

    __tablename__ = "account_sessions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    participant_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id", ondelete="CASCADE"), index=True)
    # "browser" (the pages' cookie) or "api" (a bearer token).
    kind: Mapped[str] = mapped_column(String(10))
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    address: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Signed in with a second factor (or enrolled one from this session): privileged roles need it.
    two_factor: Mapped[bool] = mapped_column(Boolean, default=False)


class RecoveryCode(Base):
    """One single-use two-factor recovery code, kept only as a hash."""

    __tablename__ = "recovery_codes"
    __table_args__ = (UniqueConstraint("participant_id", "code_hash"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    participant_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ProvenAddress(Base):
    """A second address an account proved by a mailed link: an address at its organisation's domain when it signs
    in with another. Like sign-in addresses, an address proves one account only (see `addresses.holder`)."""

    __tablename__ = "proven_addresses"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    participant_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    proven_at: Mapped[datetime] = mapped_column(UTCDateTime)
