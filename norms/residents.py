"""The norm store's resident documents: the copies held in memory, and how they follow the database.

A copy is loaded from the latest usable snapshot and the changes stored after it, caught up from
the database before use (another instance may have written since) or from what another instance
relayed, sent whole to a peer that holds nothing, and dropped after the idle time unless pinned.
Listeners hear of every change a copy takes in. Lock order: see norms/store.py (rules 1-5).

What this half promises the write half (norms/writes.py):
- `locked(document_id, session)` answers the current copy with its lock held, loading it on
  `session` if need be; a copy dropped while its lock was awaited is never answered.
- `catch_up_copy(session, document_id, copy)` merges what the database holds beyond the copy's
  `last_change_id`, under the lock the caller holds.
- Nothing here changes a copy whose lock it does not hold. A copy that is dropped (`drop`, `evict`,
  a relayed change that did not merge) is only forgotten, never answered again: a later copy loads
  from the database, so it holds whatever the writer of the dropped one commits.
- `tell(stored)` calls every listener and swallows (logs) what one raises.

What the write half promises this one:
- It changes a copy only under its lock, after the norm's row lock, and holds the lock until its
  transaction has committed or rolled back: no reader sees what is not stored.
- After storing changes it `record`s them in the copy before the lock goes (the journal, seqs,
  counts stay what the database holds); a copy it changed and did not store, it `drop`s.
- Of a copy it changes only `doc` (the write's changes), `last_seq` (filled from the database, a
  cache of `norm_changes`), `change_count` (set to the norm row's after a catch-up), `last_used`,
  and what `record` keeps.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import AsyncIterator, Container, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Protocol

import automerge.core as am
import structlog
from sqlalchemy import Row, delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from norms import document
from norms.document import Change
from norms.errors import InvalidChanges, NormNotFound
from norms.models import Norm, NormChange, NormSnapshot, NormTranslation

log = structlog.get_logger()


JOURNAL_KEEP = 1024


class Journal:
    """The changes merged into one resident copy since it loaded, in the order merged.

    A position counts the changes merged before it. Every change a copy holds beyond its load is an
    ancestor of the heads it had after its last merge, so the changes after position `p` are exactly
    what a peer that had the copy's heads at `p` lacks. A copy loaded again starts a new journal:
    a position means something only with the journal it came from. The changes are kept until
    `forget` (no live peer needs them) and at most 1,024 of them; the hashes of the last 1,024 stay
    known either way. Read and written under the document's lock.
    """

    __slots__ = ("start", "end", "entries", "positions")

    def __init__(self) -> None:
        self.start = 0  # the position of entries[0]
        self.end = 0  # the number of changes merged
        self.entries: deque[Change] = deque()
        self.positions: dict[bytes, int] = {}  # hash -> position for the last 1,024 changes, oldest first

    def add(self, changes: Iterable[Change]) -> None:
        for change in changes:
            self.positions[change.hash] = self.end
            self.entries.append(change)
            self.end += 1
        while len(self.positions) > JOURNAL_KEEP:
            del self.positions[next(iter(self.positions))]
        self.forget(self.end - JOURNAL_KEEP)

    def unseen(self, doc: am.Document, changes: Iterable[Change]) -> list[Change]:
        """The changes that are neither heads of `doc` (the copy this journal belongs to) nor recent."""
        heads = set(doc.get_heads())
        return [change for change in changes if change.hash not in heads and change.hash not in self.positions]

    def forget(self, before: int) -> None:
        """Let go of the changes before position `before` (their hashes stay known a while)."""
        while self.start < before and self.entries:
            self.entries.popleft()
            self.start += 1

    def since(self, position: int) -> list[Change] | None:
        """The changes merged after `position`; None if the journal no longer keeps them all."""
        if not self.start <= position <= self.end:
            return None
        if position == self.end:
            return []
        return list(itertools.islice(self.entries, position - self.start, None))


@dataclass(frozen=True)
class Whole:
    """A whole document as a peer loads it in one go: a saved document, maybe followed by changes."""

    heads: tuple[bytes, ...]  # sorted
    data: bytes


@dataclass
class Resident:
    """One document's copy in memory, and what it knows of the database. Read and changed under `lock`."""

    doc: am.Document
    last_change_id: int
    # Each actor's last stored seq, learned as changes are read or written (a cache of norm_changes).
    last_seq: dict[bytes, int] = field(default_factory=dict)
    change_count: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_used: float = field(default_factory=time.monotonic)
    journal: Journal = field(default_factory=Journal)
    saved: Whole | None = None  # the last save, for peers that join with nothing, until the heads move

    def record(self, changes: Sequence[Change], last_change_id: int) -> None:
        """Count in changes a write merged into `doc` and stored as rows up to `last_change_id`."""
        self.last_change_id = max(self.last_change_id, last_change_id)
        self.last_seq.update(last_seqs(changes))
        self.change_count += len(changes)
        self.journal.add(changes)


