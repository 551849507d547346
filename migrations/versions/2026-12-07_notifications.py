"""notifications and following: notifications (in-app and mailed), follows, mail preferences per kind, digest schedules, ballot reminders

Revision ID: 20261207_notifications
Revises: 20261207_verified_affiliations
Create Date: 2026-12-07 14:56:35.749603
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261207_notifications"
down_revision = "20261207_verified_affiliations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "follows",
        sa.Column("participant_id", sa.Uuid(), nullable=False),
        sa.Column(
            "target",
            sa.Enum(
                "network", "norm", "topic", "clearinghouse", name="follow_target", native_enum=False, create_constraint=True, length=20
            ),
            nullable=False,
        ),
        sa.Column("target_key", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["participant_id"], ["participants.id"], name=op.f("fk_follows_participant_id_participants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("participant_id", "target", "target_key", name=op.f("pk_follows")),
    )
    with op.batch_alter_table("follows", schema=None) as batch_op:
        batch_op.create_index("ix_follows_target", ["target", "target_key"], unique=False)

    op.create_table(
        "notification_preferences",
        sa.Column("participant_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column(
            "mode",
            sa.Enum("at_once", "daily", "weekly", "never", name="notification_mode", native_enum=False, create_constraint=True, length=10),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_notification_preferences_participant_id_participants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("participant_id", "kind", name=op.f("pk_notification_preferences")),
    )
    op.create_table(
        "notification_schedules",
        sa.Column("participant_id", sa.Uuid(), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["participant_id"], ["participants.id"], name=op.f("fk_notification_schedules_participant_id_participants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("participant_id", name=op.f("pk_notification_schedules")),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("participant_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("network_id", sa.Uuid(), nullable=True),
        sa.Column("members_only", sa.Boolean(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("mail_mode", sa.String(length=10), nullable=False),
        sa.Column("mail_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("mailed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["network_id"], ["networks.id"], name=op.f("fk_notifications_network_id_networks"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["participant_id"], ["participants.id"], name=op.f("fk_notifications_participant_id_participants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notifications_mail_due",
            ["mail_due_at"],
            unique=False,
            sqlite_where=sa.text("mailed_at IS NULL AND mail_due_at IS NOT NULL"),
            postgresql_where=sa.text("mailed_at IS NULL AND mail_due_at IS NOT NULL"),
        )
        batch_op.create_index("ix_notifications_participant", ["participant_id", "id"], unique=False)

    op.create_table(
        "ballot_reminders",
        sa.Column("ballot_id", sa.Uuid(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["ballot_id"], ["ballots.id"], name=op.f("fk_ballot_reminders_ballot_id_ballots"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("ballot_id", name=op.f("pk_ballot_reminders")),
    )


def downgrade() -> None:
    op.drop_table("ballot_reminders")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_participant")
        batch_op.drop_index(
            "ix_notifications_mail_due",
            sqlite_where=sa.text("mailed_at IS NULL AND mail_due_at IS NOT NULL"),
            postgresql_where=sa.text("mailed_at IS NULL AND mail_due_at IS NOT NULL"),
        )

    op.drop_table("notifications")
    op.drop_table("notification_schedules")
    op.drop_table("notification_preferences")
    with op.batch_alter_table("follows", schema=None) as batch_op:
        batch_op.drop_index("ix_follows_target")

    op.drop_table("follows")
