"""networks: affiliations with history, networks, charter versions, memberships, applications

Revision ID: fa6cc530dbbf
Revises: 781c6f63a5ec
Create Date: 2026-11-22 07:19:41.966114
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "fa6cc530dbbf"
down_revision = "781c6f63a5ec"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "affiliations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("participant_id", sa.Uuid(), nullable=False),
        sa.Column("stakeholder_group", sa.String(length=40), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("region", sa.String(length=40), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=True),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["participant_id"], ["participants.id"], name=op.f("fk_affiliations_participant_id_participants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_affiliations")),
    )
    with op.batch_alter_table("affiliations", schema=None) as batch_op:
        batch_op.create_index("ix_affiliations_participant_period", ["participant_id", "valid_from"], unique=False)
        batch_op.create_index(
            "uq_affiliations_current",
            ["participant_id"],
            unique=True,
            sqlite_where=sa.text("valid_to IS NULL"),
            postgresql_where=sa.text("valid_to IS NULL"),
        )

    op.create_table(
        "networks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("issue", sa.Text(), nullable=False),
        sa.Column("aims", sa.Text(), nullable=False),
        sa.Column("intended_outcome", sa.Text(), nullable=False),
        sa.Column(
            "membership_policy",
            sa.Enum("open", "by_application", name="membership_policy", native_enum=False, create_constraint=True, length=20),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum("forming", "active", name="network_status", native_enum=False, create_constraint=True, length=20),
            nullable=False,
        ),
        sa.Column("charter_version", sa.Integer(), nullable=False),
        sa.Column("founded_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["founded_by"], ["participants.id"], name=op.f("fk_networks_founded_by_participants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_networks")),
        sa.UniqueConstraint("slug", name=op.f("uq_networks_slug")),
    )
    with op.batch_alter_table("networks", schema=None) as batch_op:
        batch_op.create_index("ix_networks_listing", ["created_at", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_networks_status"), ["status"], unique=False)

    op.create_table(
        "memberships",
        sa.Column("network_id", sa.Uuid(), nullable=False),
        sa.Column("participant_id", sa.Uuid(), nullable=False),
        sa.Column(
            "role", sa.Enum("member", "convener", name="member_role", native_enum=False, create_constraint=True, length=20), nullable=False
        ),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["network_id"], ["networks.id"], name=op.f("fk_memberships_network_id_networks")),
        sa.ForeignKeyConstraint(["participant_id"], ["participants.id"], name=op.f("fk_memberships_participant_id_participants")),
        sa.PrimaryKeyConstraint("network_id", "participant_id", name=op.f("pk_memberships")),
    )
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_memberships_participant_id"), ["participant_id"], unique=False)

    op.create_table(
        "network_applications",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("network_id", sa.Uuid(), nullable=False),
        sa.Column("participant_id", sa.Uuid(), nullable=False),
        sa.Column("motivation", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("pending", "approved", "declined", name="application_status", native_enum=False, create_constraint=True, length=20),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["decided_by"], ["participants.id"], name=op.f("fk_network_applications_decided_by_participants")),
        sa.ForeignKeyConstraint(["network_id"], ["networks.id"], name=op.f("fk_network_applications_network_id_networks")),
        sa.ForeignKeyConstraint(["participant_id"], ["participants.id"], name=op.f("fk_network_applications_participant_id_participants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_applications")),
    )
    with op.batch_alter_table("network_applications", schema=None) as batch_op:
        batch_op.create_index("ix_network_applications_listing", ["network_id", "status", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_network_applications_participant_id"), ["participant_id"], unique=False)
        batch_op.create_index(
            "uq_network_applications_pending",
            ["network_id", "participant_id"],
            unique=True,
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )

    op.create_table(
        "network_charters",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("network_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("required_groups", sa.JSON(), nullable=False),
        sa.Column("min_regions", sa.Integer(), nullable=False),
        sa.Column("quorum", sa.String(length=32), nullable=False),
        sa.Column("threshold", sa.String(length=32), nullable=False),
        sa.Column("min_ballot_hours", sa.Integer(), nullable=False),
        sa.Column("adopted_by", sa.Uuid(), nullable=False),
        sa.Column("adopted_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("min_ballot_hours >= 1", name=op.f("ck_network_charters_min_ballot_hours_positive")),
        sa.CheckConstraint("min_regions >= 2", name=op.f("ck_network_charters_min_regions_at_least_2")),
        sa.CheckConstraint("version >= 1", name=op.f("ck_network_charters_version_positive")),
        sa.ForeignKeyConstraint(["adopted_by"], ["participants.id"], name=op.f("fk_network_charters_adopted_by_participants")),
        sa.ForeignKeyConstraint(["network_id"], ["networks.id"], name=op.f("fk_network_charters_network_id_networks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_charters")),
        sa.UniqueConstraint("network_id", "version", name=op.f("uq_network_charters_network_id_version")),
    )


def downgrade() -> None:
    op.drop_table("network_charters")
    with op.batch_alter_table("network_applications", schema=None) as batch_op:
        batch_op.drop_index("uq_network_applications_pending")
        batch_op.drop_index(batch_op.f("ix_network_applications_participant_id"))
        batch_op.drop_index("ix_network_applications_listing")

    op.drop_table("network_applications")
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_memberships_participant_id"))

    op.drop_table("memberships")
    with op.batch_alter_table("networks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_networks_status"))
        batch_op.drop_index("ix_networks_listing")

    op.drop_table("networks")
    with op.batch_alter_table("affiliations", schema=None) as batch_op:
        batch_op.drop_index("uq_affiliations_current")
        batch_op.drop_index("ix_affiliations_participant_period")

    op.drop_table("affiliations")
