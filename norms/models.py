"""Norms, their Automerge change log and snapshots, actor bindings, and versions."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.kit.db import Base, UTCDateTime, new_id, utcnow

# One BIGINT autoincrement key that also works as SQLite's rowid alias.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class NormStatus(enum.StrEnum):
    drafting = "drafting"


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
    document_id: Mapped[bytes] = mapped_column(LargeBinary(16), ForeignKey("norms.document_id"))
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
    document_id: Mapped[bytes] = mapped_column(LargeBinary(16), ForeignKey("norms.document_id"))
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
    title: Mapped[str] = mapped_column(String(300))
    label: Mapped[str] = mapped_column(String(120))
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
