"""ballots

Revision ID: bc91ac77e53e
Revises: c93d9e0e71f9
Create Date: 2026-11-22 07:39:20.403295
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# A norm may now be `adopted`; its status column's CHECK constraint lists the allowed values.
NORM_STATUS_BEFORE = ("drafting",)
NORM_STATUS_AFTER = ("drafting", "adopted")

revision = "bc91ac77e53e"
down_revision = "c93d9e0e71f9"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=80), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(length=120), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_events")),
    )
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_events_pending",
            ["kind", "id"],
            unique=False,
            sqlite_where=sa.text("processed_at IS NULL"),
            postgresql_where=sa.text("processed_at IS NULL"),
        )

    op.create_table(
        "ballots",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("norm_id", sa.Uuid(), nullable=False),
        sa.Column("version_id", sa.Uuid(), nullable=False),
        sa.Column("version_number", sa.Integer(), nullable=False),
        sa.Column("charter_version", sa.Integer(), nullable=False),
        sa.Column("quorum", sa.String(length=32), nullable=False),
        sa.Column("threshold", sa.String(length=32), nullable=False),
        sa.Column("min_ballot_hours", sa.Integer(), nullable=False),
        sa.Column(
            "status", sa.Enum("open", "closed", name="ballot_status", native_enum=False, create_constraint=True, length=20), nullable=False
        ),
        sa.Column("opened_by", sa.Uuid(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "close_reason",
            sa.Enum("deadline", "all_voted", "convener", name="ballot_close_reason", native_enum=False, create_constraint=True, length=20),
            nullable=True,
        ),
        sa.Column("closed_by", sa.Uuid(), nullable=True),
        sa.Column("adopted", sa.Boolean(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.CheckConstraint("closes_at > opened_at", name=op.f("ck_ballots_closes_after_opening")),
        sa.ForeignKeyConstraint(["closed_by"], ["participants.id"], name=op.f("fk_ballots_closed_by_participants")),
        sa.ForeignKeyConstraint(["norm_id"], ["norms.id"], name=op.f("fk_ballots_norm_id_norms")),
        sa.ForeignKeyConstraint(["opened_by"], ["participants.id"], name=op.f("fk_ballots_opened_by_participants")),
        sa.ForeignKeyConstraint(["version_id"], ["norm_versions.id"], name=op.f("fk_ballots_version_id_norm_versions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ballots")),
    )
    with op.batch_alter_table("ballots", schema=None) as batch_op:
        batch_op.create_index("ix_ballots_due", ["status", "closes_at"], unique=False)
        batch_op.create_index("ix_ballots_norm_opened", ["norm_id", "opened_at"], unique=False)
        batch_op.create_index(
            "uq_ballots_open_norm",
            ["norm_id"],
            unique=True,
            sqlite_where=sa.text("status = 'open'"),
            postgresql_where=sa.text("status = 'open'"),
        )

    op.create_table(
        "ballot_electors",
        sa.Column("ballot_id", sa.Uuid(), nullable=False),
        sa.Column("participant_id", sa.Uuid(), nullable=False),
        sa.Column("stakeholder_group", sa.String(length=40), nullable=False),
        sa.Column("region", sa.String(length=40), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["ballot_id"], ["ballots.id"], name=op.f("fk_ballot_electors_ballot_id_ballots")),
        sa.ForeignKeyConstraint(["participant_id"], ["participants.id"], name=op.f("fk_ballot_electors_participant_id_participants")),
        sa.PrimaryKeyConstraint("ballot_id", "participant_id", name=op.f("pk_ballot_electors")),
    )
    with op.batch_alter_table("ballot_electors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ballot_electors_participant_id"), ["participant_id"], unique=False)

    op.create_table(
        "norm_adoptions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("norm_id", sa.Uuid(), nullable=False),
        sa.Column("ballot_id", sa.Uuid(), nullable=False),
        sa.Column("version_number", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("heads", sa.JSON(), nullable=False),
        sa.Column("text_sha256", sa.String(length=64), nullable=False),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.Column("tallies", sa.JSON(), nullable=False),
        sa.Column("votes", sa.JSON(), nullable=False),
        sa.Column("adopted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("supersedes_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(["ballot_id"], ["ballots.id"], name=op.f("fk_norm_adoptions_ballot_id_ballots")),
        sa.ForeignKeyConstraint(["norm_id"], ["norms.id"], name=op.f("fk_norm_adoptions_norm_id_norms")),
        sa.ForeignKeyConstraint(["supersedes_id"], ["norm_adoptions.id"], name=op.f("fk_norm_adoptions_supersedes_id_norm_adoptions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_norm_adoptions")),
        sa.UniqueConstraint("ballot_id", name=op.f("uq_norm_adoptions_ballot_id")),
        sa.UniqueConstraint("supersedes_id", name=op.f("uq_norm_adoptions_supersedes_id")),
    )
    with op.batch_alter_table("norm_adoptions", schema=None) as batch_op:
        batch_op.create_index("ix_norm_adoptions_norm_adopted", ["norm_id", "adopted_at"], unique=False)

    op.create_table(
        "ballot_votes",
        sa.Column("ballot_id", sa.Uuid(), nullable=False),
        sa.Column("participant_id", sa.Uuid(), nullable=False),
        sa.Column(
            "position",
            sa.Enum("approve", "object", "abstain", name="vote_position", native_enum=False, create_constraint=True, length=20),
            nullable=False,
        ),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("cast_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("position <> 'object' OR reason IS NOT NULL", name=op.f("ck_ballot_votes_objection_has_reason")),
        sa.ForeignKeyConstraint(
            ["ballot_id", "participant_id"], ["ballot_electors.ballot_id", "ballot_electors.participant_id"], name="fk_ballot_votes_elector"
        ),
        sa.PrimaryKeyConstraint("ballot_id", "participant_id", name=op.f("pk_ballot_votes")),
    )
    with op.batch_alter_table("norms", schema=None) as batch_op:
        batch_op.add_column(sa.Column("adopted_version", sa.Integer(), nullable=True))
    _norm_status(NORM_STATUS_BEFORE, NORM_STATUS_AFTER)


def downgrade() -> None:
    op.execute("UPDATE norms SET status = 'drafting' WHERE status = 'adopted'")
    _norm_status(NORM_STATUS_AFTER, NORM_STATUS_BEFORE)
    with op.batch_alter_table("norms", schema=None) as batch_op:
        batch_op.drop_column("adopted_version")

    op.drop_table("ballot_votes")
    with op.batch_alter_table("norm_adoptions", schema=None) as batch_op:
        batch_op.drop_index("ix_norm_adoptions_norm_adopted")

    op.drop_table("norm_adoptions")
    with op.batch_alter_table("ballot_electors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ballot_electors_participant_id"))

    op.drop_table("ballot_electors")
    with op.batch_alter_table("ballots", schema=None) as batch_op:
        batch_op.drop_index("uq_ballots_open_norm", sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))
        batch_op.drop_index("ix_ballots_norm_opened")
        batch_op.drop_index("ix_ballots_due")

    op.drop_table("ballots")
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_outbox_events_pending", sqlite_where=sa.text("processed_at IS NULL"), postgresql_where=sa.text("processed_at IS NULL")
        )

    op.drop_table("outbox_events")


def _norm_status(before: tuple[str, ...], after: tuple[str, ...]) -> None:
    def status(values: tuple[str, ...]) -> sa.Enum:
        return sa.Enum(*values, name="norm_status", native_enum=False, create_constraint=True, length=20)

    if op.get_context().dialect.name == "sqlite":
        # SQLite cannot alter a constraint: batch mode rebuilds the table with the new one.
        with op.batch_alter_table("norms", schema=None) as batch_op:
            batch_op.alter_column("status", existing_type=status(before), type_=status(after), existing_nullable=False)
    else:
        op.drop_constraint(op.f("ck_norms_norm_status"), "norms", type_="check")
        op.create_check_constraint(op.f("ck_norms_norm_status"), "norms", sa.column("status").in_(after))
