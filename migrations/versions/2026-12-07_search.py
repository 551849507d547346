"""search: one index of norms, versions, entries, networks, consultations and comments (FTS5 or tsvector + GIN)

Revision ID: 5ea4c4d0b126
Revises: d4e6f8a0b2c1
Create Date: 2026-12-07 12:00:00.000000

Existing rows are indexed by `cogov search reindex` (norms' live text also by the worker).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "5ea4c4d0b126"
down_revision = "d4e6f8a0b2c1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_documents",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("ref_id", sa.Uuid(), nullable=False),
        sa.Column("network_id", sa.Uuid(), nullable=True),
        sa.Column("norm_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("url", sa.String(length=600), nullable=False),
        sa.Column("context", sa.String(length=600), nullable=False),
        sa.Column("date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        # Last: SQLite reads a row's columns in order, and a long text's overflow pages only when a later column is read.
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_documents")),
        sa.UniqueConstraint("kind", "ref_id", name=op.f("uq_search_documents_kind_ref_id")),
    )
    with op.batch_alter_table("search_documents", schema=None) as batch_op:
        batch_op.create_index("ix_search_documents_date", ["date"], unique=False)
        batch_op.create_index(batch_op.f("ix_search_documents_network_id"), ["network_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_search_documents_norm_id"), ["norm_id"], unique=False)
    if op.get_bind().dialect.name == "sqlite":
        # Folded text only (services/search/text.py splits the words), so the tokenizer just splits on spaces.
        op.execute("CREATE VIRTUAL TABLE search_fts USING fts5(title, body, tokenize = 'unicode61 remove_diacritics 0')")
    else:
        op.add_column("search_documents", sa.Column("tsv", postgresql.TSVECTOR(), nullable=True))
        op.create_index("ix_search_documents_tsv", "search_documents", ["tsv"], postgresql_using="gin")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE search_fts")
    with op.batch_alter_table("search_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_search_documents_norm_id"))
        batch_op.drop_index(batch_op.f("ix_search_documents_network_id"))
        batch_op.drop_index("ix_search_documents_date")
    op.drop_table("search_documents")
