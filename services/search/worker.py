"""Keeping norms' live text searchable without touching the sync path.

A norm's text changes through the norm store's writes, which must stay fast and write no ORM objects, so the
index learns of them here instead: every COGOV_SEARCH_REINDEX_SECONDS the worker re-reads each norm whose
change count differs from the one its index row was built at, and indexes it (folding long texts in a worker process). A live
edit is thus findable at most one interval (plus the round's work) after it is stored. Any number of workers
may do this at once: the result is the same, only the work is repeated.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import structlog
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from norms import document
from norms.models import Norm
from norms.store import NormStore
from services.kit.db import transaction
from services.runtime import Runtime
from services.search import index
from services.search.models import Kind, SearchDocument

log = structlog.get_logger()

BATCH = 100


async def reindex_stale_norms(sessionmaker: async_sessionmaker[AsyncSession], store: NormStore, *, batch: int = BATCH) -> int:
    """Index the live text of up to `batch` norms changed since they were last indexed; how many."""
    docs = SearchDocument.__table__.c
    async with transaction(sessionmaker) as session:
        stale = (
            await session.execute(
                select(Norm.id, Norm.document_id, Norm.change_count)
                .outerjoin(SearchDocument.__table__, and_(docs.kind == Kind.norm.value, docs.ref_id == Norm.id))
                .where(or_(docs.id.is_(None), docs.revision != Norm.change_count))
                .order_by(Norm.created_at)
                .limit(batch)
            )
        ).all()
    for norm_id, document_id, change_count in stale:
        async with store.reading(document_id) as doc:
            title, text = document.read_title(doc), document.read_text(doc)
        async with transaction(sessionmaker) as session:
            norm = await session.get(Norm, norm_id)
            if norm is not None:
                await index.index_norm_text(session, norm, title, text, change_count)
    return len(stale)


async def run(sessionmaker: async_sessionmaker[AsyncSession], store: NormStore, seconds: float) -> None:
    """Rounds until cancelled, one every `seconds`; first the process that folds long texts is started."""
    try:
        await index.start_folding()
    except Exception:  # long texts will start it when they come
        log.exception("search.folding_not_started")
    while True:
        try:
            done = await reindex_stale_norms(sessionmaker, store)
            if done:
                log.info("search.norms_reindexed", count=done)
        except Exception:  # the database may be away for a moment; try again next round
            log.exception("search.reindex_failed")
        await asyncio.sleep(seconds)


@asynccontextmanager
async def running(runtime: Runtime) -> AsyncIterator[None]:
    """Re-index norms' live text in the background for the duration of the block."""
    task = asyncio.create_task(
        run(runtime.sessionmaker, runtime.norm_store, runtime.settings.search_reindex_seconds), name="search-reindex"
    )
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        await index.stop_folding()


@asynccontextmanager
async def in_serve(runtime: Runtime) -> AsyncIterator[None]:
    """Beside the app, unless COGOV_WORKER_IN_SERVE=false (a deployment running `cogov worker`)."""
    if not runtime.settings.worker_in_serve:
        yield
        return
    async with running(runtime):
        yield
