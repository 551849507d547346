"""norm translations: the language a norm is drafted in, and translations of its versions as their own documents

Revision ID: 20261208_norm_translations
Revises: 20261207_verification_states
Create Date: 2026-12-08 09:00:00.000000

Existing norms are drafted in English. A translation's Automerge changes and snapshots are stored in
`norm_changes` and `norm_snapshots` beside the norms' own, so their `document_id` no longer references `norms`
alone (it is a norm's or a translation's).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261208_norm_translations"
down_revision = "20261207_verification_states"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("norms", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=8), server_default="en", nullable=False))
    with op.batch_alter_table("norm_changes", schema=None) as batch_op:
        batch_op.drop_constraint("fk_norm_changes_document_id_norms", type_="foreignkey")
    with op.batch_alter_table("norm_snapshots", schema=None) as batch_op:
        batch_op.drop_constraint("fk_norm_snapshots_document_id_norms", type_="foreignkey")
    op.create_table(
        "norm_translations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("norm_id", sa.Uuid(), nullable=False),
        sa.Column("version_id", sa.Uuid(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("document_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("change_count", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewed_by", sa.Uuid(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_heads", sa.JSON(), nullable=True),
        sa.Column("reviewed_title", sa.String(length=300), nullable=True),
        sa.Column("reviewed_text", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["created_by"], ["participants.id"], name=op.f("fk_norm_translations_created_by_participants")),
        sa.ForeignKeyConstraint(["norm_id"], ["norms.id"], name=op.f("fk_norm_translations_norm_id_norms")),
        sa.ForeignKeyConstraint(["reviewed_by"], ["participants.id"], name=op.f("fk_norm_translations_reviewed_by_participants")),
        sa.ForeignKeyConstraint(["version_id"], ["norm_versions.id"], name=op.f("fk_norm_translations_version_id_norm_versions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_norm_translations")),
        sa.UniqueConstraint("document_id", name=op.f("uq_norm_translations_document_id")),
        sa.UniqueConstraint("version_id", "language", name=op.f("uq_norm_translations_version_id_language")),
    )
    with op.batch_alter_table("norm_translations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_norm_translations_norm_id"), ["norm_id"], unique=False)


def downgrade() -> None:
    op.drop_table("norm_translations")
    with op.batch_alter_table("norm_snapshots", schema=None) as batch_op:
        batch_op.create_foreign_key("fk_norm_snapshots_document_id_norms", "norms", ["document_id"], ["document_id"])
    with op.batch_alter_table("norm_changes", schema=None) as batch_op:
        batch_op.create_foreign_key("fk_norm_changes_document_id_norms", "norms", ["document_id"], ["document_id"])
    with op.batch_alter_table("norms", schema=None) as batch_op:
        batch_op.drop_column("language")
