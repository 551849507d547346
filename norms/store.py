"""The norm document store: the only writer of stored Automerge documents.

Every write — a norm's creation, a REST edit, an uploaded change or document, a live sync
message — passes the same checks here before anything is stored: at most `max_ops` operations,
no character the text policy refuses (services/kit/validation.py) among the strings its changes
insert, and a document left with a `title` string and a `body` Text.

Every change is validated, attributed and committed to `norm_changes` before `apply` returns,
so nothing is acknowledged, shown or relayed that is not durable. A loaded document stays
resident in memory, caught up from the database before each use (another instance may have
written since), and is dropped after `document_idle_seconds` unused, or whenever a write
fails half-way, so memory never holds what the database does not.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Container, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import automerge.core as am
import structlog
from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from norms import document
from norms.document import Change
from norms.errors import (
    AttributionRefused,
    DocumentShapeRefused,
    InvalidChanges,
    InvalidHeads,
    InvalidSplice,
    NormNotFound,
    NormTooLarge,
    TextRefused,
    UnknownDependencies,
)
from norms.models import ActorBinding, Norm, NormChange, NormSnapshot, NormStatus
from services.kit import metrics
from services.kit.db import transaction
from services.kit.validation import refused_character

log = structlog.get_logger()


@dataclass(frozen=True)
class Limits:
    snapshot_every: int = 1000
    max_chars: int = 1_000_000
    max_ops: int = 100_000
    max_bytes: int = 5 * 1024 * 1024
    group_commit_max: int = 256  # writes sharing one commit at most


JOURNAL_KEEP = 1024

_NORMS = Norm.__table__
_CHANGES = NormChange.__table__
# A write's statements, built once: building one and computing its cache key costs more than SQLite takes to run it.
_NORM_COLUMNS = (_NORMS.c.id, _NORMS.c.network_id, _NORMS.c.status, _NORMS.c.change_count, _NORMS.c.title)
_THIS_NORM = _NORMS.c.document_id == bindparam("document")
# SQLite: an UPDATE that changes nothing takes the database's write lock and reads the row in one statement.
_LOCK_NORM_SQLITE = update(_NORMS).where(_THIS_NORM).values(change_count=_NORMS.c.change_count).returning(*_NORM_COLUMNS)
_LOCK_NORM = select(*_NORM_COLUMNS).where(_THIS_NORM).with_for_update()
_INSERT_CHANGES = insert(_CHANGES).returning(_CHANGES.c.id)
_INSERT_BINDINGS = insert(ActorBinding.__table__)
_SET_COUNT = update(_NORMS).where(_THIS_NORM).values(change_count=bindparam("count"))
_SET_COUNT_AND_TITLE = update(_NORMS).where(_THIS_NORM).values(change_count=bindparam("count"), title=bindparam("new_title"))


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
class _Resident:
    doc: am.Document
    last_change_id: int
    # Each actor's last stored seq, learned as changes are read or written (a cache of norm_changes).
    last_seq: dict[bytes, int] = field(default_factory=dict)
    change_count: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_used: float = field(default_factory=time.monotonic)
    journal: Journal = field(default_factory=Journal)
    saved: Whole | None = None  # the last save, for peers that join with nothing, until the heads move


@dataclass(eq=False)
class _Job:
    """A write waiting for its turn in a group commit; `future` gets its Applied, or what it raised."""

    document_id: bytes
    participant_id: uuid.UUID
    prepare: Callable
    merge: Callable | None
    authorize: Callable | None
    origin: object
    future: asyncio.Future


@dataclass
class _Round:
    """The documents one group commit works on: their copies, the locks it holds, the copies it changed."""

    held: dict[bytes, _Resident] = field(default_factory=dict)
    locked: list[_Resident] = field(default_factory=list)
    touched: set[bytes] = field(default_factory=set)


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


# Memory one resident change costs in rc1, measured on a typing trace (see bench/RESULTS.md, "Live sync").
BYTES_PER_RESIDENT_CHANGE = 1200


@dataclass(frozen=True)
class Applied:
    """What a write stored: the new changes (already-known ones are skipped) and the heads after it."""

    changes: list[Change]
    heads: list[str]


def new_actor() -> bytes:
    return os.urandom(16)


def topological(changes: Sequence[Change]) -> list[Change]:
    """Changes ordered so each comes after those of the batch it depends on; InvalidChanges for a cycle."""
    try:
        return document.topological(changes)
    except document.InvalidChange as exc:
        raise InvalidChanges(str(exc)) from exc


def parse_heads(values: Iterable[str]) -> list[bytes]:
    try:
        heads = [bytes.fromhex(value) for value in values]
    except ValueError as exc:
        raise InvalidHeads() from exc
    if not heads or any(len(head) != 32 for head in heads):
        raise InvalidHeads()
    return heads


class NormStore:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], limits: Limits, idle_seconds: float = 300, group_commit: bool | None = None
    ) -> None:
        """`group_commit`: writes share commits through one queue; by default only on SQLite, which has one
        writer at a time anyway. PostgreSQL runs writes side by side on their own connections and groups
        their commits itself (commit_delay), which a single queue here would only slow down."""
        self._sessionmaker = sessionmaker
        if group_commit is None:
            bind = sessionmaker.kw.get("bind")
            group_commit = bind is not None and bind.dialect.name == "sqlite"
        self._group_commit = group_commit
        self._writers: set[asyncio.Task] = set()
        self.limits = limits
        self._idle_seconds = idle_seconds
        self._swept = 0.0  # when residents were last swept for idle ones (a sweep visits every one)
        self._resident: dict[bytes, _Resident] = {}
        # Bindings never change once committed, so every instance may remember them.
        self._bindings: dict[bytes, uuid.UUID] = {}
        self._loading = asyncio.Lock()
        self._pins: dict[bytes, int] = {}
        self._listeners: list[Callable[[Stored], None]] = []
        self._queue: list[_Job] = []
        self._committer: asyncio.Task | None = None

    # --- Creating ------------------------------------------------------------------------

    async def create(self, session: AsyncSession, norm: Norm, participant_id: uuid.UUID, title: str, text: str) -> list[str]:
        """Write the first change of `norm`'s document in the caller's transaction (the norm row is flushed); its heads."""
        # Counted before anything is built: a title, a body and one insert per character.
        _check_ops(len(text) + 2, self.limits)
        if len(text) > self.limits.max_chars:
            raise NormTooLarge(f"The text has {len(text)} characters; a norm holds at most {self.limits.max_chars}")
        actor = new_actor()
        doc, made = document.create(title, text, actor)
        changes = document.split_changes(b"".join(made))
        _admit(changes, self.limits)
        await self._bind(session, participant_id, {actor})
        session.add_all(self._rows(norm.document_id, participant_id, changes, [document.ChangeStats(len(text), 0)]))
        norm.change_count = len(changes)
        await session.flush()
        return document.heads_hex(doc)

    # --- Reading -------------------------------------------------------------------------

    @asynccontextmanager
    async def reading(self, document_id: bytes, *, catch_up: bool = True, session: AsyncSession | None = None) -> AsyncIterator[am.Document]:
        """The stored document, caught up with the database; read it inside the block, never change it.

        The document's lock is held inside the block, so no write lands meanwhile: what is read there
        (heads, sync messages generated from it) is committed. The catch-up runs on `session` if
        given (a request's: one connection per request, not two) or on a session of its own.
        `catch_up=False` skips the database query, for callers that keep the copy current through
        `catch_up` and the listeners.
        """
        if not catch_up:
            resident = await self._locked_resident(document_id)
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

    async def _caught_up(self, document_id: bytes, session: AsyncSession, commit: bool = False) -> _Resident:
        """The resident copy, its lock held, caught up on `session` (committed if `commit`: loading may delete an unusable snapshot)."""
        await session.connection()  # before the document's lock (see _resident_for)
        resident = await self._locked_resident(document_id, session)
        try:
            await self._catch_up(session, document_id, resident)
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
            await session.connection()  # before the document's lock (see _resident_for)
            async with resident.lock:
                return await self._catch_up(session, document_id, resident)

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
                        resident.saved = Whole(heads, _save(resident.doc))
                    resident.last_used = time.monotonic()
                    return resident.saved
        async with self._sessionmaker() as session:
            if await session.scalar(select(Norm.id).where(Norm.document_id == document_id)) is None:
                raise NormNotFound()
            latest, rows = await _stored(session, document_id)
        after = b"".join(row.data for row in rows)
        try:
            changes = document.split_changes(after) if after else []
        except document.InvalidChange as exc:  # stored rows are checked as written: not expected
            raise InvalidChanges(f"The stored changes do not parse: {exc}") from exc
        heads = set(document.heads_from_hex(latest.heads)) if latest else set()
        heads |= {change.hash for change in changes}
        heads -= {dep for change in changes for dep in change.deps}
        return Whole(tuple(sorted(heads)), (latest.data if latest else b"") + after)

    # --- Writing -------------------------------------------------------------------------

    async def apply(self, document_id: bytes, participant_id: uuid.UUID, data: bytes, authorize=None, origin: object = None) -> Applied:
        """Validate changes (or a saved document) from `participant_id`'s Automerge peer and store the new ones.

        Commits before returning. Raises, storing nothing: InvalidChanges, UnknownDependencies,
        AttributionRefused (an actor bound to someone else), NormTooLarge, or what `authorize` raises.
        Listeners hear of the stored changes, with `origin`, after the commit.
        """
        if len(data) > self.limits.max_bytes:
            raise NormTooLarge(f"A submission holds at most {self.limits.max_bytes} bytes")
        try:
            # Counted from the compressed columns, before rc1 expands anything.
            incoming = document.split_changes(data, max_ops=self.limits.max_ops)
        except document.TooManyOps as exc:
            raise NormTooLarge(_too_many_ops(self.limits)) from exc
        except document.InvalidChange as exc:
            raise InvalidChanges(f"Not valid Automerge changes: {exc}") from exc
        _check_ops(sum(change.ops for change in incoming), self.limits)

        async def prepare(session: AsyncSession, doc: am.Document) -> list[Change]:
            resident = self._resident.get(document_id)
            recent = resident.journal.positions if resident is not None and resident.doc is doc else frozenset()
            if _all_fresh(incoming, doc, recent):
                return topological(incoming)
            # The database, not rc1, answers "is this hash known": rc1 scans the whole history for an unknown one.
            wanted = {change.hash for change in incoming} | {dep for change in incoming for dep in change.deps}
            rows = await session.execute(select(NormChange.hash).where(NormChange.document_id == document_id, NormChange.hash.in_(wanted)))
            known = set(rows.scalars())
            fresh = [change for change in incoming if change.hash not in known]
            batch = {change.hash for change in fresh}
            missing = sorted({dep for change in fresh for dep in change.deps} - known - batch)
            if missing:
                raise UnknownDependencies(
                    f"Unknown dependencies: {', '.join(h.hex() for h in missing)}; send those changes first",
                    missing=[h.hex() for h in missing],
                )
            return topological(fresh)

        def merge(doc: am.Document, fresh: list[Change]) -> None:
            try:
                document.merge_changes(doc, fresh, fresh=True)  # `prepare` checked them against the database
            except document.MissingDependencies as exc:
                missing = [h.hex() for h in exc.hashes]
                raise UnknownDependencies(f"Unknown dependencies: {', '.join(missing)}", missing=missing) from exc
            except document.InvalidChange as exc:
                raise InvalidChanges(f"The document refused the changes: {exc}") from exc

        try:
            return await self._write(document_id, participant_id, prepare, merge, authorize, origin)
        except (AttributionRefused, InvalidChanges) as exc:  # forged authorship, equivocation, broken bytes
            log.warning("store.changes_refused", document=document.document_url(document_id), participant=str(participant_id), reason=exc.detail)
            raise

    async def edit(
        self,
        document_id: bytes,
        participant_id: uuid.UUID,
        splices: Sequence[tuple[int, int, str]],
        title: str | None = None,
        base_heads: Sequence[str] | None = None,
        authorize=None,
    ) -> Applied:
        """Edit as `participant_id` through a new actor bound to them; with `base_heads`, edit that version and merge."""
        # Counted before anything is built: one operation per character deleted or inserted, one for a title.
        _check_ops(sum(delete + len(insert) for _index, delete, insert in splices) + (title is not None), self.limits)
        heads = parse_heads(base_heads) if base_heads is not None else None
        actor = new_actor()

        async def make(_session: AsyncSession, doc: am.Document) -> list[Change]:
            if heads is not None and not all(document.has_change(doc, head) for head in heads):
                raise InvalidHeads("base_heads names changes this norm does not have")
            try:
                made = document.apply_splices(doc, actor, splices, title=title, base_heads=heads)
            except document.SpliceOutOfRange as exc:
                raise InvalidSplice(str(exc)) from exc
            except document.NotANormDocument as exc:  # stored before shapes were checked
                raise DocumentShapeRefused(f"This norm's document cannot be edited: {exc}") from exc
            return document.split_changes(b"".join(made)) if made else []

        return await self._write(document_id, participant_id, make, None, authorize)

    async def _write(self, document_id: bytes, participant_id: uuid.UUID, prepare, merge, authorize, origin: object = None) -> Applied:
        """One write, queued for the next group commit; returns once its changes are committed.

        `prepare(session, doc)` returns the changes to store (it may change `doc`, as an edit does);
        `merge(doc, changes)`, if given, applies them after attribution is checked.
        """
        job = _Job(document_id, participant_id, prepare, merge, authorize, origin, asyncio.get_running_loop().create_future())
        if not self._group_commit:
            writer = asyncio.create_task(self._commit_jobs([job]))
            self._writers.add(writer)
            writer.add_done_callback(self._writers.discard)
        else:
            self._queue.append(job)
            if self._committer is None or self._committer.done() or self._committer.get_loop() is not job.future.get_loop():
                self._committer = asyncio.create_task(self._commit_queued())
        # The write goes on if this caller is cancelled: once committed, listeners must hear of it.
        return await asyncio.shield(job.future)

    async def _commit_queued(self) -> None:
        """Run what is queued, one transaction and one commit per round; writes queued meanwhile form the next."""
        try:
            while self._queue:
                # One order of documents for every round on every instance, so row locks never deadlock.
                jobs = sorted(self._queue[: self.limits.group_commit_max], key=lambda job: job.document_id)
                del self._queue[: len(jobs)]
                await self._commit_jobs(jobs)
        except asyncio.CancelledError:  # shutting down: writes not begun are not stored, and say so
            for job in self._queue:
                job.future.cancel()
            self._queue.clear()
            raise

    async def _commit_jobs(self, jobs: list[_Job]) -> None:
        try:
            await self._commit_round(jobs)
        except BaseException as exc:  # each caller hears of the failure; the queue goes on
            for job in jobs:
                if not job.future.done():
                    job.future.set_exception(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise

    async def _commit_round(self, jobs: list[_Job]) -> None:
        """Each job in turn in one transaction, then one commit.

        A job checks everything before it writes, so a refused one leaves nothing to undo and the
        round goes on; a failure of the database while writing fails the whole round.

        Each document's lock is held from its first job until after the commit, so no reader sees
        what is not stored; if the commit fails every job of the round fails, and the documents it
        touched are dropped from memory to reload from the database.
        """
        round_ = _Round()
        results: list[tuple[_Job, _Resident, Applied]] = []
        try:
            async with self._sessionmaker() as session:
                try:
                    for job in jobs:
                        try:
                            resident, applied = await self._write_job(session, job, round_)
                        except _RoundFailed as failed:
                            raise failed.__cause__ from None
                        except BaseException as exc:  # rc1's panics too: they fail only their own write
                            if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt | SystemExit | SQLAlchemyError | OSError):
                                raise  # the transaction itself may be broken: the whole round fails
                            # Refused before writing anything, so the round goes on without it.
                            job.future.set_exception(exc)
                            continue
                        results.append((job, resident, applied))
                    if any(applied.changes for _job, _resident, applied in results):
                        await session.commit()
                    else:
                        await session.rollback()
                except BaseException:
                    await session.rollback()
                    for document_id in round_.touched:
                        self._drop(document_id, round_)
                    raise
                # Committed: answer before the session hands its connection back (on SQLite, one more trip to aiosqlite's thread).
                for job, resident, applied in results:
                    if applied.changes:
                        # Every actor of these changes is now bound to this participant.
                        self._bindings.update(dict.fromkeys((change.actor for change in applied.changes), job.participant_id))
                        resident.last_used = time.monotonic()
                        metrics.changes_applied(len(applied.changes))
                        self._tell(Stored(job.document_id, applied.changes, job.origin))
                    if not job.future.done():
                        job.future.set_result(applied)
        finally:
            for resident in round_.locked:
                resident.lock.release()

    def _drop(self, document_id: bytes, round_: _Round) -> None:
        """Forget the resident copy (it may hold what is not stored); its lock stays held until the round ends."""
        if self._resident.get(document_id) is round_.held.get(document_id):
            self._resident.pop(document_id, None)

    async def _write_job(self, session: AsyncSession, job: _Job, round_: _Round) -> tuple[_Resident, Applied]:
        """One write inside the round's transaction: lock the norm, catch up if needed, prepare, check, merge, store."""
        document_id = job.document_id
        # The norm's lock (SQLite's write lock) before the document's lock, as requests that
        # write take them: one order for every writer, so no two ever wait on each other.
        norm = await _lock_norm(session, document_id)
        if norm is None:
            raise NormNotFound()
        resident = round_.held.get(document_id)
        if resident is None or self._resident.get(document_id) is not resident:
            # First job of the round on this document, or an earlier one dropped its copy.
            resident = round_.held[document_id] = await self._locked_resident(document_id, session)
            round_.locked.append(resident)
        if job.authorize is not None:
            await job.authorize(session, norm)
        if norm.change_count != resident.change_count:
            # Another writer stored since this copy last looked (the count only grows, under the norm's lock).
            await self._catch_up(session, document_id, resident)
            resident.change_count = norm.change_count
        mutated = job.merge is None  # an edit changes the copy as it prepares
        try:
            changes = await job.prepare(session, resident.doc)
            if not changes:
                return resident, Applied([], document.heads_hex(resident.doc))
            _admit(changes, self.limits)
            await self._check_seqs(session, document_id, resident, changes)
            unbound = await self._unbound(session, job.participant_id, {change.actor for change in changes})
            if job.merge is not None:
                mutated = True
                job.merge(resident.doc, changes)
            _check_shape(resident.doc)
            body_length = document.text_length(resident.doc)
            if body_length > self.limits.max_chars:
                raise NormTooLarge(f"The norm would hold {body_length} characters; at most {self.limits.max_chars}")
            body = document.body_id(resident.doc)
            rows = _row_values(document_id, job.participant_id, changes, [document.count_text_ops(c, body) for c in changes])
            crossed = (norm.change_count + len(rows)) // self.limits.snapshot_every > norm.change_count // self.limits.snapshot_every
            snapshot = _save(resident.doc) if crossed else None
        except BaseException:
            if mutated:
                # The resident copy may hold what was not stored: reload it next time.
                self._drop(document_id, round_)
            raise
        finally:
            if mutated:
                round_.touched.add(document_id)
        # Checked: from here on a failure is the database's, and fails the whole round.
        # Core statements, not the ORM's unit of work: a write is a few known rows, and on SQLite
        # every statement is a round trip to aiosqlite's thread.
        try:
            if unbound:
                await session.execute(_INSERT_BINDINGS, [{"actor": actor, "participant_id": job.participant_id} for actor in unbound])
            ids = (await session.scalars(_INSERT_CHANGES, rows)).all()
            change_count = norm.change_count + len(rows)
            title = document.read_title(resident.doc)[:300]
            if title == norm.title:
                await session.execute(_SET_COUNT, {"document": document_id, "count": change_count})
            else:
                await session.execute(_SET_COUNT_AND_TITLE, {"document": document_id, "count": change_count, "new_title": title})
            if snapshot is not None:
                await session.execute(
                    insert(NormSnapshot.__table__).values(
                        document_id=document_id,
                        heads=document.heads_hex(resident.doc),
                        data=snapshot,
                        change_count=change_count,
                        last_change_id=max(ids),
                    )
                )
        except BaseException as exc:
            raise _RoundFailed() from exc
        # Bookkeeping for later jobs of this round; if the commit fails the copy is dropped with it.
        resident.last_change_id = max(resident.last_change_id, *ids)
        resident.last_seq.update(_last_seqs(changes))
        resident.change_count += len(changes)
        resident.journal.add(changes)
        return resident, Applied(changes, document.heads_hex(resident.doc))

    async def _locked_resident(self, document_id: bytes, session: AsyncSession | None = None) -> _Resident:
        """The current resident copy with its lock held (a copy dropped while its lock was awaited is not used)."""
        while True:
            resident = await self._resident_for(document_id, session)
            await resident.lock.acquire()
            if self._resident.get(document_id) is resident:
                return resident
            resident.lock.release()

    # --- Attribution ---------------------------------------------------------------------

    async def _bind(self, session: AsyncSession, participant_id: uuid.UUID, actors: set[bytes]) -> None:
        """Bind unseen actors to the participant; refuse if any is bound to someone else."""
        new = await self._unbound(session, participant_id, actors)
        if new:
            session.add_all(ActorBinding(actor=actor, participant_id=participant_id) for actor in new)
            await session.flush()

    async def _unbound(self, session: AsyncSession, participant_id: uuid.UUID, actors: set[bytes]) -> set[bytes]:
        """The actors bound to no one yet; `AttributionRefused` if any is bound to someone else."""
        owners = {actor: self._bindings[actor] for actor in actors if actor in self._bindings}
        unknown = actors - owners.keys()
        if unknown:
            rows = await session.execute(select(ActorBinding.actor, ActorBinding.participant_id).where(ActorBinding.actor.in_(unknown)))
            # Not cached here: inside a group commit the row may be an earlier write's, not yet committed.
            owners.update({actor: owner for actor, owner in rows})
        foreign = [actor.hex() for actor, owner in owners.items() if owner != participant_id]
        if foreign:
            raise AttributionRefused(
                f"Automerge actor {foreign[0]} belongs to another participant; a change cannot be submitted in someone else's name"
            )
        return actors - owners.keys()

    async def _check_seqs(self, session: AsyncSession, document_id: bytes, resident: _Resident, changes: Sequence[Change]) -> None:
        """Each actor's changes must continue its sequence: rc1 would accept a forged seq it cannot reload."""
        unknown = {change.actor for change in changes} - resident.last_seq.keys()
        if unknown:
            rows = await session.execute(
                select(NormChange.actor, func.max(NormChange.seq))
                .where(NormChange.document_id == document_id, NormChange.actor.in_(unknown))
                .group_by(NormChange.actor)
            )
            resident.last_seq.update({actor: seq for actor, seq in rows})
        last = dict(resident.last_seq)
        for change in sorted(changes, key=lambda c: (c.actor, c.seq)):
            expected = last.get(change.actor, 0) + 1
            if change.seq != expected:
                raise InvalidChanges(f"Change {change.hash_hex} has sequence number {change.seq}; its actor's next is {expected}")
            last[change.actor] = change.seq

    @staticmethod
    def _rows(document_id: bytes, participant_id: uuid.UUID, changes: Sequence[Change], stats) -> list[NormChange]:
        return [NormChange(**values) for values in _row_values(document_id, participant_id, changes, stats)]

    # --- Residency -----------------------------------------------------------------------

    async def _resident_for(self, document_id: bytes, session: AsyncSession | None = None) -> _Resident:
        """The resident copy, loaded if need be on `session` (in its transaction) or on a session of its own.

        No lock of the store is held while waiting for a database connection: under load the pool's
        connections can all be held by writers waiting for the norm's row lock, and the writer that
        has it may be waiting for the lock held. So a connection is taken before the loading lock
        (as before a document's lock), and a write loads on the connection it already has.
        """
        if time.monotonic() - self._swept >= min(1.0, self._idle_seconds):
            self._evict_idle()
        resident = self._resident.get(document_id)
        if resident is not None:
            return resident
        own = self._sessionmaker() if session is None else None
        try:
            await (own or session).connection()
            async with self._loading:
                resident = self._resident.get(document_id)
                if resident is None:
                    resident = await self._load(own or session, document_id)
                    if own is not None:
                        await own.commit()  # what loading deleted (an unusable snapshot)
                        await own.close()  # before the copy is shared: the caller locks it with no wait between
                        own = None
                    self._resident[document_id] = resident
        finally:
            if own is not None:
                await own.close()
        return resident

    async def _load(self, session: AsyncSession, document_id: bytes) -> _Resident:
        """Latest snapshot plus the changes stored after it.

        A snapshot is saved unchecked as a write crosses the threshold (a check is a full load:
        ~0.3 s at 5,000 changes, under the document's lock); it is checked here, as it is used:
        one that does not load, or loads without the heads it was saved at, is deleted (the
        changes stay the record) and the one before it is tried, down to the changes alone.
        """
        if await session.scalar(select(Norm.id).where(Norm.document_id == document_id)) is None:
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
            if problem is not None:
                log.error("store.snapshot_unusable", document=document.document_url(document_id), snapshot=latest.id, reason=problem)
                await session.execute(delete(NormSnapshot).where(NormSnapshot.id == latest.id))  # committed by the caller
                older_than = latest.last_change_id
                continue
            # Counted from what was read, not from the norm row: writers compare it with the row's count.
            return _Resident(doc=doc, last_change_id=rows[-1].id if rows else after, change_count=covered + len(rows))

    async def _catch_up(self, session: AsyncSession, document_id: bytes, resident: _Resident) -> int:
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
            resident.last_seq.update(_last_seqs(new))
            resident.journal.add(new)
        resident.last_change_id = rows[-1].id
        resident.change_count += len(changes)
        if new:
            self._tell(Stored(document_id, new, relayed=True))
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
            if not _all_fresh(fresh, resident.doc, resident.journal.positions):
                return False  # something they build on is not here (or not recent): ask the database
            try:
                merged = document.merge_changes(resident.doc, topological(fresh), fresh=True)
            except document.InvalidChange:
                self._resident.pop(document_id, None)  # it may hold half of them: load it again
                return False
            resident.last_seq.update(_last_seqs(merged))
            resident.journal.add(merged)
            resident.last_used = time.monotonic()
            if merged:
                self._tell(Stored(document_id, merged, relayed=True))
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

    @property
    def resident_count(self) -> int:
        return len(self._resident)

    def residents(self) -> list[ResidentInfo]:
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

    def add_listener(self, listener: Callable[[Stored], None]) -> None:
        """Call `listener` after each commit that stored changes (inside the document's lock: it must not block)."""
        self._listeners.append(listener)

    def _tell(self, stored: Stored) -> None:
        for listener in self._listeners:
            try:
                listener(stored)
            except Exception:
                log.exception("store.listener_failed", document=document.document_url(stored.document_id))


@dataclass(frozen=True, slots=True)
class LockedNorm:
    """The norm's row as a write's first statement locked and read it: what `authorize` may check."""

    id: uuid.UUID
    network_id: uuid.UUID
    status: NormStatus
    change_count: int
    title: str


async def _stored(session: AsyncSession, document_id: bytes, older_than: int | None = None):
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


async def _lock_norm(session: AsyncSession, document_id: bytes) -> LockedNorm | None:
    """The norm, its row locked for the transaction by this first statement (SQLite: the database's write lock)."""
    locking = _LOCK_NORM_SQLITE if session.bind.dialect.name == "sqlite" else _LOCK_NORM
    # Core, not the ORM: always the row as it is now, whatever an earlier write of the round changed.
    row = (await session.execute(locking, {"document": document_id})).first()
    return None if row is None else LockedNorm(*row)


def _all_fresh(changes: Sequence[Change], doc: am.Document, recent: Container[bytes] = frozenset()) -> bool:
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


def _row_values(document_id: bytes, participant_id: uuid.UUID, changes: Sequence[Change], stats) -> list[dict]:
    """`norm_changes` rows for these changes, as values for an insert."""
    return [
        {
            "document_id": document_id,
            "hash": change.hash,
            "actor": change.actor,
            "participant_id": participant_id,
            "seq": change.seq,
            "data": change.data,
            "inserted": stat.inserted,
            "deleted": stat.deleted,
        }
        for change, stat in zip(changes, stats, strict=True)
    ]


def _too_many_ops(limits: Limits) -> str:
    return f"A submission holds at most {limits.max_ops} operations (one per character inserted or deleted)"


def _check_ops(ops: int, limits: Limits) -> None:
    """The one operation limit, for every way changes are written (creation, edits, uploads, sync)."""
    if ops > limits.max_ops:
        raise NormTooLarge(_too_many_ops(limits) + f"; this one holds {ops}")


def _admit(changes: Sequence[Change], limits: Limits) -> None:
    """What the changes of any write must be, before rc1 takes them in: within the operation limit,
    and inserting no character the text policy refuses (TextRefused naming the change and the character)."""
    _check_ops(sum(change.ops for change in changes), limits)
    for change in changes:
        try:
            found = refused_character(document.string_values(change))
        except document.InvalidChange as exc:
            raise InvalidChanges(f"Not valid Automerge changes: {exc}") from exc
        if found is not None:
            raise TextRefused(
                f"Change {change.hash_hex[:16]} inserts {found.character}: control characters other than tab and line breaks "
                "are refused, and so are surrogates, U+FFFE and U+FFFF",
                change=change.hash_hex,
                character=f"U+{found.codepoint:04X}",
            )


def _check_shape(doc: am.Document) -> None:
    """The document a write leaves must still be a norm's: a `title` string and a `body` Text (DocumentShapeRefused)."""
    try:
        document.check_shape(doc)
    except document.NotANormDocument as exc:
        raise DocumentShapeRefused(f"These changes leave no norm: {exc}") from exc


def _save(doc: am.Document) -> bytes:
    try:
        return document.save(doc)
    except document.InvalidChange as exc:
        raise InvalidChanges(f"The changes leave a document that cannot be saved: {exc}") from exc


class _RoundFailed(Exception):
    """A write of a group commit failed in the database: the whole round fails (its cause is chained)."""


def _last_seqs(changes: Iterable[Change]) -> dict[bytes, int]:
    last: dict[bytes, int] = {}
    for change in changes:
        last[change.actor] = max(change.seq, last.get(change.actor, 0))
    return last
