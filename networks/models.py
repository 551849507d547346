"""Affiliations (with their history), networks, charter versions, memberships and applications."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, Enum, ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from services.kit.db import Base, UTCDateTime, new_id, utcnow

# Column sizes; the schemas enforce the same limits so the database never truncates or refuses.
CODE_LENGTH = 40
SLUG_LENGTH = 80
NAME_LENGTH = 120
ORGANISATION_LENGTH = 200
FRACTION_LENGTH = 32


def _enum(kind: type[enum.Enum], name: str) -> Enum:
    return Enum(kind, native_enum=False, length=20, create_constraint=True, name=name)


class MembershipPolicy(enum.StrEnum):
    open = "open"
    by_application = "by_application"


class NetworkStatus(enum.StrEnum):
    forming = "forming"
    active = "active"


class MemberRole(enum.StrEnum):
    member = "member"
    convener = "convener"


class ApplicationStatus(enum.StrEnum):
    pending = "pending"
    approved = "approved"
    declined = "declined"


class Affiliation(Base):
    """One period of a participant's affiliation; the current one has no `valid_to`.

    Rows are closed, never edited, so what a participant was at any moment stays answerable.
    """

    __tablename__ = "affiliations"
    __table_args__ = (
        # At most one current affiliation per participant.
        Index(
            "uq_affiliations_current",
            "participant_id",
            unique=True,
            sqlite_where=text("valid_to IS NULL"),
            postgresql_where=text("valid_to IS NULL"),
        ),
        Index("ix_affiliations_participant_period", "participant_id", "valid_from"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    participant_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"))
    stakeholder_group: Mapped[str] = mapped_column(String(CODE_LENGTH))
    country: Mapped[str] = mapped_column(String(2))
    # Derived from the country when the row was written, under the taxonomy of that moment.
    region: Mapped[str] = mapped_column(String(CODE_LENGTH))
    organisation: Mapped[str | None] = mapped_column(String(ORGANISATION_LENGTH))
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Network(Base):
    """A self-forming network. Its `status` is the formation rule's verdict, stored and kept current."""

    __tablename__ = "networks"
    __table_args__ = (Index("ix_networks_listing", "created_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(SLUG_LENGTH), unique=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    issue: Mapped[str] = mapped_column(Text)
    aims: Mapped[str] = mapped_column(Text)
    intended_outcome: Mapped[str] = mapped_column(Text)
    membership_policy: Mapped[MembershipPolicy] = mapped_column(_enum(MembershipPolicy, "membership_policy"))
    status: Mapped[NetworkStatus] = mapped_column(_enum(NetworkStatus, "network_status"), default=NetworkStatus.forming, index=True)
    # The version of `network_charters` in force; older versions stay for ballots opened under them.
    charter_version: Mapped[int] = mapped_column(Integer, default=1)
    founded_by: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NetworkCharter(Base):
    """One version of a network's charter. Amending adds a version; none is ever changed."""

    __tablename__ = "network_charters"
    __table_args__ = (
        UniqueConstraint("network_id", "version"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("min_regions >= 2", name="min_regions_at_least_2"),
        CheckConstraint("min_ballot_hours >= 1", name="min_ballot_hours_positive"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    network_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("networks.id"))
    version: Mapped[int] = mapped_column(Integer)
    required_groups: Mapped[list[str]] = mapped_column(JSON)
    min_regions: Mapped[int] = mapped_column(Integer)
    # Exact fractions as text ("1/2", "2/3"), never floats.
    quorum: Mapped[str] = mapped_column(String(FRACTION_LENGTH))
    threshold: Mapped[str] = mapped_column(String(FRACTION_LENGTH))
    min_ballot_hours: Mapped[int] = mapped_column(Integer)
    adopted_by: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"))
    adopted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Membership(Base):
    __tablename__ = "memberships"

    network_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("networks.id"), primary_key=True)
    participant_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"), primary_key=True, index=True)
    role: Mapped[MemberRole] = mapped_column(_enum(MemberRole, "member_role"), default=MemberRole.member)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Application(Base):
    """A request to join a network whose policy is `by_application`, decided by a convener."""

    __tablename__ = "network_applications"
    __table_args__ = (
        # One open application per participant and network.
        Index(
            "uq_network_applications_pending",
            "network_id",
            "participant_id",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_network_applications_listing", "network_id", "status", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    network_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("networks.id"))
    participant_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"), index=True)
    motivation: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[ApplicationStatus] = mapped_column(_enum(ApplicationStatus, "application_status"), default=ApplicationStatus.pending)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("participants.id"))
    decision_note: Mapped[str | None] = mapped_column(Text)
