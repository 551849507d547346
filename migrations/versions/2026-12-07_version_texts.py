"""version texts: each version keeps its body text (filled in from its norm's document for the versions already there)

Revision ID: 5b8d2e1f6a93
Revises: 3f0c2a9d7b1e
Create Date: 2026-12-07 10:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "5b8d2e1f6a93"
down_revision = "3f0c2a9d7b1e"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from norms import document

    op.add_column("norm_versions", sa.Column("text", sa.Text(), nullable=True))
    bind = op.get_bind()
    versions = sa.table("norm_versions", sa.column("id"), sa.column("norm_id"), sa.column("heads", sa.JSON), sa.column("text"))
    norms = sa.table("norms", sa.column("id"), sa.column("document_id"))
    changes = sa.table("norm_changes", sa.column("id"), sa.column("document_id"), sa.column("data"))
    rows = bind.execute(
        sa.select(versions.c.id, versions.c.heads, norms.c.document_id)
        .join(norms, norms.c.id == versions.c.norm_id)
        .order_by(norms.c.document_id)
    ).all()
    loaded: tuple[bytes, object] | None = None
    for row in rows:
        if loaded is None or loaded[0] != row.document_id:
            # The changes are the record (snapshots only speed loading): the whole history, once per norm.
            data = bind.execute(sa.select(changes.c.data).where(changes.c.document_id == row.document_id).order_by(changes.c.id)).scalars()
            loaded = (row.document_id, document.load(b"".join(data)))
        text = document.read_text(loaded[1], document.heads_from_hex(row.heads))
        bind.execute(versions.update().where(versions.c.id == row.id).values(text=text))
    with op.batch_alter_table("norm_versions") as batch_op:
        batch_op.alter_column("text", existing_type=sa.Text(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("norm_versions") as batch_op:
        batch_op.drop_column("text")
