"""consultations: public consultations with anchored comments, follow-up by subscribers, the subscriber role

Revision ID: 574b99c67154
Revises: 44892f1fc2e5
Create Date: 2026-11-22 08:21:53.961687
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "574b99c67154"
down_revision = "44892f1fc2e5"
branch_labels = None
depends_on = None

ROLES_BEFORE = "role IN ('participant', 'staff', 'admin')"
ROLES_AFTER = "role IN ('participant', 'staff', 'admin', 'subscriber')"


def _roles(allowed: str) -> None:
    # Roles are a non-native enum: its CHECK constraint lists them (SQLite rebuilds the table in batch).
    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_participants_role"), type_="check")
        batch_op.create_check_constraint(op.f("ck_participants_role"), allowed)


def upgrade() -> None:
    _roles(ROLES_AFTER)
    op.create_table(
        "receipt_tokens",
        sa.Column("subscriber_id", sa.Uuid(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["subscriber_id"], ["participants.id"], name=op.f("fk_receipt_tokens_subscriber_id_participants")),
        sa.PrimaryKeyConstraint("subscriber_id", name=op.f("pk_receipt_tokens")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_receipt_tokens_token_sha256")),
    )
    op.create_table(
        "consultations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("norm_id", sa.Uuid(), nullable=False),
        sa.Column("version_id", sa.Uuid(), nullable=False),
        sa.Column("version_number", sa.Integer(), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("opened_by", sa.Uuid(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("closes_at > opened_at", name=op.f("ck_consultations_consultation_closes_after_opening")),
        sa.ForeignKeyConstraint(["norm_id"], ["norms.id"], name=op.f("fk_consultations_norm_id_norms")),
        sa.ForeignKeyConstraint(["opened_by"], ["participants.id"], name=op.f("fk_consultations_opened_by_participants")),
        sa.ForeignKeyConstraint(["version_id"], ["norm_versions.id"], name=op.f("fk_consultations_version_id_norm_versions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultations")),
    )
    with op.batch_alter_table("consultations", schema=None) as batch_op:
        batch_op.create_index("ix_consultations_closes", ["closes_at"], unique=False)
        batch_op.create_index("ix_consultations_norm_opened", ["norm_id", "opened_at"], unique=False)

    op.create_table(
        "consultation_comments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("consultation_id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("anchor_start", sa.Integer(), nullable=True),
        sa.Column("anchor_end", sa.Integer(), nullable=True),
        sa.Column("anchor_quote", sa.Text(), nullable=True),
        sa.Column("stakeholder_group", sa.String(length=40), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("region", sa.String(length=40), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum("open", "addressed", "declined", name="comment_status", native_enum=False, create_constraint=True, length=20),
            nullable=False,
        ),
        sa.Column("addressed_in_version", sa.Integer(), nullable=True),
        sa.Column("decline_reason", sa.Text(), nullable=True),
        sa.Column("resolved_by", sa.Uuid(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("hidden_reason", sa.Text(), nullable=True),
        sa.Column("hidden_by", sa.Uuid(), nullable=True),
        sa.Column("hidden_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(anchor_start IS NULL AND anchor_end IS NULL) OR (anchor_start >= 0 AND anchor_end > anchor_start)",
            name=op.f("ck_consultation_comments_comment_anchor_range"),
        ),
        sa.ForeignKeyConstraint(["author_id"], ["participants.id"], name=op.f("fk_consultation_comments_author_id_participants")),
        sa.ForeignKeyConstraint(
            ["consultation_id"], ["consultations.id"], name=op.f("fk_consultation_comments_consultation_id_consultations")
        ),
        sa.ForeignKeyConstraint(["hidden_by"], ["participants.id"], name=op.f("fk_consultation_comments_hidden_by_participants")),
        sa.ForeignKeyConstraint(["resolved_by"], ["participants.id"], name=op.f("fk_consultation_comments_resolved_by_participants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultation_comments")),
    )
    with op.batch_alter_table("consultation_comments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consultation_comments_author_id"), ["author_id"], unique=False)
        batch_op.create_index("ix_consultation_comments_consultation", ["consultation_id", "created_at"], unique=False)

    op.create_table(
        "consultation_replies",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("comment_id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["participants.id"], name=op.f("fk_consultation_replies_author_id_participants")),
        sa.ForeignKeyConstraint(
            ["comment_id"], ["consultation_comments.id"], name=op.f("fk_consultation_replies_comment_id_consultation_comments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultation_replies")),
    )
    with op.batch_alter_table("consultation_replies", schema=None) as batch_op:
        batch_op.create_index("ix_consultation_replies_comment", ["comment_id", "created_at"], unique=False)

    op.create_table(
        "follow_ups",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("subscriber_id", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "received",
                "under_review",
                "implemented",
                "not_applicable",
                name="follow_up_status",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("status_date", sa.Date(), nullable=False),
        sa.Column("instrument_url", sa.String(length=2000), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("region", sa.String(length=40), nullable=True),
        sa.Column("organisation", sa.String(length=200), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["entry_id"], ["feed_entries.id"], name=op.f("fk_follow_ups_entry_id_feed_entries")),
        sa.ForeignKeyConstraint(["subscriber_id"], ["participants.id"], name=op.f("fk_follow_ups_subscriber_id_participants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_ups")),
        sa.UniqueConstraint("entry_id", "subscriber_id", name=op.f("uq_follow_ups_entry_id_subscriber_id")),
    )
    with op.batch_alter_table("follow_ups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_follow_ups_entry_id"), ["entry_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_follow_ups_subscriber_id"), ["subscriber_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("follow_ups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_follow_ups_subscriber_id"))
        batch_op.drop_index(batch_op.f("ix_follow_ups_entry_id"))

    op.drop_table("follow_ups")
    with op.batch_alter_table("consultation_replies", schema=None) as batch_op:
        batch_op.drop_index("ix_consultation_replies_comment")

    op.drop_table("consultation_replies")
    with op.batch_alter_table("consultation_comments", schema=None) as batch_op:
        batch_op.drop_index("ix_consultation_comments_consultation")
        batch_op.drop_index(batch_op.f("ix_consultation_comments_author_id"))

    op.drop_table("consultation_comments")
    with op.batch_alter_table("consultations", schema=None) as batch_op:
        batch_op.drop_index("ix_consultations_norm_opened")
        batch_op.drop_index("ix_consultations_closes")

    op.drop_table("consultations")
    op.drop_table("receipt_tokens")
    op.execute("UPDATE participants SET role = 'participant' WHERE role = 'subscriber'")
    _roles(ROLES_BEFORE)
