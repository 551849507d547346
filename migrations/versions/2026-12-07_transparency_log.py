"""transparency log: the audit log's Merkle tree nodes (filled in for the events already there) and signed tree heads

Revision ID: 3f0c2a9d7b1e
Revises: 7c1e5a9d2b40
Create Date: 2026-12-07 09:00:00.000000
"""

from __future__ import annotations

from datetime import UTC
from types import SimpleNamespace

import sqlalchemy as sa
from alembic import op

revision = "3f0c2a9d7b1e"
down_revision = "7c1e5a9d2b40"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_tree_nodes",
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("position", BigId, autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("level", "position", name=op.f("pk_audit_tree_nodes")),
    )
    op.create_table(
        "audit_tree_heads",
        sa.Column("number", BigId, autoincrement=True, nullable=False),
        sa.Column("tree_size", BigId, nullable=False),
        sa.Column("root_hash", sa.String(length=64), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("statement", sa.JSON(), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_audit_tree_heads")),
    )
    with op.batch_alter_table("audit_tree_heads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_tree_heads_signed_at"), ["signed_at"], unique=False)
    _fill_tree()


def _fill_tree() -> None:
    """Every event already in the log becomes a leaf, with the subtrees its leaves complete."""
    from services.audit import merkle
    from services.audit.service import leaf_bytes

    events = sa.table(
        "audit_events",
        sa.column("seq"),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("actor_id", sa.Uuid()),
        sa.column("action"),
        sa.column("target_type"),
        sa.column("target_id"),
        sa.column("payload", sa.JSON()),
    )
    nodes = sa.table("audit_tree_nodes", sa.column("level"), sa.column("position"), sa.column("hash", sa.LargeBinary()))
    connection = op.get_bind()
    leaves = []
    for row in connection.execute(sa.select(events).order_by(events.c.seq)).mappings():
        at = row["created_at"]
        # SQLite keeps no zone: its timestamps are UTC (services.kit.db.UTCDateTime).
        event = SimpleNamespace(**{**row, "created_at": at.replace(tzinfo=UTC) if at.tzinfo is None else at})
        leaves.append(merkle.leaf_hash(leaf_bytes(event)))
    tree = merkle.MemoryTree(leaves)
    rows = [{"level": level, "position": position, "hash": tree[level, position]} for level, position in tree]
    for start in range(0, len(rows), 5000):
        connection.execute(nodes.insert(), rows[start : start + 5000])


def downgrade() -> None:
    with op.batch_alter_table("audit_tree_heads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_tree_heads_signed_at"))
    op.drop_table("audit_tree_heads")
    op.drop_table("audit_tree_nodes")
