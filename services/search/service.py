"""Searching the index: every word must match, filters narrow, relevance ranks and recency breaks ties.

The same contract on SQLite (FTS5, `bm25`) and PostgreSQL (`tsvector`, `ts_rank`): both match the folded
words of `services/search/text.py`, so they find the same things; only their relevance scores differ in detail.
An empty query (or one of exclusions only) lists the directory, newest first.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Select, and_, bindparam, cast, column, func, literal_column, select, table, text, union
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.ext.asyncio import AsyncSession

from networks.models import Affiliation, Membership, Network
from networks.taxonomy import Taxonomy
from services.kit.errors import InvalidInput
from services.kit.pagination import MAX_LIMIT, InvalidCursor, Page, decode_cursor, encode_cursor
from services.search.models import Kind, SearchDocument, Status
from services.search.text import LANGUAGES, MAX_QUERY_CHARS, Query, fts5_match, parse_query, snippet, tsquery

DEFAULT_LIMIT = 20
# How far pages go: a cursor is an offset into the ranked results, and people refine rather than page this far.
MAX_OFFSET = 10_000
# How many matches a search scores at most (more when paging deeper): see `_statement`.
CANDIDATES = 500
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class QueryTooLong(InvalidInput):
    """The search is too long; use at most 500 characters."""

    code = "query_too_long"


class UnknownFilter(InvalidInput):
    """The search does not know this filter."""

    code = "unknown_filter"


class SearchFilters(BaseModel):
    """What to look for: `q`'s words and the filters, all of which must hold."""

    q: str = Field("", description='Words that must all appear; "a phrase", -excluded, prefix*')
    kind: list[Kind] = Field(default_factory=list, description="Only these kinds of thing")
    network: str | None = Field(None, description="Only things of the network with this slug")
    status: Status | None = Field(None, description="drafting, adopted, in_force or superseded (norms, versions, entries)")
    group: str | None = Field(None, description="Only things of networks with a member of this stakeholder group")
    region: str | None = Field(None, description="Only things of networks with a member from this region")
    language: str | None = Field(None, description="Only things written in this UN language (ar, en, es, fr, ru, zh)")
    since: date | None = Field(None, alias="from", description="Only things dated on or after this day")
    until: date | None = Field(None, alias="to", description="Only things dated on or before this day")

    model_config = {"populate_by_name": True}


class SearchHit(BaseModel):
    kind: Kind
    id: uuid.UUID
    title: str
    url: str
    # Safe HTML: the text around the first match, matched words in <mark>, everything else escaped.
    snippet: str
    context: str
    network: str | None
    status: Status | None
    language: str | None
    date: datetime


def check(filters: SearchFilters, taxonomy: Taxonomy) -> Query:
    """The parsed query, or InvalidInput naming each filter that is not one this server knows."""
    if len(filters.q) > MAX_QUERY_CHARS:
        raise QueryTooLong(f"The search has {len(filters.q)} characters; use at most {MAX_QUERY_CHARS}")
    errors = []
    if filters.group is not None and not taxonomy.is_group(filters.group):
        errors.append({"field": "query.group", "message": f"Unknown stakeholder group {filters.group!r}", "allowed": list(taxonomy.groups)})
    if filters.region is not None and not taxonomy.is_region(filters.region):
        errors.append({"field": "query.region", "message": f"Unknown region {filters.region!r}", "allowed": list(taxonomy.regions)})
    if filters.language is not None and filters.language not in LANGUAGES:
        errors.append({"field": "query.language", "message": f"Unknown language {filters.language!r}", "allowed": list(LANGUAGES)})
    if filters.network is not None and not _SLUG.fullmatch(filters.network):
        errors.append({"field": "query.network", "message": f"network must be a network's slug, not {filters.network[:80]!r}"})
    if filters.until is not None and filters.until >= date.max:
        errors.append({"field": "query.to", "message": "The range must end before the year 9999"})
    if filters.since and filters.until and filters.since > filters.until:
        errors.append({"field": "query.from", "message": "The range starts after it ends"})
    if errors:
        raise UnknownFilter("; ".join(str(e["message"]) for e in errors), errors=errors)
    return parse_query(filters.q.replace("\x00", " "))


