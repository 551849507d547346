"""The one search index: what each searchable thing contributes, and the writes that keep it current.

Fed by the domains' writes, not by calls scattered through them: an ORM `after_flush` listener notes which
networks, norms, versions, adoptions, entries (with their topics, summaries and reviewed translations; a renamed
topic's entries too, and a version's entry when one of its translations is reviewed),
consultations and comments a unit of work added or changed, and `services.kit.db`'s pre-commit step indexes them in that same
transaction, folding long texts in a worker process. So a tagged version or a published entry is findable
the moment its transaction commits, and an index write that fails fails the transaction with it.

A norm's live text changes on the sync path, which writes no ORM objects and must stay fast: the worker's
`reindex_stale_norms` re-reads it at most every COGOV_SEARCH_REINDEX_SECONDS (`services/search/worker.py`).
Hidden comments are removed from the index: nothing is searchable that a reader may not see.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, event, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from networks.models import Network
from norms.consultation_models import Consultation, ConsultationComment
from norms.models import Adoption, Norm, NormTranslation, NormVersion
from services.clearinghouse.models import EntryCuration, EntryTopic, FeedEntry, Topic
from services.kit.db import before_commit
from services.search.models import Kind, SearchDocument, Status
from services.search.text import fold_document

PENDING = "search.pending"
# Texts longer than this are folded in a worker process, so the event loop goes on answering.
INLINE_CHARS = 20_000


@dataclass
class Doc:
    kind: Kind
    ref_id: uuid.UUID
    title: str
    body: str
    url: str
    date: datetime
    context: str = ""
    network_id: uuid.UUID | None = None
    norm_id: uuid.UUID | None = None
    status: Status | None = None
    revision: int = 0
    language: str | None = None


@dataclass
class Pending:
    """What a unit of work changed that the index must follow."""

    things: set[tuple[Kind, uuid.UUID]]
    norm_statuses: set[uuid.UUID]
    # Topics renamed or described anew: every entry carrying one is reindexed (its topics are part of its text).
    topics: set[uuid.UUID] = field(default_factory=set)
    # Versions with a translation reviewed: the version's entry, if published, is reindexed (it carries the reviewed text).
    translated: set[uuid.UUID] = field(default_factory=set)


# --- Noting what changed (sync, inside the flush) -------------------------------------------


def _pending(session: Session) -> Pending:
    found = session.info.get(PENDING)
    if found is None:
        found = session.info[PENDING] = Pending(set(), set())
    return found


@event.listens_for(Session, "after_flush")
def _note_changes(session: Session, _context: object) -> None:
    touched = list(session.new) + [o for o in session.dirty if session.is_modified(o)] + list(session.deleted)
    if not touched:
        return
    pending: Pending | None = None
    for obj in touched:
        if isinstance(obj, Topic):
            pending = pending or _pending(session)
            pending.topics.add(obj.id)
            continue
        if isinstance(obj, NormTranslation):
            if obj.reviewed_at is not None:
                pending = pending or _pending(session)
                pending.translated.add(obj.version_id)
            continue
        thing = _thing(obj)
        if thing is None:
            continue
        pending = pending or _pending(session)
        kind, ref, norm_id = thing
        if kind is not None and ref is not None:
            pending.things.add((kind, ref))
        if norm_id is not None:
            pending.norm_statuses.add(norm_id)


def _thing(obj: object) -> tuple[Kind | None, uuid.UUID | None, uuid.UUID | None] | None:
    """(kind and id to reindex, norm whose statuses to refresh) for a changed object, or None when search ignores it."""
    match obj:
        case Network():
            return Kind.network, obj.id, None
        case Norm():
            return Kind.norm, obj.id, obj.id
        case NormVersion():
            return Kind.version, obj.id, None
        case Adoption():
            return None, None, obj.norm_id
        case FeedEntry():
            return Kind.entry, obj.id, obj.norm_id
        case EntryTopic() | EntryCuration():
            return Kind.entry, obj.entry_id, None
        case Consultation():
            return Kind.consultation, obj.id, None
        case ConsultationComment():
            return Kind.comment, obj.id, None
    return None


@before_commit
async def index_pending(session: AsyncSession) -> None:
    """Index what this unit of work changed, in it (run by services.kit.db just before each commit)."""
    pending: Pending | None = session.info.pop(PENDING, None)
    if pending is None:
        return
    if pending.topics:
        entries = await session.scalars(select(EntryTopic.entry_id).where(EntryTopic.topic_id.in_(pending.topics)))
        pending.things.update((Kind.entry, entry_id) for entry_id in entries)
    if pending.translated:
        entries = await session.scalars(
            select(FeedEntry.id)
            .join(NormVersion, (NormVersion.norm_id == FeedEntry.norm_id) & (NormVersion.number == FeedEntry.version_number))
            .where(NormVersion.id.in_(pending.translated))
        )
        pending.things.update((Kind.entry, entry_id) for entry_id in entries)
    for kind, ref_id in sorted(pending.things, key=lambda thing: (_ORDER[thing[0]], str(thing[1]))):
        await reindex(session, kind, ref_id)
    for norm_id in pending.norm_statuses:
        await refresh_statuses(session, norm_id)
    session.info.pop(PENDING, None)


async def catch_up(session: AsyncSession) -> None:
    """Index now what this unit of work has written so far, for a query about to read the index in it."""
    await session.flush()
    await index_pending(session)


_ORDER = {Kind.network: 0, Kind.norm: 1, Kind.version: 2, Kind.entry: 3, Kind.consultation: 4, Kind.comment: 5}


# --- What each thing contributes ------------------------------------------------------------


async def _network_slug(session: AsyncSession, network_id: uuid.UUID) -> tuple[str, str]:
    row = (await session.execute(select(Network.slug, Network.name).where(Network.id == network_id))).one()
    return row.slug, row.name


async def _norm_place(session: AsyncSession, norm_id: uuid.UUID) -> tuple[Norm, str, str]:
    norm = await session.get_one(Norm, norm_id)
    slug, name = await _network_slug(session, norm.network_id)
    return norm, slug, name


def _norm_status(norm: Norm) -> Status:
    return Status.adopted if norm.adopted_version is not None else Status.drafting


async def _version_status(session: AsyncSession, norm: Norm, number: int) -> Status:
    if norm.adopted_version == number:
        return Status.adopted
    adopted = await session.scalar(select(Adoption.id).where(Adoption.norm_id == norm.id, Adoption.version_number == number).limit(1))
    return Status.superseded if adopted is not None else Status.drafting


async def _entry_status(session: AsyncSession, entry: FeedEntry) -> Status:
    later = await session.scalar(select(FeedEntry.id).where(FeedEntry.norm_id == entry.norm_id, FeedEntry.seq > entry.seq).limit(1))
    return Status.superseded if later is not None else Status.in_force


async def build(session: AsyncSession, kind: Kind, ref_id: uuid.UUID) -> Doc | None:
    """The index's view of one thing, or None when it is gone or may not be shown to every reader."""
    if kind is Kind.network:
        network = await session.get(Network, ref_id)
        if network is None:
            return None
        body = "\n".join([network.issue, network.aims, network.intended_outcome])
        return Doc(kind, network.id, network.name, body, f"/networks/{network.slug}", network.created_at, network.name, network.id)
    if kind is Kind.norm:
        found = await session.get(Norm, ref_id)
        if found is None:
            return None
        norm, slug, name = await _norm_place(session, ref_id)
        url = f"/networks/{slug}/norms/{norm.slug}"
        return Doc(kind, norm.id, norm.title, "", url, norm.created_at, name, norm.network_id, norm.id, _norm_status(norm), revision=-1)
    if kind is Kind.version:
        version = await session.get(NormVersion, ref_id)
        if version is None:
            return None
        norm, slug, name = await _norm_place(session, version.norm_id)
        title = f"{version.title} — v{version.number} {version.label}"
        body = "\n".join(filter(None, [version.note, version.text or ""]))
        url = f"/networks/{slug}/norms/{norm.slug}/versions/{version.number}"
        status = await _version_status(session, norm, version.number)
        return Doc(kind, version.id, title, body, url, version.created_at, f"{name} · {norm.title}", norm.network_id, norm.id, status)
    if kind is Kind.entry:
        entry = await session.get(FeedEntry, ref_id)
        if entry is None:
            return None
        topics = (
            await session.scalars(
                select(Topic.label).join(EntryTopic, EntryTopic.topic_id == Topic.id).where(EntryTopic.entry_id == entry.id)
            )
        ).all()
        summary = await session.scalar(select(EntryCuration.summary).where(EntryCuration.entry_id == entry.id))
        # Its reviewed translations as published with it (the text a convener reviewed, not the one being edited).
        translated = (
            await session.execute(
                select(NormTranslation.reviewed_title, NormTranslation.reviewed_text)
                .join(NormVersion, NormVersion.id == NormTranslation.version_id)
                .where(
                    NormVersion.norm_id == entry.norm_id,
                    NormVersion.number == entry.version_number,
                    NormTranslation.reviewed_at.is_not(None),
                )
                .order_by(NormTranslation.language)
            )
        ).all()
        translations = [part for title, text in translated for part in (title, text) if part]
        body = "\n".join(filter(None, [summary or "", " · ".join(topics), entry.text, *translations]))
        _slug, name = await _network_slug(session, entry.network_id)
        url = f"/clearinghouse/{entry.network_slug}/{entry.norm_slug}/v{entry.version_number}"
        status = await _entry_status(session, entry)
        return Doc(kind, entry.id, entry.title, body, url, entry.published_at, name, entry.network_id, entry.norm_id, status)
    if kind is Kind.consultation:
        consultation = await session.get(Consultation, ref_id)
        if consultation is None:
            return None
        norm, _slug, name = await _norm_place(session, consultation.norm_id)
        title = f"Consultation on {norm.title} v{consultation.version_number}"
        url = f"/consultations/{consultation.id}"
        return Doc(kind, consultation.id, title, consultation.question, url, consultation.opened_at, name, norm.network_id, norm.id)
    comment = await session.get(ConsultationComment, ref_id)
    if comment is None or comment.hidden:
        return None
    consultation = await session.get_one(Consultation, comment.consultation_id)
    norm, _slug, name = await _norm_place(session, consultation.norm_id)
    title = f"Comment on {norm.title} v{consultation.version_number}"
    url = f"/consultations/{consultation.id}#comment-{comment.id}"
    return Doc(kind, comment.id, title, comment.body, url, comment.created_at, name, norm.network_id, norm.id)


