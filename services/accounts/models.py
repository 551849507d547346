from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Enum, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from services.kit.db import Base, UTCDateTime, new_id, utcnow


class Role(enum.StrEnum):
    participant = "participant"
    staff = "staff"
    admin = "admin"
    # An organisation following adopted norms: records their follow-up (received, implemented …).
    subscriber = "subscriber"


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
