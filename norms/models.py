"""Norms, their Automerge change log and snapshots, actor bindings, and versions."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import NotRequired, TypedDict

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Enum,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from norms.signoff import Position
from services.kit.db import Base, UTCDateTime, new_id, utcnow

# One BIGINT autoincrement key that also works as SQLite's rowid alias.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class NormStatus(enum.StrEnum):
    """`adopted` once a ballot has adopted a version (`Norm.adopted_version`); drafting goes on either way."""

    drafting = "drafting"
    adopted = "adopted"


class PolicyRecord(TypedDict):
    """The sign-off policy a ballot ran under, as an adoption keeps it (fractions as text, "2/3")."""

    charter_version: int
    quorum: str
    threshold: str
    min_ballot_hours: int
    # Whether only verified members were electors (absent in records from before verification).
    verified_only: NotRequired[bool]


class TallyRecord(TypedDict):
    """One group's or region's count as JSON, fractions exact ("2/3")."""

    dimension: str
    key: str
    electors: int
    voted: int
    turnout: str | None
    turnout_needed: int
    approvals: str | None
    objections: str | None
    abstentions: str | None
    support: str | None
    passes: bool
    settled: bool
    missing: list[str]


class OutcomeRecord(TypedDict):
    """The sign-off rule's verdict as JSON: what a closed ballot and an adoption keep."""

    adopted: bool
    settled: bool
    missing: list[str]
    groups: list[TallyRecord]
    regions: list[TallyRecord]


class VoteRecord(TypedDict):
    """One vote as an adoption keeps it (ids as text, times ISO 8601)."""

    participant_id: str
    name: str
    stakeholder_group: str
    region: str
    organisation: str | None
    # How the elector's affiliation was verified when the ballot opened, in words (absent before verification).
    verification: NotRequired[str]
    position: str
    reason: str | None
    cast_at: str
    changed_at: str | None


def _enum(kind: type[enum.Enum], name: str) -> Enum:
    return Enum(kind, native_enum=False, length=20, create_constraint=True, name=name)


