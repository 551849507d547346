"""Public consultations on a norm's version: comments (optionally anchored to a passage), replies, moderation."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Enum, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from services.kit.db import Base, UTCDateTime, new_id


class CommentStatus(enum.StrEnum):
    open = "open"
    addressed = "addressed"
    declined = "declined"


class Consultation(Base):
    """A version opened for public comment until `closes_at` (or until a convener closes it)."""

    __tablename__ = "consultations"
    __table_args__ = (
        Index("ix_consultations_norm_opened", "norm_id", "opened_at"),
        Index("ix_consultations_closes", "closes_at"),
        CheckConstraint("closes_at > opened_at", name="consultation_closes_after_opening"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    norm_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("norms.id"))
    version_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("norm_versions.id"))
    version_number: Mapped[int] = mapped_column(Integer)
    question: Mapped[str] = mapped_column(Text)
    opened_by: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set when a convener closes it early; otherwise it closes by itself at `closes_at`.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ConsultationComment(Base):
    """A comment as its author sent it, with the affiliation they had then; hidden ones keep their text for the audit log."""

    __tablename__ = "consultation_comments"
    __table_args__ = (
        Index("ix_consultation_comments_consultation", "consultation_id", "created_at"),
        CheckConstraint(
            "(anchor_start IS NULL AND anchor_end IS NULL) OR (anchor_start >= 0 AND anchor_end > anchor_start)",
            name="comment_anchor_range",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    consultation_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("consultations.id"))
    author_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"), index=True)
    body: Mapped[str] = mapped_column(Text)
    # The anchor in the consultation version's text (code points) and the passage quoted, kept so it can be found again after edits.
    anchor_start: Mapped[int | None] = mapped_column(Integer)
    anchor_end: Mapped[int | None] = mapped_column(Integer)
    anchor_quote: Mapped[str | None] = mapped_column(Text)
    stakeholder_group: Mapped[str] = mapped_column(String(40))
    country: Mapped[str] = mapped_column(String(2))
    region: Mapped[str] = mapped_column(String(40))
    organisation: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[CommentStatus] = mapped_column(
        Enum(CommentStatus, native_enum=False, length=20, create_constraint=True, name="comment_status"), default=CommentStatus.open
    )
    addressed_in_version: Mapped[int | None] = mapped_column(Integer)
    decline_reason: Mapped[str | None] = mapped_column(Text)
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("participants.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    hidden_reason: Mapped[str | None] = mapped_column(Text)
    hidden_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("participants.id"))
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CommentReply(Base):
    """A member's answer to a comment."""

    __tablename__ = "consultation_replies"
    __table_args__ = (Index("ix_consultation_replies_comment", "comment_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    comment_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("consultation_comments.id"))
    author_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