@dataclass(frozen=True)
class Stored:
    """Changes a write committed, for listeners: `origin` is what the writer passed to `apply` (e.g. a sync connection)."""

    document_id: bytes
    changes: list[Change]
    origin: object = None
    relayed: bool = False  # merged from what another instance stored (already published there)


@dataclass(frozen=True)
class ResidentInfo:
    """One document held in memory: its size estimate and how long it has been unused."""

    document_id: bytes
    change_count: int
    approx_bytes: int
    idle_seconds: float
    pinned: bool


class Listener(Protocol):
    """Hears of changes a copy took in, after they are stored, inside the document's lock: it must not block."""

    def __call__(self, stored: Stored, /) -> None: ...


# Memory one resident change costs in rc1, measured on a typing trace (see bench/RESULTS.md, "Live sync").
BYTES_PER_RESIDENT_CHANGE = 1200


def topological(changes: Sequence[Change]) -> list[Change]:
    """Changes ordered so each comes after those of the batch it depends on; InvalidChanges for a cycle."""
    try:
        return document.topological(changes)
    except document.InvalidChange as exc:
        raise InvalidChanges(str(exc)) from exc


class Residents:
    """Every document this instance holds in memory, keyed by document id."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], idle_seconds: float = 300) -> None:
        self._sessionmaker = sessionmaker
        self._idle_seconds = idle_seconds
        self._swept = 0.0  # when residents were last swept for idle ones (a sweep visits every one)
        self._resident: dict[bytes, Resident] = {}
        self._loading = asyncio.Lock()
        self._pins: dict[bytes, int] = {}
        self._listeners: list[Listener] = []

    def current(self, document_id: bytes) -> Resident | None:
        """The copy held now, if any (its lock not taken)."""
        return self._resident.get(document_id)

    def drop(self, document_id: bytes, copy: Resident) -> None:
        """Forget `copy` if it is still the document's (it may hold what is not stored); whoever holds its lock keeps it."""
        if self._resident.get(document_id) is copy:
            self._resident.pop(document_id, None)

    # --- Reading -------------------------------------------------------------------------

    @asynccontextmanager
    async def reading(
        self, document_id: bytes, *, catch_up: bool = True, session: AsyncSession | None = None
    ) -> AsyncIterator[am.Document]:
        """The stored document, caught up with the database; read it inside the block, never change it.

        The document's lock is held inside the block, so no write lands meanwhile: what is read there
        (heads, sync messages generated from it) is committed. The catch-up runs on `session` if
        given (a request's: one connection per request, not two) or on a session of its own.
        `catch_up=False` skips the database query, for callers that keep the copy current through
        `catch_up` and the listeners.
        """
        if not catch_up:
            resident = await self.locked(document_id)
        elif session is not None:
            resident = await self._caught_up(document_id, session)
        else:
            async with self._sessionmaker() as own:
                resident = await self._caught_up(document_id, own, commit=True)
        try:
            resident.last_used = time.monotonic()
            yield resident.doc
        finally:
            resident.lock.release()

    async def _caught_up(self, document_id: bytes, session: AsyncSession, commit: bool = False) -> Resident:
        """The resident copy, its lock held, caught up on `session` (committed if `commit`: loading may delete an unusable snapshot)."""
        await session.connection()  # before the document's lock (lock order, rule 1)
        resident = await self.locked(document_id, session)
        try:
            await self.catch_up_copy(session, document_id, resident)
            if commit:
                await session.commit()
        except BaseException:
            resident.lock.release()
            raise
        return resident

    async def catch_up(self, document_id: bytes) -> int:
        """Merge into the resident copy what other writers (other instances) stored; how many changes it gained.

        A document that is not resident is left alone: it loads fresh on first use.
        """
        resident = self._resident.get(document_id)
        if resident is None:
            return 0
        async with self._sessionmaker() as session:
            await session.connection()  # before the document's lock (lock order, rule 1)
            async with resident.lock:
                return await self.catch_up_copy(session, document_id, resident)

    async def whole(self, document_id: bytes) -> Whole:
        """The whole document as committed, for a peer that holds none of it.

        A resident copy's save, kept until its heads move. A document that is not resident is not
        loaded for it: the latest snapshot and the changes stored after it go out as they are in
        the database, so the first peer to open a long-idle norm has its text without waiting for a
        load (seconds for a long history; the server loads it when the peer answers).

        Raises NormNotFound, or InvalidChanges if rc1 cannot save the copy or the stored changes do
        not parse (the caller then syncs the peer change by change).
        """
        resident = self._resident.get(document_id)
        if resident is not None:
            async with resident.lock:
                if self._resident.get(document_id) is resident:  # not dropped while this waited
                    heads = tuple(sorted(resident.doc.get_heads()))
                    if resident.saved is None or resident.saved.heads != heads:
                        resident.saved = Whole(heads, save_document(resident.doc))
                    resident.last_used = time.monotonic()
                    return resident.saved
        async with self._sessionmaker() as session:
            if not await stored_document(session, document_id):
                raise NormNotFound()
            latest, rows = await _stored(session, document_id)
        after = b"".join(row.data for row in rows)
        try:
            changes = document.split_changes(after) if after else []
        except document.InvalidChange as exc:  # stored rows are checked as written: not expected
            raise InvalidChanges(f"The stored changes do not parse: {exc}") from exc
        tips = set(document.heads_from_hex(latest.heads)) if latest else set()
        tips |= {change.hash for change in changes}
        tips -= {dep for change in changes for dep in change.deps}
        return Whole(tuple(sorted(tips)), (latest.data if latest else b"") + after)

    # --- Residency -----------------------------------------------------------------------

    async def locked(self, document_id: bytes, session: AsyncSession | None = None) -> Resident:
        """The current resident copy with its lock held (a copy dropped while its lock was awaited is not used)."""
        while True:
            resident = await self._resident_for(document_id, session)
            await resident.lock.acquire()
            if self._resident.get(document_id) is resident:
                return resident
            resident.lock.release()

    async def _resident_for(self, document_id: bytes, session: AsyncSession | None = None) -> Resident:
        """The resident copy, loaded if need be on `session` (in its transaction) or on a session of its own.

        No lock of the store is held while waiting for a database connection (lock order, rule 1):
        under load the pool's connections can all be held by writers waiting for the norm's row lock,
        and the writer that has it may be waiting for the lock held. So a connection is taken before
        the loading lock (as before a document's lock), and a write loads on the connection it already has.
        """
        if time.monotonic() - self._swept >= min(1.0, self._idle_seconds):
            self._evict_idle()
        resident = self._resident.get(document_id)
        if resident is not None:
            return resident
        own: AsyncSession | None = None
        if session is None:
            own = loader = self._sessionmaker()
        else:
            loader = session
        try:
            await loader.connection()
            async with self._loading:
                resident = self._resident.get(document_id)
                if resident is None:
                    resident = await self._load(loader, document_id)
                    if own is not None:
                        await own.commit()  # what loading deleted (an unusable snapshot)
                        await own.close()  # before the copy is shared: the caller locks it with no wait between
                        own = None
                    self._resident[document_id] = resident
        finally:
            if own is not None:
                await own.close()
        return resident

    async def _load(self, session: AsyncSession, document_id: bytes) -> Resident:
        """Latest snapshot plus the changes stored after it.

        A snapshot is saved unchecked as a write crosses the threshold (a check is a full load:
        ~0.3 s at 5,000 changes, under the document's lock); it is checked here, as it is used:
        one that does not load, or loads without the heads it was saved at, is deleted (the
        changes stay the record) and the one before it is tried, down to the changes alone.
        """
        if not await stored_document(session, document_id):
            raise NormNotFound()
        older_than: int | None = None
        while True:
            latest, rows = await _stored(session, document_id, older_than)
            base, after, covered = (latest.data, latest.last_change_id, latest.change_count) if latest else (b"", 0, 0)
            try:
                doc = document.load(base + b"".join(row.data for row in rows))
                holds = latest is None or all(document.has_change(doc, head) for head in document.heads_from_hex(latest.heads))
                problem = None if holds else "it does not hold the heads it was saved at"
            except document.InvalidChange as exc:
                if latest is None:
                    raise  # the changes alone do not load: nothing older to fall back on
                problem = str(exc)
            if latest is not None and problem is not None:  # without a snapshot, a problem was raised above
                log.error("store.snapshot_unusable", document=document.document_url(document_id), snapshot=latest.id, reason=problem)
                await session.execute(delete(NormSnapshot).where(NormSnapshot.id == latest.id))  # committed by the caller
                older_than = latest.last_change_id
                continue
            # Counted from what was read, not from the norm row: writers compare it with the row's count.
            return Resident(doc=doc, last_change_id=rows[-1].id if rows else after, change_count=covered + len(rows))

    async def catch_up_copy(self, session: AsyncSession, document_id: bytes, resident: Resident) -> int:
        """Merge what other writers stored since this copy last looked; how many changes were new to it."""
        rows = (
            await session.execute(
                select(NormChange.id, NormChange.data)
                .where(NormChange.document_id == document_id, NormChange.id > resident.last_change_id)
                .order_by(NormChange.id)
            )
        ).all()
        if not rows:
            return 0
        # Rows after `last_change_id` are what this copy lacks (writers hold the norm's row lock), but
        # for those `merge_relayed` took in already from another instance's broadcast.
        changes = document.split_changes(b"".join(row.data for row in rows))
        new = resident.journal.unseen(resident.doc, changes)
        if new:
            new = document.merge_changes(resident.doc, new, fresh=True)  # stored after their dependencies
            resident.last_seq.update(last_seqs(new))
            resident.journal.add(new)
        resident.last_change_id = rows[-1].id
        resident.change_count += len(changes)
        if new:
            self.tell(Stored(document_id, new, relayed=True))
        return len(new)

    async def merge_relayed(self, document_id: bytes, data: bytes) -> bool:
        """Take in changes another instance committed and then broadcast, without asking the database.

        True once the resident copy holds them (or nothing is resident: it loads fresh on first use);
        False if it lacks something they depend on, or they do not merge: catch up from the
        database then. The database's row bookkeeping is left to the next catch-up, which skips them.
        """
        resident = self._resident.get(document_id)
        if resident is None:
            return True
        try:
            changes = document.split_changes(data)
        except document.InvalidChange:
            return False
        async with resident.lock:
            if self._resident.get(document_id) is not resident:
                return False
            fresh = resident.journal.unseen(resident.doc, changes)
            if not fresh:
                return True
            if not all_fresh(fresh, resident.doc, resident.journal.positions):
                return False  # something they build on is not here (or not recent): ask the database
            try:
                merged = document.merge_changes(resident.doc, topological(fresh), fresh=True)
            except document.InvalidChange:
                self._resident.pop(document_id, None)  # it may hold half of them: load it again
                return False
            resident.last_seq.update(last_seqs(merged))
            resident.journal.add(merged)
            resident.last_used = time.monotonic()
            if merged:
                self.tell(Stored(document_id, merged, relayed=True))
            return True

    def _evict_idle(self) -> None:
        self._swept = time.monotonic()
        cutoff = self._swept - self._idle_seconds
        for document_id, resident in list(self._resident.items()):
            if resident.last_used < cutoff and not resident.lock.locked() and document_id not in self._pins:
                del self._resident[document_id]
                log.info("document.evicted", document=document.document_url(document_id), changes=resident.change_count)

    def evict_idle(self) -> None:
        """Drop every resident document unused for the idle time and not pinned."""
        self._evict_idle()

    def evict(self, document_id: bytes) -> None:
        self._resident.pop(document_id, None)

    def pin(self, document_id: bytes) -> None:
        """Keep the document resident however long it is unused (a live peer is on it), until as many `unpin`s."""
        self._pins[document_id] = self._pins.get(document_id, 0) + 1

    def unpin(self, document_id: bytes) -> None:
        left = self._pins.get(document_id, 0) - 1
        if left > 0:
            self._pins[document_id] = left
            return
        self._pins.pop(document_id, None)
        resident = self._resident.get(document_id)
        if resident is not None:
            resident.last_used = time.monotonic()  # the idle time starts when the last peer leaves

    def journal(self, document_id: bytes) -> Journal | None:
        """The resident copy's journal (read it inside `reading`, under the document's lock)."""
        resident = self._resident.get(document_id)
        return resident.journal if resident is not None else None

    def is_resident(self, document_id: bytes) -> bool:
        return document_id in self._resident

    def change_count(self, document_id: bytes) -> int | None:
        """How many changes the resident copy holds (read it inside `reading`); None if it is not resident."""
        resident = self._resident.get(document_id)
        return resident.change_count if resident is not None else None

    @property
    def resident_count(self) -> int:
        return len(self._resident)

    def info(self) -> list[ResidentInfo]:
        """What memory holds, with an estimate of each document's size (rc1 cannot report it)."""
        now = time.monotonic()
        return [
            ResidentInfo(
                document_id=document_id,
                change_count=resident.change_count,
                approx_bytes=resident.change_count * BYTES_PER_RESIDENT_CHANGE + (len(resident.saved.data) if resident.saved else 0),
                idle_seconds=round(now - resident.last_used, 1),
                pinned=document_id in self._pins,
            )
            for document_id, resident in list(self._resident.items())
        ]

    # --- Listeners -----------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        """Call `listener` after each commit that stored changes (inside the document's lock: it must not block)."""
        self._listeners.append(listener)

    def tell(self, stored: Stored) -> None:
        for listener in self._listeners:
            try:
                listener(stored)
            except Exception:
                log.exception("store.listener_failed", document=document.document_url(stored.document_id))


