"""When the feeds last changed, and the rendered documents of the current state.

Every publication and curation act bumps one revision in the transaction that makes it, so a
feed's ETag is (revision, feed URL) and its Last-Modified the revision's time. Each process
caches the revision for `ttl` seconds (a change made by another process shows within that
time; one made by this process shows at once) and keeps rendered documents by ETag, so a
conditional GET answers 304 without touching the database.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.clearinghouse.models import FeedState

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_ROW = 1


@dataclass(frozen=True)
class State:
    revision: int
    changed_at: datetime


async def bump(session: AsyncSession, now: datetime) -> int:
    """Record a change to the feeds in the caller's transaction; the new revision (it also orders entries)."""
    for _ in range(2):
        revision = await session.scalar(
            update(FeedState)
            .where(FeedState.id == _ROW)
            .values(revision=FeedState.revision + 1, changed_at=now)
            .returning(FeedState.revision)
        )
        if revision is not None:
            return revision
        insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
        await session.execute(insert(FeedState).values(id=_ROW, revision=0, changed_at=now).on_conflict_do_nothing())
    raise RuntimeError("feed_state row missing")


async def read(session: AsyncSession) -> State:
    row = (await session.execute(select(FeedState.revision, FeedState.changed_at).where(FeedState.id == _ROW))).first()
    return State(row.revision, row.changed_at) if row else State(0, EPOCH)


@dataclass(frozen=True)
class Rendered:
    body: bytes
    gzipped: bytes | None
    content_type: str


class FeedCache:
    """The revision (briefly) and rendered feed documents (by ETag, least recently used out first)."""

    def __init__(self, ttl: float = 1.0, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.ttl = ttl
        self.max_bytes = max_bytes
        self._state: State | None = None
        self._state_until = 0.0
        self._documents: OrderedDict[str, Rendered] = OrderedDict()
        self._bytes = 0

    async def state(self, sessionmaker: async_sessionmaker[AsyncSession]) -> State:
        if self._state is None or time.monotonic() >= self._state_until:
            async with sessionmaker() as session:
                state = await read(session)
            if self._state is None or state.revision != self._state.revision:
                self._documents.clear()
                self._bytes = 0
            self._state, self._state_until = state, time.monotonic() + self.ttl
        return self._state

    def invalidate(self) -> None:
        """Forget the revision: this process just changed the feeds."""
        self._state_until = 0.0

    def get(self, etag: str) -> Rendered | None:
        document = self._documents.get(etag)
        if document is not None:
            self._documents.move_to_end(etag)
        return document

    def put(self, etag: str, document: Rendered) -> None:
        size = len(document.body) + len(document.gzipped or b"")
        if size > self.max_bytes // 4:
            return
        self._documents[etag] = document
        self._bytes += size
        while self._bytes > self.max_bytes:
            _, dropped = self._documents.popitem(last=False)
            self._bytes -= len(dropped.body) + len(dropped.gzipped or b"")
