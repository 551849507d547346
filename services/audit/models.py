from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from services.kit.db import Base, UTCDateTime

BigId = BigInteger().with_variant(Integer(), "sqlite")


class AuditEvent(Base):
    """One public act. Rows are only ever appended; each hash covers the previous one, so edits show."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_target", "target_type", "target_id"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("participants.id"), index=True)
    action: Mapped[str] = mapped_column(String(80), index=True)
    target_type: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[str] = mapped_column(String(120))
    payload: Mapped[dict] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditTreeNode(Base):
    """A perfect subtree of the log's Merkle tree (RFC 9162): level 0 holds the leaf hashes.

    Written once, in the transaction that appends its last event, and never changed after.
    """

    __tablename__ = "audit_tree_nodes"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # The subtree covers leaves [position * 2**level, (position + 1) * 2**level); leaf i is event seq i + 1.
    position: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary)


class TreeHead(Base):
    """A signed tree head as published: kept forever, so any one a subscriber saw can be shown again."""

    __tablename__ = "audit_tree_heads"

    number: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tree_size: Mapped[int] = mapped_column(BigId)
    root_hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # The statement exactly as signed, and its Ed25519 signature (base64url) under key `kid`.
    statement: Mapped[dict] = mapped_column(JSON)
    kid: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(120))
