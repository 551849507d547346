"""proven addresses: second addresses an account proves by a mailed link (an address at its organisation)

Revision ID: 20261207_proven_addresses
Revises: 20261207_participant_language
Create Date: 2026-12-07 19:15:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261207_proven_addresses"
down_revision = "20261207_participant_language"
branch_labels = None
depends_on = None

BEFORE = ("verify_email", "reset_password", "change_email")
AFTER = (*BEFORE, "prove_address")


def _purposes(allowed: tuple[str, ...]) -> None:
    # The purpose is a non-native enum: its CHECK constraint lists the values (SQLite rebuilds the table in batch).
    with op.batch_alter_table("account_links", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_account_links_link_purpose"), type_="check")
        batch_op.create_check_constraint(op.f("ck_account_links_link_purpose"), sa.column("purpose").in_(allowed))


def upgrade() -> None:
    _purposes(AFTER)
    op.create_table(
        "proven_addresses",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("participant_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("proven_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["participant_id"], ["participants.id"], name=op.f("fk_proven_addresses_participant_id_participants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proven_addresses")),
        sa.UniqueConstraint("email", name=op.f("uq_proven_addresses_email")),
    )
    op.create_index(op.f("ix_proven_addresses_participant_id"), "proven_addresses", ["participant_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_proven_addresses_participant_id"), table_name="proven_addresses")
    op.drop_table("proven_addresses")
    op.execute("DELETE FROM account_links WHERE purpose = 'prove_address'")
    _purposes(BEFORE)