class Norm(Base):
    __tablename__ = "norms"
    __table_args__ = (UniqueConstraint("network_id", "slug"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    # The Automerge document's 16-byte id; its bs58check form is the automerge: URL.
    document_id: Mapped[bytes] = mapped_column(LargeBinary(16), unique=True)
    network_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("networks.id"), index=True)
    slug: Mapped[str] = mapped_column(String(80))
    # Kept equal to the document's title by the store, for listings that should not load documents.
    title: Mapped[str] = mapped_column(String(300))
    status: Mapped[NormStatus] = mapped_column(
        Enum(NormStatus, native_enum=False, length=20, create_constraint=True, name="norm_status"), default=NormStatus.drafting
    )
    created_by: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    change_count: Mapped[int] = mapped_column(Integer, default=0)
    version_count: Mapped[int] = mapped_column(Integer, default=0)
    # The version the latest adoption adopted; None until one is.
    adopted_version: Mapped[int | None] = mapped_column(Integer)
    # The language the norm is drafted in (one of services/web/i18n.py's codes): its text in it is the authentic one.
    language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")


class NormTranslation(Base):
    """A translation of one version of a norm into one other language: its own Automerge document, stored and
    synced as a norm's is, and what a convener last reviewed of it (the heads, title and text then).

    Editing goes on after a review; what is published is the reviewed text until a convener reviews again.
    """

    __tablename__ = "norm_translations"
    __table_args__ = (UniqueConstraint("version_id", "language"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    norm_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("norms.id"), index=True)
    version_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("norm_versions.id"))
    language: Mapped[str] = mapped_column(String(8))
    document_id: Mapped[bytes] = mapped_column(LargeBinary(16), unique=True)
    # Kept equal to the document's title and change count by the store, as a norm's are.
    title: Mapped[str] = mapped_column(String(300))
    change_count: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reviewed_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("participants.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_heads: Mapped[list[str] | None] = mapped_column(JSON)
    reviewed_title: Mapped[str | None] = mapped_column(String(300))
    reviewed_text: Mapped[str | None] = mapped_column(Text)


class ActorBinding(Base):
    """An Automerge actor id belongs to the participant it was first seen from, forever."""

    __tablename__ = "actor_bindings"

    actor: Mapped[bytes] = mapped_column(LargeBinary(64), primary_key=True)
    participant_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"), index=True)
    bound_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NormChange(Base):
    """One Automerge change as received, stored before anyone is told of it."""

    __tablename__ = "norm_changes"
    __table_args__ = (
        Index("ix_norm_changes_document_order", "document_id", "id"),
        # A cloned document shares its history, so a hash is unique per document, not globally.
        UniqueConstraint("document_id", "hash"),
        # Each actor's changes are numbered 1, 2, 3… within a document.
        UniqueConstraint("document_id", "actor", "seq"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # A norm's document or a translation's (`norms.document_id` or `norm_translations.document_id`).
    document_id: Mapped[bytes] = mapped_column(LargeBinary(16))
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    actor: Mapped[bytes] = mapped_column(LargeBinary(64), ForeignKey("actor_bindings.actor"))
    participant_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"), index=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    inserted: Mapped[int] = mapped_column(Integer, default=0)
    deleted: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NormSnapshot(Base):
    """`Document.save()` covering every change of the document up to `last_change_id`."""

    __tablename__ = "norm_snapshots"
    __table_args__ = (Index("ix_norm_snapshots_document_latest", "document_id", "last_change_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # A norm's document or a translation's, as in `norm_changes`.
    document_id: Mapped[bytes] = mapped_column(LargeBinary(16))
    heads: Mapped[list[str]] = mapped_column(JSON)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    change_count: Mapped[int] = mapped_column(Integer)
    last_change_id: Mapped[int] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NormVersion(Base):
    """A named draft (v1, v2 …): a point in the document's history. Immutable."""

    __tablename__ = "norm_versions"
    __table_args__ = (UniqueConstraint("norm_id", "number"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    norm_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("norms.id"))
    number: Mapped[int] = mapped_column(Integer)
    heads: Mapped[list[str]] = mapped_column(JSON)
    text_sha256: Mapped[str] = mapped_column(String(64))
    # The body text at `heads`, as read when tagged: versions are read without the document.
    text: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(String(300))
    label: Mapped[str] = mapped_column(String(120))
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BallotStatus(enum.StrEnum):
    open = "open"
    closed = "closed"


class CloseReason(enum.StrEnum):
    deadline = "deadline"
    all_voted = "all_voted"
    convener = "convener"


class Ballot(Base):
    """A vote of a network's members on one version of a norm, under the charter's policy when it opened."""

    __tablename__ = "ballots"
    __table_args__ = (
        # One open ballot per norm: a second one, however concurrent, fails here.
        Index(
            "uq_ballots_open_norm",
            "norm_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        Index("ix_ballots_norm_opened", "norm_id", "opened_at"),
        Index("ix_ballots_due", "status", "closes_at"),
        CheckConstraint("closes_at > opened_at", name="closes_after_opening"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    norm_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("norms.id"))
    version_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("norm_versions.id"))
    version_number: Mapped[int] = mapped_column(Integer)
    # The policy is copied from the charter in force at opening; amending the charter later changes nothing here.
    charter_version: Mapped[int] = mapped_column(Integer)
    quorum: Mapped[str] = mapped_column(String(32))
    threshold: Mapped[str] = mapped_column(String(32))
    min_ballot_hours: Mapped[int] = mapped_column(Integer)
    status: Mapped[BallotStatus] = mapped_column(_enum(BallotStatus, "ballot_status"), default=BallotStatus.open)
    opened_by: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    close_reason: Mapped[CloseReason | None] = mapped_column(_enum(CloseReason, "ballot_close_reason"))
    closed_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("participants.id"))
    adopted: Mapped[bool | None] = mapped_column(Boolean)
    # The charter's verified_only when the ballot opened, and the members it left out then, each with the reason.
    verified_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    excluded: Mapped[list[dict[str, str]] | None] = mapped_column(JSON)
    # The rule's verdict at closing (tallies, missing), kept as it was reached.
    result: Mapped[OutcomeRecord | None] = mapped_column(JSON)


class BallotElector(Base):
    """A member of the roster when the ballot opened, with the affiliation they had then."""

    __tablename__ = "ballot_electors"

    ballot_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("ballots.id"), primary_key=True)
    participant_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"), primary_key=True, index=True)
    stakeholder_group: Mapped[str] = mapped_column(String(40))
    region: Mapped[str] = mapped_column(String(40))
    organisation: Mapped[str | None] = mapped_column(String(200))
    # The organisation record weighed once in each tally (None: an independent expert, or a ballot from before records).
    organisation_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # How the affiliation was verified when the ballot opened, in words ("verified by domain anatel.gov.br"); None: unverified.
    verification: Mapped[str | None] = mapped_column(String(300))


class BallotVote(Base):
    """An elector's current position; each change is in the audit log."""

    __tablename__ = "ballot_votes"
    __table_args__ = (
        # Only an elector of the ballot can hold a vote in it.
        ForeignKeyConstraint(
            ["ballot_id", "participant_id"],
            ["ballot_electors.ballot_id", "ballot_electors.participant_id"],
            name="fk_ballot_votes_elector",
        ),
        CheckConstraint("position <> 'object' OR reason IS NOT NULL", name="objection_has_reason"),
    )

    ballot_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    participant_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    position: Mapped[Position] = mapped_column(_enum(Position, "vote_position"))
    reason: Mapped[str | None] = mapped_column(Text)
    cast_at: Mapped[datetime] = mapped_column(UTCDateTime)
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Adoption(Base):
    """The record of a version adopted by a ballot; the newest one for a norm is in force."""

    __tablename__ = "norm_adoptions"
    __table_args__ = (Index("ix_norm_adoptions_norm_adopted", "norm_id", "adopted_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    norm_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("norms.id"))
    # One adoption per ballot: closing the same ballot twice cannot adopt twice.
    ballot_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("ballots.id"), unique=True)
    version_number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    heads: Mapped[list[str]] = mapped_column(JSON)
    text_sha256: Mapped[str] = mapped_column(String(64))
    policy: Mapped[PolicyRecord] = mapped_column(JSON)
    tallies: Mapped[OutcomeRecord] = mapped_column(JSON)
    votes: Mapped[list[VoteRecord]] = mapped_column(JSON)
    adopted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The adoption this one replaced; each is replaced at most once, so adoptions form one line per norm.
    supersedes_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("norm_adoptions.id"), unique=True)
