"""norms

Revision ID: c93d9e0e71f9
Revises: fa6cc530dbbf
Create Date: 2026-11-22 07:23:15.895876
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "c93d9e0e71f9"
down_revision = "fa6cc530dbbf"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "actor_bindings",
        sa.Column("actor", sa.LargeBinary(length=64), nullable=False),
        sa.Column("participant_id", sa.Uuid(), nullable=False),
        sa.Column("bound_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["participant_id"], ["participants.id"], name=op.f("fk_actor_bindings_participant_id_participants")),
        sa.PrimaryKeyConstraint("actor", name=op.f("pk_actor_bindings")),
    )
    with op.batch_alter_table("actor_bindings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_actor_bindings_participant_id"), ["participant_id"], unique=False)

    op.create_table(
        "norms",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("document_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("network_id", sa.Uuid(), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("status", sa.Enum("drafting", name="norm_status", native_enum=False, create_constraint=True, length=20), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("change_count", sa.Integer(), nullable=False),
        sa.Column("version_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["participants.id"], name=op.f("fk_norms_created_by_participants")),
        sa.ForeignKeyConstraint(["network_id"], ["networks.id"], name=op.f("fk_norms_network_id_networks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_norms")),
        sa.UniqueConstraint("document_id", name=op.f("uq_norms_document_id")),
        sa.UniqueConstraint("network_id", "slug", name=op.f("uq_norms_network_id_slug")),
    )
    with op.batch_alter_table("norms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_norms_network_id"), ["network_id"], unique=False)

    op.create_table(
        "norm_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("document_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("actor", sa.LargeBinary(length=64), nullable=False),
        sa.Column("participant_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("inserted", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["actor"], ["actor_bindings.actor"], name=op.f("fk_norm_changes_actor_actor_bindings")),
        sa.ForeignKeyConstraint(["document_id"], ["norms.document_id"], name=op.f("fk_norm_changes_document_id_norms")),
        sa.ForeignKeyConstraint(["participant_id"], ["participants.id"], name=op.f("fk_norm_changes_participant_id_participants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_norm_changes")),
        sa.UniqueConstraint("document_id", "actor", "seq", name=op.f("uq_norm_changes_document_id_actor_seq")),
        sa.UniqueConstraint("document_id", "hash", name=op.f("uq_norm_changes_document_id_hash")),
    )
    with op.batch_alter_table("norm_changes", schema=None) as batch_op:
        batch_op.create_index("ix_norm_changes_document_order", ["document_id", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_norm_changes_participant_id"), ["participant_id"], unique=False)

    op.create_table(
        "norm_snapshots",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("document_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("heads", sa.JSON(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("change_count", sa.Integer(), nullable=False),
        sa.Column("last_change_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["norms.document_id"], name=op.f("fk_norm_snapshots_document_id_norms")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_norm_snapshots")),
    )
    with op.batch_alter_table("norm_snapshots", schema=None) as batch_op:
        batch_op.create_index("ix_norm_snapshots_document_latest", ["document_id", "last_change_id"], unique=False)

    op.create_table(
        "norm_versions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("norm_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("heads", sa.JSON(), nullable=False),
        sa.Column("text_sha256", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["participants.id"], name=op.f("fk_norm_versions_created_by_participants")),
        sa.ForeignKeyConstraint(["norm_id"], ["norms.id"], name=op.f("fk_norm_versions_norm_id_norms")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_norm_versions")),
        sa.UniqueConstraint("norm_id", "number", name=op.f("uq_norm_versions_norm_id_number")),
    )


def downgrade() -> None:
    op.drop_table("norm_versions")
    with op.batch_alter_table("norm_snapshots", schema=None) as batch_op:
        batch_op.drop_index("ix_norm_snapshots_document_latest")

    op.drop_table("norm_snapshots")
    with op.batch_alter_table("norm_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_norm_changes_participant_id"))
        batch_op.drop_index("ix_norm_changes_document_order")

    op.drop_table("norm_changes")
    with op.batch_alter_table("norms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_norms_network_id"))

    op.drop_table("norms")
    with op.batch_alter_table("actor_bindings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_actor_bindings_participant_id"))

    op.drop_table("actor_bindings")
