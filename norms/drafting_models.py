"""The drafting stage before a ballot: discussion threads (optionally on a passage), suggested changes that
members accept or decline, and non-binding sense checks (DESIGN.md "Drafting stage")."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, Enum, ForeignKey, Index, Integer, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from services.kit.db import Base, UTCDateTime, new_id


class ThreadStatus(enum.StrEnum):
    open = "open"
    resolved = "resolved"


class SuggestionStatus(enum.StrEnum):
    pending = "pending"
    accepted = "accepted"
    declined = "declined"


class Answer(enum.StrEnum):
    """A sense check's answers; the sign-off rule counts them as approve, object and abstain."""

    agree = "agree"
    disagree = "disagree"
    abstain = "abstain"


_ANCHOR_RANGE = "(anchor_start IS NULL AND anchor_end IS NULL) OR (anchor_start >= 0 AND anchor_end > anchor_start)"


class Thread(Base):
    """A discussion on a norm, optionally on a passage of the text at `anchor_heads` (found again by norms/anchoring.py)."""

    __tablename__ = "discussion_threads"
    __table_args__ = (
        Index("ix_discussion_threads_norm", "norm_id", "created_at"),
        CheckConstraint(_ANCHOR_RANGE, name="thread_anchor_range"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    norm_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("norms.id"))
    author_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"))
    anchor_start: Mapped[int | None] = mapped_column(Integer)
    anchor_end: Mapped[int | None] = mapped_column(Integer)
    anchor_quote: Mapped[str | None] = mapped_column(Text)
    # The document's heads the anchor's range refers to.
    anchor_heads: Mapped[list[str] | None] = mapped_column(JSON)
    status: Mapped[ThreadStatus] = mapped_column(
        Enum(ThreadStatus, native_enum=False, length=20, create_constraint=True, name="thread_status"), default=ThreadStatus.open
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Bumped by every post, resolution and hiding: what the page's poll compares.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("participants.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ThreadPost(Base):
    """A thread's opening post or a reply; hidden ones keep their text for the audit log and show their reason."""

    __tablename__ = "discussion_posts"
    __table_args__ = (Index("ix_discussion_posts_thread", "thread_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    thread_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("discussion_threads.id"))
    author_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    hidden_reason: Mapped[str | None] = mapped_column(Text)
    hidden_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("participants.id"))
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Mention(Base):
    """A network member named with `@` in a post: linked on the page, and whom notifications (#24) will tell."""

    __tablename__ = "discussion_mentions"

    post_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("discussion_posts.id"), primary_key=True)
    participant_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"), primary_key=True, index=True)


class Suggestion(Base):
    """Replacement text proposed for a passage of the text at `anchor_heads`; accepted (applied as its author's
    change) or declined by a member, with who decided and why."""

    __tablename__ = "suggestions"
    __table_args__ = (
        Index("ix_suggestions_norm", "norm_id", "created_at"),
        CheckConstraint("anchor_start >= 0 AND anchor_end >= anchor_start", name="suggestion_anchor_range"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    norm_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("norms.id"))
    author_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"))
    anchor_start: Mapped[int] = mapped_column(Integer)
    anchor_end: Mapped[int] = mapped_column(Integer)
    anchor_quote: Mapped[str] = mapped_column(Text)
    anchor_heads: Mapped[list[str]] = mapped_column(JSON)
    replacement: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    # The consultation that let a non-member suggest, if it was one.
    consultation_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("consultations.id"))
    status: Mapped[SuggestionStatus] = mapped_column(
        Enum(SuggestionStatus, native_enum=False, length=20, create_constraint=True, name="suggestion_status"),
        default=SuggestionStatus.pending,
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("participants.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(Text)
    # The changes accepting it made (hex hashes), credited to the author.
    changes: Mapped[list[str] | None] = mapped_column(JSON)


class SenseCheck(Base):
    """A convener's non-binding question on a version (or the current text when `version_number` is None)."""

    __tablename__ = "sense_checks"
    __table_args__ = (Index("ix_sense_checks_norm", "norm_id", "opened_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    norm_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("norms.id"))
    version_number: Mapped[int | None] = mapped_column(Integer)
    question: Mapped[str] = mapped_column(Text)
    opened_by: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("participants.id"))


class SenseCheckAnswer(Base):
    """A member's answer, changeable until the sense check closes."""

    __tablename__ = "sense_check_answers"
    __table_args__ = (CheckConstraint("answer <> 'disagree' OR reason IS NOT NULL", name="disagree_has_reason"),)

    sense_check_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("sense_checks.id"), primary_key=True)
    participant_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"), primary_key=True)
    answer: Mapped[Answer] = mapped_column(Enum(Answer, native_enum=False, length=20, create_constraint=True, name="sense_answer"))
    reason: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
