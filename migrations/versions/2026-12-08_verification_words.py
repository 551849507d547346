"""verification words: each stored verification keeps its words, as a ballot freezes them

Revision ID: 20261207_verification_words
Revises: 20261207_notification_titles
Create Date: 2026-12-07 21:40:00.000000

A ballot opening reads each elector's verification in words from `verification_states.words` instead of reading
every voucher's name and describing each verification again. The data step describes each stored verification
(`networks.verification.describe`, a pure function) with the names its vouchers and registrar have now.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

from networks.verification import Evidence, Method, describe

revision = "20261207_verification_words"
down_revision = "20261207_notification_titles"
branch_labels = None
depends_on = None

# Ids per IN list (SQLite and asyncpg bind each one).
CHUNK = 500


def upgrade() -> None:
    with op.batch_alter_table("verification_states", schema=None) as batch_op:
        batch_op.add_column(sa.Column("words", sa.Text(), nullable=True))
    _fill(op.get_bind())
    with op.batch_alter_table("verification_states", schema=None) as batch_op:
        batch_op.alter_column("words", existing_type=sa.Text(), nullable=False)


def _fill(bind: sa.Connection) -> None:
    states = sa.table(
        "verification_states",
        sa.column("participant_id", sa.Uuid()),
        sa.column("method", sa.String()),
        sa.column("domain", sa.String()),
        sa.column("by", sa.Text()),
        sa.column("note", sa.Text()),
        sa.column("words", sa.Text()),
    )
    participants = sa.table("participants", sa.column("id", sa.Uuid()), sa.column("display_name", sa.String()))
    stored = [
        (participant, Evidence(Method(method), domain=domain, by=tuple(uuid.UUID(text) for text in by.split()), note=note))
        for participant, method, domain, by, note in bind.execute(
            sa.select(states.c.participant_id, states.c.method, states.c.domain, states.c.by, states.c.note)
        )
    ]
    named = sorted({who for _participant, item in stored for who in item.by})
    names: dict[uuid.UUID, str] = {}
    for start in range(0, len(named), CHUNK):
        query = sa.select(participants.c.id, participants.c.display_name).where(participants.c.id.in_(named[start : start + CHUNK]))
        names.update({who: name for who, name in bind.execute(query)})
    if stored:
        bind.execute(
            states.update().where(states.c.participant_id == sa.bindparam("state")).values(words=sa.bindparam("described")),
            [{"state": participant, "described": describe(item, names)} for participant, item in stored],  # type: ignore[arg-type]
        )


def downgrade() -> None:
    with op.batch_alter_table("verification_states", schema=None) as batch_op:
        batch_op.drop_column("words")