async def stored_document(session: AsyncSession, document_id: bytes) -> bool:
    """Whether `document_id` is a norm's document or a translation's: the documents this store keeps."""
    if await session.scalar(select(Norm.id).where(Norm.document_id == document_id)) is not None:
        return True
    return await session.scalar(select(NormTranslation.id).where(NormTranslation.document_id == document_id)) is not None


async def _stored(
    session: AsyncSession, document_id: bytes, older_than: int | None = None
) -> tuple[Row[tuple[int, bytes, list[str], int, int]] | None, Sequence[Row[tuple[int, bytes]]]]:
    """The latest snapshot (before change `older_than` if given; None if there is none) and the changes stored after it."""
    query = (
        select(NormSnapshot.id, NormSnapshot.data, NormSnapshot.heads, NormSnapshot.last_change_id, NormSnapshot.change_count)
        .where(NormSnapshot.document_id == document_id)
        .order_by(NormSnapshot.last_change_id.desc())
        .limit(1)
    )
    if older_than is not None:
        query = query.where(NormSnapshot.last_change_id < older_than)
    latest = (await session.execute(query)).first()
    rows = (
        await session.execute(
            select(NormChange.id, NormChange.data)
            .where(NormChange.document_id == document_id, NormChange.id > (latest.last_change_id if latest else 0))
            .order_by(NormChange.id)
        )
    ).all()
    return latest, rows


