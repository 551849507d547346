"""search title index: on PostgreSQL a GIN index over each row's title words, to find a phrase's title matches

Revision ID: 20261207_search_title_index
Revises: 20261207_verification_words
Create Date: 2026-12-07 21:40:00.000000

Search ranks the latest matches and the latest whose title matches. For a phrase of common words the latest
matches are found by walking the newest rows, so the title matches can no longer be told from the set of every
document holding the words (tens of thousands): this index finds them from the titles' words alone. Titles are a
few words, so the index is small (about 2 MB for 130,000 things). SQLite's FTS5 table already has a title column.
"""

from __future__ import annotations

from alembic import op

revision = "20261207_search_title_index"
down_revision = "20261207_verification_words"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.create_index("ix_search_documents_title_tsv", "search_documents", ["title_tsv"], postgresql_using="gin")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_search_documents_title_tsv", table_name="search_documents")
