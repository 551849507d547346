"""The mail outbox: one row per message, written in the transaction of the act that causes it."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Enum, ForeignKey, Index, Integer, LargeBinary, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from services.kit.db import Base, UTCDateTime

BigId = BigInteger().with_variant(Integer(), "sqlite")


class MailStatus(enum.StrEnum):
    pending = "pending"
    # Handed to the SMTP server (or written to the Maildir).
    sent = "sent"
    # Refused for good (a 5xx answer): the address is marked bounced.
    bounced = "bounced"
    # Not handed over within the retry window.
    failed = "failed"


class Mail(Base):
    """One message owed to one address: a row of the durable mail outbox (`services/kit/outbox.py`)."""

    __tablename__ = "mail_outbox"
    __table_args__ = (Index("ix_mail_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # What the mail is for (`verify_email`, `reset_password`, …): the template's name.
    kind: Mapped[str] = mapped_column(String(40))
    participant_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("participants.id"), index=True)
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    # The whole RFC 5322 message, as it will be handed over.
    message: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[MailStatus] = mapped_column(
        Enum(MailStatus, native_enum=False, length=20, create_constraint=True, name="mail_status"), default=MailStatus.pending
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