# --- Writing -------------------------------------------------------------------------------


async def _fold(title: str, body: str, dialect: str) -> tuple[str, str, str | None]:
    if len(body) > INLINE_CHARS:
        return await asyncio.get_running_loop().run_in_executor(_folding_pool(), fold_document, title, body, dialect)
    return fold_document(title, body, dialect)


_POOL: ProcessPoolExecutor | None = None


def _folding_pool() -> ProcessPoolExecutor:
    """One worker process for folding long texts: a thread would hold the GIL in slices and stall the event loop."""
    global _POOL
    if _POOL is None:
        # spawn, not fork: the app's threads (database drivers, the loop's executor) must not be copied mid-work.
        _POOL = ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_exit_with, initargs=(os.getpid(),)
        )
    return _POOL


def _exit_with(parent: int) -> None:
    """In the folding process: end when the process that started it is gone, however it ended (a SIGKILL tells
    its pool nothing), rather than live on as an orphan."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


async def start_folding() -> None:
    """Start the folding process and have it load its code, off the event loop (the worker, when it starts), so
    the first long text after a start does not wait for a process to start."""
    await asyncio.get_running_loop().run_in_executor(_folding_pool(), fold_document, "", "", "sqlite")


async def stop_folding() -> None:
    """End the folding process, waiting for a fold under way, and release what its pool holds: a server ends by
    re-raising the signal that stopped it, so nothing would run at exit, and the pool's named semaphores would
    be left to the resource tracker, which reports them as leaked in the server's log."""
    global _POOL
    pool, _POOL = _POOL, None
    if pool is not None:
        # Nothing is lost by not waiting: the worker that folded has stopped, and a norm it was folding is still
        # stale, so folded again next round. Waiting would hold a server stopped soon after it started for as long
        # as the process takes to start.
        for process in list((pool._processes or {}).values()):
            process.terminate()
        await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)