def all_fresh(changes: Sequence[Change], doc: am.Document, recent: Container[bytes] = frozenset()) -> bool:
    """Whether every change builds on the (caught-up) document's heads, its `recent` changes or each other: then none is stored yet.

    A stored change's dependencies are never heads (the change supersedes them). `recent` are the
    hashes of the last changes merged into this copy (its journal's): a stored change was merged
    after its dependencies, so it is among them whenever one of its dependencies is. A batch that
    holds none of those and whose roots all depend on them holds only new changes, and no
    dependency is missing; the database need not be asked.
    """
    heads = set(doc.get_heads())
    batch = {change.hash for change in changes}
    if not changes or any(h in heads or h in recent for h in batch):
        return False
    return all(change.deps and all(d in heads or d in recent or d in batch for d in change.deps) for change in changes)


def save_document(doc: am.Document) -> bytes:
    """`document.save`, rc1's failure as InvalidChanges."""
    try:
        return document.save(doc)
    except document.InvalidChange as exc:
        raise InvalidChanges(f"The changes leave a document that cannot be saved: {exc}") from exc


def last_seqs(changes: Iterable[Change]) -> dict[bytes, int]:
    """Each actor's highest seq among `changes`."""
    last: dict[bytes, int] = {}
    for change in changes:
        last[change.actor] = max(change.seq, last.get(change.actor, 0))
    return last
