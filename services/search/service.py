"""Searching the index: every word must match, filters narrow, relevance ranks and recency breaks ties.

The same contract on SQLite (FTS5, `bm25`) and PostgreSQL (`tsvector`, `ts_rank`), each scoring at most a bounded
set of candidates when a word is common: both match the folded
words of `services/search/text.py`, so they find the same things; only their relevance scores differ in detail.
An empty query (or one of exclusions only) lists the directory, newest first.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import (
    ClauseElement,
    ColumnElement,
    CompoundSelect,
    Executable,
    Select,
    and_,
    bindparam,
    cast,
    column,
    func,
    literal_column,
    select,
    table,
    text,
    union,
    union_all,
)
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles

from networks.models import Affiliation, Membership, Network
from networks.taxonomy import Taxonomy
from services.kit.errors import InvalidInput
from services.kit.pagination import MAX_LIMIT, InvalidCursor, Page, decode_cursor, encode_cursor
from services.search.models import Kind, SearchDocument, Status
from services.search.text import LANGUAGES, MAX_QUERY_CHARS, Query, best_snippet, fts5_match, parse_query, tsquery

DEFAULT_LIMIT = 20
# How far pages go: a cursor is an offset into the ranked results, and people refine rather than page this far.
MAX_OFFSET = 10_000
# How many matches a search scores at most (more when paging deeper): see `_statement`.
CANDIDATES = 500
# How many times more reading a row's vector costs than visiting a match the index found: see `_walk_budget`.
WALK_COST = 4
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


def _statement(
    dialect: str, query: Query, filters: SearchFilters, candidates: int | None = None, walk: int | None = None
) -> Select[tuple[object, ...]]:
    """The ranked ids only (small columns, so sorting many matches stays cheap); `search` then reads a page's rows.

    With `candidates`, SQLite scores only that many matches: the most recently indexed ones and as many whose title
    matches (a title weighs ten times the text, so those lead). Scoring is what costs with a common word (bm25 walks
    each match's positions) while finding the candidates costs none. When fewer things match, the order is exactly
    the full ranking's. PostgreSQL does the same in `_postgres_candidates`."""
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
        if query and candidates is not None:
            return _postgres_candidates(query, filters, candidates, walk)
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


def _postgres_candidates(query: Query, filters: SearchFilters, candidates: int, walk: int | None = None) -> Select[tuple[object, ...]]:
    """PostgreSQL's ranked ids, scoring at most `2 * candidates` matches as SQLite does (see `_statement`).

    The matches are found once, from the GIN index, with only their id and whether their title matches (`title_tsv`,
    a few words stored in the row): neither reads the body's vector. In a materialized CTE, so the planner cannot
    walk the primary key backwards instead, testing each row's vector. Then `ts_rank` reads only the candidates'
    vectors: the latest matches and the latest whose title matches. A phrase's are found in `_phrase_pools`."""
    documents = SearchDocument.__table__
    docs = documents.c
    vector: ColumnElement[Any] = literal_column("search_documents.tsv")
    wanted = cast(bindparam("wanted", tsquery(query)), TSQUERY)
    if _phrase(query):
        pools = _phrase_pools(query, filters, candidates, walk)
    elif walk is not None:
        # Common words (`network`, `operat*`: a third of everything): the newest rows walked until `candidates` match,
        # the title matches from the titles' index, and the index's matches only if the walk fell short.
        walked = _walked(query, filters, candidates, walk, wanted)
        matched = _unexcluded(_filtered(select(docs.id).where(vector.op("@@")(wanted)), filters), query)
        found = matched.where(select(func.count()).select_from(walked).scalar_subquery() < candidates).cte("matched")
        found = found.prefix_with("MATERIALIZED")
        pools = [
            select(walked.c.id).subquery(),
            _title_pool(query, filters, candidates, wanted),
            select(found.c.id).order_by(found.c.id.desc()).limit(candidates).subquery(),
        ]
    else:
        titled = literal_column("search_documents.title_tsv").op("@@")(wanted)
        matched = _unexcluded(_filtered(select(docs.id, titled.label("titled")).where(vector.op("@@")(wanted)), filters), query)
        found = matched.cte("matched").prefix_with("MATERIALIZED")
        pools = [
            select(found.c.id).where(*([found.c.titled] if title_only else [])).order_by(found.c.id.desc()).limit(candidates).subquery()
            for title_only in (False, True)
        ]
    # At most two pools' worth (a walk's matches are among the index's when it falls short): the LIMIT says so to
    # the planner, which then looks each candidate up rather than scanning the table to join them.
    chosen = select(union(*(select(pool.c.id) for pool in pools)).subquery()).limit(2 * candidates)
    return (
        select(docs.id, docs.ref_id, docs.date, (-func.ts_rank(vector, wanted)).label("rank"))
        .where(docs.id.in_(chosen))
        .order_by(literal_column("rank"), docs.date.desc(), docs.id)
    )


def _phrase(query: Query) -> bool:
    return any(len(term.words) > 1 for term in query.positive)


def _unexcluded(statement: Select[tuple[object, ...]], query: Query) -> Select[tuple[object, ...]]:
    """`statement` without the things that hold an excluded word, found from the index."""
    if not query.negative:
        return statement
    unwanted = cast(bindparam("unwanted", " | ".join(tsquery(query, (t,)) for t in query.negative)), TSQUERY)
    excluded = SearchDocument.__table__.alias("excluded")
    return statement.where(
        SearchDocument.__table__.c.id.not_in(select(excluded.c.id).where(literal_column("excluded.tsv").op("@@")(unwanted)))
    )


def _phrase_pools(query: Query, filters: SearchFilters, candidates: int, walk: int | None) -> list[Any]:
    """A phrase's candidates on PostgreSQL: its latest `candidates` matches and its latest `candidates` title matches.

    The index finds the documents holding a phrase's words, not in their order; checking the order reads each one's
    vector. For words found in a few thousand documents, those are found from the index (the index alone) and checked
    newest first, one at a time, only until the pool is full. For common words (`"the same"`: 49,000 documents of
    130,000) reading every id the index finds costs more than walking the newest rows, checking each, until
    `candidates` match: with `walk`, at most that many rows are walked, and only if they hold too few matches are
    they found from the index after all (`_walk_budget` chooses, from PostgreSQL's estimates). The title matches come
    from the titles' own index: a title match is a match, the title being the start of the whole vector."""
    documents = SearchDocument.__table__
    docs = documents.c
    wanted = cast(bindparam("wanted", tsquery(query)), TSQUERY)
    loose = cast(bindparam("loose", tsquery(query, loose=True)), TSQUERY)
    title_pool = _title_pool(query, filters, candidates, wanted)
    found = _unexcluded(_filtered(select(docs.id).where(literal_column("search_documents.tsv").op("@@")(loose)), filters), query)
    walked = None
    if walk is not None:
        walked = _walked(query, filters, candidates, walk, wanted)
        # Only when the walk fell short: a condition without columns, so PostgreSQL decides it once, before any scan.
        found = found.where(select(func.count()).select_from(walked).scalar_subquery() < candidates)
    matched = found.cte("matched").prefix_with("MATERIALIZED")
    # Newest first, then the order of the words checked row by row until the pool is full (OFFSET 0 keeps PostgreSQL
    # from checking every row before it sorts).
    newest = select(matched.c.id).order_by(matched.c.id.desc()).offset(0).subquery()
    checked = documents.alias("checked")
    in_order = select(literal_column("checked.tsv").op("@@")(wanted)).where(checked.c.id == newest.c.id)
    pools: list[Any] = [select(newest.c.id).where(in_order.scalar_subquery()).limit(candidates).subquery(), title_pool]
    if walked is not None:
        pools.append(select(walked.c.id).subquery())
    return pools


def _title_pool(query: Query, filters: SearchFilters, candidates: int, wanted: ColumnElement[Any]) -> Any:
    """The latest `candidates` things whose title matches, from the titles' own index (a title match is a match, the
    title being the start of the whole vector)."""
    docs = SearchDocument.__table__.c
    # OFFSET 0 keeps PostgreSQL from walking the primary key backwards, testing each title, when it guesses them many.
    titled = _unexcluded(_filtered(select(docs.id).where(literal_column("search_documents.title_tsv").op("@@")(wanted)), filters), query)
    titles = titled.offset(0).subquery()
    return select(titles.c.id).order_by(titles.c.id.desc()).limit(candidates).subquery()


def _walked(query: Query, filters: SearchFilters, candidates: int, walk: int, wanted: ColumnElement[Any]) -> Any:
    """The latest `candidates` matches among the newest `walk` rows, each row's vector tested newest first."""
    docs = SearchDocument.__table__.c
    # The filters first, so a row they leave out is not read; then the words, newest row first.
    rows = _unexcluded(_filtered(select(docs.id, literal_column("search_documents.tsv").label("tsv")), filters), query)
    newest_rows = rows.order_by(docs.id.desc()).limit(walk).subquery()
    return select(newest_rows.c.id).where(newest_rows.c.tsv.op("@@")(wanted)).limit(candidates).cte("walked").prefix_with("MATERIALIZED")


async def _walk_budget(session: AsyncSession, query: Query, filters: SearchFilters, candidates: int) -> int | None:
    """How many of the newest rows PostgreSQL walks to find the latest `candidates` matches, or None to find them from
    the index (`_postgres_candidates`, `_phrase_pools`): by its estimates of the documents holding the words and of
    all rows.

    Walking reads about `candidates * rows / matches` vectors; the index visits each of the `matches` rows, which
    costs about a `WALK_COST`th of reading a vector. The walk stops at that cost, so a phrase of common words that
    rarely stand together (`"same the"`) costs at most twice what the index alone would."""
    if not query.positive:
        return None
    docs = SearchDocument.__table__.c
    loose = cast(bindparam("loose", tsquery(query, loose=True)), TSQUERY)
    estimated = union_all(
        _filtered(select(docs.id).where(literal_column("search_documents.tsv").op("@@")(loose)), filters), select(docs.id)
    )
    plan = (await session.execute(_Explain(estimated))).scalar_one()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    matches, rows = (part["Plan Rows"] for part in plan[0]["Plan"]["Plans"] if part.get("Parent Relationship") == "Member")
    budget = int(matches / WALK_COST)
    return budget if candidates * rows / max(matches, 1) < budget else None


class _Explain(Executable, ClauseElement):
    """`EXPLAIN (FORMAT JSON)` of a statement: PostgreSQL's plan and estimates, the statement not run."""

    inherit_cache = False

    def __init__(self, statement: Select[Any] | CompoundSelect) -> None:
        self.statement = statement


@compiles(_Explain, "postgresql")
def _explain(element: _Explain, compiler: Any, **kw: Any) -> str:
    return "EXPLAIN (FORMAT JSON) " + compiler.process(element.statement, **kw)


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
    dialect = session.bind.dialect.name
    walk = await _walk_budget(session, query, filters, candidates) if dialect == "postgresql" else None
    statement = _statement(dialect, query, filters, candidates, walk).limit(limit + 1).offset(max(0, offset))
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
            snippet=best_snippet((row.body, row.title), query),
            context=row.context,
            network=row.network_slug,
            status=Status(row.status) if row.status else None,
            language=row.language,
            date=row.date,
        )
        for row in rows[:limit]
    ]
    return Page[SearchHit](items=hits, next_cursor=encode_cursor(offset + limit) if len(ranked) > limit else None)
