"""search title vectors: on PostgreSQL each index row keeps its title's words apart, to choose what to rank

Revision ID: 20261207_search_title_vectors
Revises: 20261207_drafting
Create Date: 2026-12-07 15:10:00.000000

PostgreSQL's `ts_rank` reads a match's whole `tsvector`; a common word matches tens of thousands of things, so
search ranks only a bounded set of candidates, the latest matches and the latest whose title matches. Telling a
title match needs the title's words without the body's: `title_tsv`, small and stored in the row. Filled from
the title-weighted (A) part of the existing vectors; long values leave the row (`toast_tuple_target`), so
visiting every match's row stays cheap. SQLite's FTS5 table already has a title column.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "20261207_search_title_vectors"
down_revision = "20261207_drafting"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.add_column("search_documents", sa.Column("title_tsv", postgresql.TSVECTOR(), nullable=True))
    # Finding the matches visits each one's row: keep rows narrow. Long values (the text, its vector) are stored
    # out of the row from 128 bytes on, read only for the few rows ranked or shown; the title vector stays in it.
    op.execute("ALTER TABLE search_documents ALTER COLUMN title_tsv SET STORAGE MAIN")
    op.execute("ALTER TABLE search_documents SET (toast_tuple_target = 128)")
    # Rewrites every row, so the rows already there are narrowed too.
    op.execute("UPDATE search_documents SET title_tsv = ts_filter(tsv, '{a}') WHERE tsv IS NOT NULL")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE search_documents RESET (toast_tuple_target)")
    op.drop_column("search_documents", "title_tsv")
