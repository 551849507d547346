"""Notifications (one row per person per event), what people follow, and how each wants to hear of each kind."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Enum, ForeignKey, Index, Integer, String, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from services.kit.db import Base, UTCDateTime
from services.notifications import titles

BigId = BigInteger().with_variant(Integer(), "sqlite")


class Kind(enum.StrEnum):
    """What happened. Each kind has its own mail preference and its own unsubscribe link."""

    ballot_opened = "ballot_opened"
    ballot_closing = "ballot_closing"
    ballot_closed = "ballot_closed"
    application_received = "application_received"
    application_decided = "application_decided"
    network_status = "network_status"
    version_tagged = "version_tagged"
    consultation_opened = "consultation_opened"
    consultation_comment = "consultation_comment"
    comment_answered = "comment_answered"
    norm_adopted = "norm_adopted"
    norm_published = "norm_published"
    # Verified affiliations: asked to vouch; one's own affiliation verified (registrar, vouches) or revoked.
    vouch_requested = "vouch_requested"
    affiliation_verified = "affiliation_verified"
    # Discussions on a norm: named with `@` in a post; a reply in a thread one posted in.
    mention = "mention"
    discussion_reply = "discussion_reply"


class Mode(enum.StrEnum):
    """How a person hears of a kind by mail."""

    at_once = "at_once"
    daily = "daily"
    weekly = "weekly"
    never = "never"


class Target(enum.StrEnum):
    """What can be followed."""

    network = "network"
    norm = "norm"
    topic = "topic"
    clearinghouse = "clearinghouse"


class Notification(Base):
    """One event told to one person: shown in their notification centre, and mailed as their preference says."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_participant", "participant_id", "id"),
        Index(
            "ix_notifications_mail_due",
            "mail_due_at",
            sqlite_where=text("mailed_at IS NULL AND mail_due_at IS NOT NULL"),
            postgresql_where=text("mailed_at IS NULL AND mail_due_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    participant_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    # The network it belongs to; when `members_only`, it is shown and mailed only while the person is a member.
    network_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("networks.id", ondelete="CASCADE"))
    members_only: Mapped[bool] = mapped_column(Boolean, default=False)
    # In English; `title_source` (services/notifications/titles.py) writes it in each reader's language.
    title: Mapped[str] = mapped_column(String(300))
    title_source: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Where it happened (a path on this site).
    url: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # How it is mailed (the person's preference when it was made) and when: None when never.
    mail_mode: Mapped[str] = mapped_column(String(10))
    mail_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the worker turned it into a mail in the mail outbox (or decided not to): set once, in the same
    # transaction as the mail, so it is mailed exactly once.
    mailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def shown_title(self) -> str:
        """The title in the current language (the reader's request, or the language a mail is written in)."""
        return titles.shown(self.title_source, self.title)


class Follow(Base):
    """A person follows a network, a norm, a clearing-house topic or the whole clearing house (key '')."""

    __tablename__ = "follows"
    __table_args__ = (Index("ix_follows_target", "target", "target_key"),)

    participant_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True)
    target: Mapped[Target] = mapped_column(
        Enum(Target, native_enum=False, length=20, create_constraint=True, name="follow_target"), primary_key=True
    )
    # The network's or norm's id, the topic's key, or '' for the whole clearing house.
    target_key: Mapped[str] = mapped_column(String(80), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Preference(Base):
    """How a person hears of one kind by mail; `version` moves on every change, which voids older unsubscribe links."""

    __tablename__ = "notification_preferences"

    participant_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    mode: Mapped[Mode] = mapped_column(Enum(Mode, native_enum=False, length=10, create_constraint=True, name="notification_mode"))
    version: Mapped[int] = mapped_column(Integer, default=0)


class DigestSchedule(Base):
    """When a person's digests go out: at `hour` in `time_zone` (every day, or Mondays for the weekly one)."""

    __tablename__ = "notification_schedules"

    participant_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True)
    hour: Mapped[int] = mapped_column(Integer, default=8)
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")


class BallotReminder(Base):
    """A ballot whose closing reminder was written: the worker's sweep writes each exactly once."""

    __tablename__ = "ballot_reminders"

    ballot_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("ballots.id", ondelete="CASCADE"), primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