def folding_started() -> bool:
    """Whether the folding process has been started in this process."""
    return _POOL is not None


async def write(session: AsyncSession, doc: Doc, *, keep_body: bool = False) -> None:
    """Insert or replace `doc` in the index (with `keep_body`, a norm's title and status, its indexed text kept)."""
    docs = SearchDocument.__table__.c
    existing = (
        await session.execute(select(docs.id, docs.body, docs.revision).where(docs.kind == doc.kind, docs.ref_id == doc.ref_id))
    ).one_or_none()
    if existing is not None and keep_body:
        doc.body, doc.revision = existing.body, existing.revision
    folded_title, folded_body, language = await _fold(doc.title, doc.body, session.bind.dialect.name)
    values = _values(doc, language)
    table = cast(Table, SearchDocument.__table__)
    if existing is None:
        doc_id = (await session.execute(table.insert().values(**values).returning(table.c.id))).scalar_one()
    else:
        doc_id = existing.id
        await session.execute(table.update().where(table.c.id == doc_id).values(**values))
    await _write_vector(session, doc_id, folded_title, folded_body)


def _values(doc: Doc, language: str | None) -> dict[str, Any]:
    """The index row's columns for `doc` (its full-text side apart)."""
    return {
        "kind": doc.kind.value,
        "ref_id": doc.ref_id,
        "network_id": doc.network_id,
        "norm_id": doc.norm_id,
        "status": doc.status.value if doc.status else None,
        "language": language,
        "title": doc.title,
        "body": doc.body,
        "url": doc.url,
        "context": doc.context[:600],
        "date": doc.date,
        "revision": doc.revision,
    }


