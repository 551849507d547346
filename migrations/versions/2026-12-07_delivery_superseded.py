"""delivery superseded: a pending delivery a newer one of the same subscription replaces is marked `superseded`

Revision ID: 20261207_delivery_superseded
Revises: 6d2f8a1c4e07
Create Date: 2026-12-07 12:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261207_delivery_superseded"
down_revision = "6d2f8a1c4e07"
branch_labels = None
depends_on = None

BEFORE = ("pending", "delivered", "gone", "unsubscribed", "expired", "failed")
AFTER = (*BEFORE, "superseded")


def _statuses(allowed: tuple[str, ...]) -> None:
    # The status is a non-native enum: its CHECK constraint lists the values (SQLite rebuilds the table in batch).
    with op.batch_alter_table("websub_deliveries", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_websub_deliveries_websub_delivery_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_websub_deliveries_websub_delivery_status"), sa.column("status").in_(allowed))


def upgrade() -> None:
    _statuses(AFTER)


def downgrade() -> None:
    op.execute("UPDATE websub_deliveries SET status = 'failed' WHERE status = 'superseded'")
    _statuses(BEFORE)