def _day(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _filtered(statement: Select[tuple[object, ...]], filters: SearchFilters) -> Select[tuple[object, ...]]:
    docs = SearchDocument.__table__.c
    conditions: list[ColumnElement[bool]] = []
    if filters.kind:
        conditions.append(docs.kind.in_([k.value for k in filters.kind]))
    if filters.network is not None:
        conditions.append(docs.network_id == select(Network.id).where(Network.slug == filters.network).scalar_subquery())
    if filters.status is not None:
        conditions.append(docs.status == filters.status.value)
    covering = select(Membership.network_id).join(
        Affiliation, and_(Affiliation.participant_id == Membership.participant_id, Affiliation.valid_to.is_(None))
    )
    if filters.group is not None:
        conditions.append(docs.network_id.in_(covering.where(Affiliation.stakeholder_group == filters.group)))
    if filters.region is not None:
        conditions.append(docs.network_id.in_(covering.where(Affiliation.region == filters.region)))
    if filters.language is not None:
        conditions.append(docs.language == filters.language)
    if filters.since is not None:
        conditions.append(docs.date >= _day(filters.since))
    if filters.until is not None:
        conditions.append(docs.date < _day(filters.until + timedelta(days=1)))
    return statement.where(*conditions)


def matching(dialect: str, q: str, kind: Kind) -> Select[tuple[uuid.UUID]]:
    """The ids of the things of `kind` whose words match `q` (every word; phrases, exclusions, prefixes), for a
    listing that filters by words but keeps its own order (the clearing house's feeds)."""
    query = parse_query(q.replace("\x00", " "))
    statement = _statement(dialect, query, SearchFilters(kind=[kind])).subquery()
    return select(statement.c.ref_id)


def _statement(dialect: str, query: Query, filters: SearchFilters, candidates: int | None = None) -> Select[tuple[object, ...]]:
    """The ranked ids only (small columns, so sorting many matches stays cheap); `search` then reads a page's rows.

    With `candidates`, SQLite scores only that many matches: the most recently indexed ones and as many whose title
    matches (a title weighs ten times the text, so those lead). Scoring is what costs with a common word (bm25 walks
    each match's positions) while finding the candidates costs none. When fewer things match, the order is exactly
    the full ranking's. PostgreSQL ranks every match: bounding its candidates by recency made its planner filter the
    newest rows one by one, each vector read whole, which costs more than ranking when a word is rare."""
    documents = SearchDocument.__table__
    docs = documents.c
    columns = [docs.id, docs.ref_id, docs.date]
    negative = query.negative
    if dialect == "sqlite":
        fts = table("search_fts", column("rowid"))

        def matches(expression: str, name: str) -> Select[tuple[object, ...]]:
            found = select(docs.id).select_from(fts.join(documents, docs.id == fts.c.rowid))
            return found.where(text(f"search_fts MATCH :{name}").bindparams(**{name: expression}))

        if negative:
            excluded = select(fts.c.rowid).where(
                text("search_fts MATCH :excluded").bindparams(excluded=" OR ".join(fts5_match(query, (t,)) for t in negative))
            )
        if query and candidates is not None:
            match = fts5_match(query)
            pools = []
            for expression, name in ((match, "recent"), (f"title : ({match})", "titled")):
                pool = _filtered(matches(expression, name), filters)
                if negative:
                    pool = pool.where(docs.id.not_in(excluded))
                pools.append(pool.order_by(fts.c.rowid.desc()).limit(candidates).subquery())
            chosen = union(*(select(pool.c.id) for pool in pools))
            return (
                select(*columns, literal_column("bm25(search_fts, 10.0, 1.0)").label("rank"))
                .select_from(fts.join(documents, docs.id == fts.c.rowid))
                # `+` keeps SQLite from looking each candidate up by rowid (a fresh match per row): it walks the matches
                # once and scores only those among the candidates.
                .where(text("search_fts MATCH :match").bindparams(match=match), literal_column("+search_fts.rowid").in_(chosen))
                .order_by(literal_column("rank"), docs.date.desc(), docs.id)
            )
        if query:
            statement = (
                select(*columns, literal_column("bm25(search_fts, 10.0, 1.0)").label("rank"))
                .select_from(fts.join(documents, docs.id == fts.c.rowid))
                .where(text("search_fts MATCH :match").bindparams(match=fts5_match(query)))
            )
        else:
            statement = select(*columns, literal_column("0.0").label("rank")).select_from(documents)
        if negative:
            statement = statement.where(docs.id.not_in(excluded))
    else:
        vector: ColumnElement[Any] = literal_column("search_documents.tsv")
        if query:
            wanted = cast(bindparam("wanted", tsquery(query)), TSQUERY)
            statement = select(*columns, (-func.ts_rank(vector, wanted)).label("rank")).where(vector.op("@@")(wanted))
        else:
            statement = select(*columns, literal_column("0.0").label("rank"))
        if negative:
            unwanted = cast(bindparam("unwanted", " | ".join(tsquery(query, (t,)) for t in negative)), TSQUERY)
            statement = statement.where(~vector.op("@@")(unwanted))
        statement = statement.select_from(documents)
    return _filtered(statement, filters).order_by(literal_column("rank"), docs.date.desc(), docs.id)


async def search(
    session: AsyncSession, taxonomy: Taxonomy, filters: SearchFilters, *, cursor: str | None = None, limit: int = DEFAULT_LIMIT
) -> Page[SearchHit]:
    """One page of what matches, best first; `next_cursor` continues it."""
    query = check(filters, taxonomy)
    limit = max(1, min(limit, MAX_LIMIT))
    offset = decode_cursor(cursor, int)[0] if cursor else 0
    if not 0 <= offset <= MAX_OFFSET:
        raise InvalidCursor()
    candidates = max(CANDIDATES, offset + limit + 1)
    statement = _statement(session.bind.dialect.name, query, filters, candidates).limit(limit + 1).offset(max(0, offset))
    ranked = [row.id for row in (await session.execute(statement)).all()]
    docs = SearchDocument.__table__.c
    found = {
        row.id: row
        for row in await session.execute(
            select(*SearchDocument.__table__.c, Network.slug.label("network_slug"))
            .outerjoin(Network, Network.id == docs.network_id)
            .where(docs.id.in_(ranked[:limit]))
        )
    }
    rows = [found[doc_id] for doc_id in ranked if doc_id in found]
    hits = [
        SearchHit(
            kind=Kind(row.kind),
            id=row.ref_id,
            title=row.title,
            url=row.url,
            snippet=snippet(row.body or row.title, query),
            context=row.context,
            network=row.network_slug,
            status=Status(row.status) if row.status else None,
            language=row.language,
            date=row.date,
        )
        for row in rows[:limit]
    ]
    return Page[SearchHit](items=hits, next_cursor=encode_cursor(offset + limit) if len(ranked) > limit else None)
