"""The search index's rows: one per searchable thing, with the original text for snippets.

Each database adds its own full-text structure beside this table (created by the migration, not the model):
SQLite an FTS5 table `search_fts(title, body)` keyed by `search_documents.id`; PostgreSQL a weighted `tsvector`
column `search_documents.tsv` with a GIN index, and the title's alone in `title_tsv` with its own GIN index. Both
hold the folded text of `services/search/text.py`.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from services.kit.db import Base, UTCDateTime

BigId = BigInteger().with_variant(Integer(), "sqlite")

# Objects of the schema each database's full-text search adds, which the models do not describe.
FTS_TABLE = "search_fts"
TSV_COLUMN = "tsv"
# The title's words alone (PostgreSQL), to tell a title match without reading the whole vector.
TITLE_TSV_COLUMN = "title_tsv"
TSV_INDEX = "ix_search_documents_tsv"
TITLE_TSV_INDEX = "ix_search_documents_title_tsv"


class Kind(enum.StrEnum):
    norm = "norm"
    version = "version"
    entry = "entry"
    network = "network"
    consultation = "consultation"
    comment = "comment"


class Status(enum.StrEnum):
    drafting = "drafting"
    adopted = "adopted"
    in_force = "in_force"
    superseded = "superseded"


class SearchDocument(Base):
    __tablename__ = "search_documents"
    __table_args__ = (
        UniqueConstraint("kind", "ref_id"),
        Index("ix_search_documents_date", "date"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))
    ref_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    network_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    norm_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    # drafting, adopted, in_force or superseded for norms, versions and entries; None for the rest.
    status: Mapped[str | None] = mapped_column(String(20))
    language: Mapped[str | None] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(Text)
    # Where a reader finds it (a page path), and what it belongs to (a network's or norm's name).
    url: Mapped[str] = mapped_column(String(600))
    context: Mapped[str] = mapped_column(String(600), default="")
    date: Mapped[datetime] = mapped_column(UTCDateTime)
    # For a norm: the change count its live text was indexed at (the worker reindexes when the norm's differs).
    revision: Mapped[int] = mapped_column(Integer, default=0)
    # Last: SQLite reads a row's columns in order, and a long text's overflow pages only when a later column is read.
    body: Mapped[str] = mapped_column(Text)


def engine_object(name: str | None, type_: str, parent: str | None = None) -> bool:
    """Whether a schema object is one of the full-text structures the migration adds outside the models."""
    if type_ == "table":
        return bool(name) and str(name).startswith(FTS_TABLE)
    if type_ == "column":
        return name in (TSV_COLUMN, TITLE_TSV_COLUMN) and parent == "search_documents"
    if type_ == "index":
        return name in (TSV_INDEX, TITLE_TSV_INDEX)
    return False