async def write_many(session: AsyncSession, docs: Sequence[Doc], folded: Sequence[tuple[str, str, str | None]] | None = None) -> None:
    """Insert `docs`, things not yet in the index, in bulk: a statement per table for all of them, not a round
    of statements per thing (a rebuild, the benchmark). Texts are folded here as `write` folds them, unless
    `folded` already holds `fold_document`'s answer for each."""
    if not docs:
        return
    dialect = session.bind.dialect.name
    rows = []
    for n, doc in enumerate(docs):
        folded_title, folded_body, language = folded[n] if folded is not None else await _fold(doc.title, doc.body, dialect)
        rows.append(_values(doc, language) | {"folded_title": folded_title, "folded_body": folded_body})
    table = cast(Table, SearchDocument.__table__)
    columns = [name for name in rows[0] if name in table.c]
    typed = [bindparam(name, type_=table.c[name].type) for name in columns]
    names, placeholders = ", ".join(columns), ", ".join(f":{name}" for name in columns)
    if dialect == "sqlite":
        # SQLite gives a new row max(id) + 1, so ids can be chosen here and the FTS5 rows keyed by them.
        after = await session.scalar(text("SELECT coalesce(max(id), 0) FROM search_documents")) or 0
        for n, row in enumerate(rows, start=after + 1):
            row["id"] = n
        insert = text(f"INSERT INTO search_documents (id, {names}) VALUES (:id, {placeholders})").bindparams(*typed)
        await session.execute(insert, rows)
        await session.execute(text("INSERT INTO search_fts (rowid, title, body) VALUES (:id, :folded_title, :folded_body)"), rows)
        return
    vectors, sql = ", ".join(_PG_VECTORS), ", ".join(_PG_VECTORS.values())
    insert = text(f"INSERT INTO search_documents ({names}, {vectors}) VALUES ({placeholders}, {sql})").bindparams(*typed)
    await session.execute(insert, rows)


# PostgreSQL's full-text columns, as SQL over the folded title and body.
_PG_VECTORS = {
    "tsv": "setweight(to_tsvector('simple', :folded_title), 'A') || setweight(to_tsvector('simple', :folded_body), 'D')",
    "title_tsv": "setweight(to_tsvector('simple', :folded_title), 'A')",
}


async def _write_vector(session: AsyncSession, doc_id: int, title: str, body: str) -> None:
    values = {"id": doc_id, "folded_title": title, "folded_body": body}
    if session.bind.dialect.name == "sqlite":
        await session.execute(text("DELETE FROM search_fts WHERE rowid = :id"), {"id": doc_id})
        await session.execute(text("INSERT INTO search_fts (rowid, title, body) VALUES (:id, :folded_title, :folded_body)"), values)
        return
    assignments = ", ".join(f"{name} = {sql}" for name, sql in _PG_VECTORS.items())
    await session.execute(text(f"UPDATE search_documents SET {assignments} WHERE id = :id"), values)


