"""The norm document store: the only writer of stored Automerge documents.

Two halves behind one facade, each stating in its docstring what it promises the other:
norms/residents.py holds the documents resident in memory (loading, catch-up, relayed changes,
whole-document answers, eviction, listeners); norms/writes.py is the write pipeline (admission
checks, attribution, sequence checks, group commit). Callers use `NormStore`.

Every write is validated, attributed and committed to `norm_changes` before it returns, so nothing
is acknowledged, shown or relayed that is not durable. A loaded document stays resident in memory,
caught up from the database before each use (another instance may have written since), and is
dropped after `document_idle_seconds` unused, or whenever a write fails half-way, so memory never
holds what the database does not.

Lock order — one order on every path of both halves, so no two tasks (or instances) ever wait on
each other:
1. A database connection first. No lock of the store (the loading lock, a document's lock) is held
   while waiting for one: under load every pooled connection can be held by a writer waiting for a
   norm's row lock, and that writer may be waiting for the lock held.
2. Then the norm's row lock (`SELECT ... FOR UPDATE`; on SQLite the database's write lock), taken
   only by a write, as the first statement of its transaction.
3. Then the document's lock (`Resident.lock`). The store-wide loading lock is taken only to load a
   copy that is not resident, and nothing waits for a document's lock while holding it.
4. A group commit takes the locks of several documents: its writes run sorted by document id, so
   every round on every instance takes row locks in one order.
5. A write holds a document's lock from its first change to the copy until its transaction has
   committed or rolled back, so no reader sees what is not stored. Listeners run inside that lock
   and must not block.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager

import automerge.core as am
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from norms.models import Norm, NormTranslation
from norms.residents import (
    BYTES_PER_RESIDENT_CHANGE,
    JOURNAL_KEEP,
    Journal,
    Listener,
    ResidentInfo,
    Residents,
    Stored,
    Whole,
    topological,
)
from norms.writes import Applied, Authorize, Limits, LockedNorm, Merge, Prepare, Writer, new_actor, parse_heads

__all__ = [
    "BYTES_PER_RESIDENT_CHANGE",
    "JOURNAL_KEEP",
    "Applied",
    "Authorize",
    "Journal",
    "Limits",
    "Listener",
    "LockedNorm",
    "Merge",
    "NormStore",
    "Prepare",
    "ResidentInfo",
    "Stored",
    "Whole",
    "new_actor",
    "parse_heads",
    "topological",
]


class NormStore:
    """Norm documents as stored: read them (`reading`, `whole`), write them (`create`, `apply`, `edit`),
    and keep the copies in memory current (`catch_up`, `merge_relayed`, listeners, pins, eviction)."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], limits: Limits, idle_seconds: float = 300, group_commit: bool | None = None
    ) -> None:
        """`group_commit`: writes share commits through one queue; by default only on SQLite (see `Writer`)."""
        self._residents = Residents(sessionmaker, idle_seconds)
        self._writer = Writer(sessionmaker, self._residents, limits, group_commit)

    @property
    def limits(self) -> Limits:
        """What one write may hold and when a snapshot is taken (the write pipeline's)."""
        return self._writer.limits

    @limits.setter
    def limits(self, limits: Limits) -> None:
        self._writer.limits = limits

    # --- Writing (norms/writes.py) ---------------------------------------------------------

    async def create(
        self, session: AsyncSession, norm: Norm | NormTranslation, participant_id: uuid.UUID, title: str, text: str
    ) -> list[str]:
        """Write the first change of a norm's (or a translation's) document in the caller's transaction (its row is
        flushed); its heads."""
        return await self._writer.create(session, norm, participant_id, title, text)

    async def apply(
        self, document_id: bytes, participant_id: uuid.UUID, data: bytes, authorize: Authorize | None = None, origin: object = None
    ) -> Applied:
        """Validate changes (or a saved document) from `participant_id`'s Automerge peer and store the new ones (see `Writer.apply`)."""
        return await self._writer.apply(document_id, participant_id, data, authorize, origin)

    async def edit(
        self,
        document_id: bytes,
        participant_id: uuid.UUID,
        splices: Sequence[tuple[int, int, str]],
        title: str | None = None,
        base_heads: Sequence[str] | None = None,
        authorize: Authorize | None = None,
    ) -> Applied:
        """Edit as `participant_id` through a new actor bound to them; with `base_heads`, edit that version and merge."""
        return await self._writer.edit(document_id, participant_id, splices, title, base_heads, authorize)

    # --- Reading and residency (norms/residents.py) ----------------------------------------

    def reading(
        self, document_id: bytes, *, catch_up: bool = True, session: AsyncSession | None = None
    ) -> AbstractAsyncContextManager[am.Document]:
        """The stored document, caught up with the database; read it inside the block, never change it (see `Residents.reading`)."""
        return self._residents.reading(document_id, catch_up=catch_up, session=session)

    async def owners(self, actors: set[bytes]) -> dict[bytes, uuid.UUID]:
        """Whom each Automerge actor is bound to, as committed now, whatever snapshot a caller's session reads."""
        return await self._writer.owners(actors)

    async def catch_up(self, document_id: bytes) -> int:
        """Merge into the resident copy what other writers (other instances) stored; how many changes it gained."""
        return await self._residents.catch_up(document_id)

    async def whole(self, document_id: bytes) -> Whole:
        """The whole document as committed, for a peer that holds none of it (see `Residents.whole`)."""
        return await self._residents.whole(document_id)

    async def merge_relayed(self, document_id: bytes, data: bytes) -> bool:
        """Take in changes another instance committed and then broadcast (see `Residents.merge_relayed`)."""
        return await self._residents.merge_relayed(document_id, data)

    def evict_idle(self) -> None:
        """Drop every resident document unused for the idle time and not pinned."""
        self._residents.evict_idle()

    def evict(self, document_id: bytes) -> None:
        self._residents.evict(document_id)

    def pin(self, document_id: bytes) -> None:
        """Keep the document resident however long it is unused (a live peer is on it), until as many `unpin`s."""
        self._residents.pin(document_id)

    def unpin(self, document_id: bytes) -> None:
        self._residents.unpin(document_id)

    def journal(self, document_id: bytes) -> Journal | None:
        """The resident copy's journal (read it inside `reading`, under the document's lock)."""
        return self._residents.journal(document_id)

    def is_resident(self, document_id: bytes) -> bool:
        return self._residents.is_resident(document_id)

    def change_count(self, document_id: bytes) -> int | None:
        """How many changes the resident copy holds (read it inside `reading`); None if it is not resident."""
        return self._residents.change_count(document_id)

    @property
    def resident_count(self) -> int:
        return self._residents.resident_count

    def residents(self) -> list[ResidentInfo]:
        """What memory holds, with an estimate of each document's size (rc1 cannot report it)."""
        return self._residents.info()

    def add_listener(self, listener: Listener) -> None:
        """Call `listener` after each commit that stored changes (inside the document's lock: it must not block)."""
        self._residents.add_listener(listener)