async def remove(session: AsyncSession, kind: Kind, ref_id: uuid.UUID) -> None:
    doc_id = await session.scalar(select(SearchDocument.id).where(SearchDocument.kind == kind, SearchDocument.ref_id == ref_id))
    if doc_id is None:
        return
    if session.bind.dialect.name == "sqlite":
        await session.execute(text("DELETE FROM search_fts WHERE rowid = :id"), {"id": doc_id})
    await session.execute(delete(SearchDocument).where(SearchDocument.id == doc_id))


async def reindex(session: AsyncSession, kind: Kind, ref_id: uuid.UUID) -> None:
    """Bring one thing's index row up to date with the database (removing it when gone or hidden)."""
    doc = await build(session, kind, ref_id)
    if doc is None:
        await remove(session, kind, ref_id)
    else:
        await write(session, doc, keep_body=kind is Kind.norm)


async def refresh_statuses(session: AsyncSession, norm_id: uuid.UUID) -> None:
    """After an adoption or a publication: the statuses of the norm, its versions and its entries."""
    norm = await session.get(Norm, norm_id)
    if norm is None:
        return
    docs = SearchDocument.__table__.c
    await session.execute(
        update(SearchDocument).where(docs.kind == Kind.norm, docs.ref_id == norm_id).values(status=_norm_status(norm).value)
    )
    versions = (await session.execute(select(NormVersion.id, NormVersion.number).where(NormVersion.norm_id == norm_id))).all()
    for version_id, number in versions:
        status = await _version_status(session, norm, number)
        await session.execute(
            update(SearchDocument).where(docs.kind == Kind.version, docs.ref_id == version_id).values(status=status.value)
        )
    entries = (await session.scalars(select(FeedEntry).where(FeedEntry.norm_id == norm_id))).all()
    for entry in entries:
        status = await _entry_status(session, entry)
        await session.execute(update(SearchDocument).where(docs.kind == Kind.entry, docs.ref_id == entry.id).values(status=status.value))


async def index_norm_text(session: AsyncSession, norm: Norm, title: str, body: str, revision: int) -> None:
    """Index a norm's live text as read from its document at `revision` (its change count)."""
    doc = await build(session, Kind.norm, norm.id)
    if doc is None:
        return
    doc.title, doc.body, doc.revision = title, body, revision
    await write(session, doc)


async def rebuild(session: AsyncSession, kinds: Iterable[Kind] = tuple(Kind)) -> int:
    """Index every thing of `kinds` afresh (norms with an empty text the worker then fills); how many rows."""
    sources = {
        Kind.network: select(Network.id),
        Kind.norm: select(Norm.id),
        Kind.version: select(NormVersion.id),
        Kind.entry: select(FeedEntry.id),
        Kind.consultation: select(Consultation.id),
        Kind.comment: select(ConsultationComment.id),
    }
    count = 0
    for kind in kinds:
        for ref_id in (await session.scalars(sources[kind])).all():
            await reindex(session, kind, ref_id)
            count += 1
    return count


async def clear(session: AsyncSession) -> None:
    """Empty the index (before a rebuild)."""
    if session.bind.dialect.name == "sqlite":
        await session.execute(text("DELETE FROM search_fts"))
    await session.execute(delete(SearchDocument))


async def rebuild_vectors(session: AsyncSession, batch: int = 500) -> int:
    """Make each database's full-text side (FTS5 rows, tsvectors) again from the index's rows, which stay as they
    are (after a restore: an archive holds the rows, not the database's own structures); how many."""
    docs = SearchDocument.__table__.c
    after, count = 0, 0
    dialect = session.bind.dialect.name
    while rows := (
        await session.execute(select(docs.id, docs.title, docs.body).where(docs.id > after).order_by(docs.id).limit(batch))
    ).all():
        for doc_id, title, body in rows:
            folded_title, folded_body, _language = await _fold(title, body, dialect)
            await _write_vector(session, doc_id, folded_title, folded_body)
        after, count = rows[-1].id, count + len(rows)
    return count
