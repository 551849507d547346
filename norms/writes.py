"""The norm store's write pipeline: every write of a norm's changes, checked, attributed and committed.

Every write — a norm's creation, a REST edit, an uploaded change or document, a live sync
message — passes the same checks here before anything is stored: at most `max_ops` operations,
no character the text policy refuses (services/kit/validation.py) among the strings its changes
insert, each actor's sequence continued, no actor bound to someone else, and a document left with
a `title` string and a `body` Text. Every change is validated, attributed and committed to
`norm_changes` before the write returns, so nothing is acknowledged, shown or relayed that is not
durable. On SQLite writes queue for group commits (one transaction, one commit per round).
Lock order: see norms/store.py (rules 1-5).

What this half promises the resident half (norms/residents.py):
- A copy is changed only under its lock, taken after the norm's row lock, and the lock is held
  until the transaction has committed or rolled back: no reader sees what is not stored.
- Stored changes are `record`ed in the copy before its lock goes, and listeners are told (`tell`)
  only after the commit; a copy changed and not stored is `drop`ped.
- Of a copy it changes only `doc` (the write's changes), `last_seq` (filled from the database, a
  cache of `norm_changes`), `change_count` (set to the norm row's after a catch-up), `last_used`,
  and what `record` keeps.

What the resident half promises this one:
- `locked` answers the current copy with its lock held (loaded on the write's own session),
  `catch_up_copy` brings it up to what the database holds, and `drop` forgets it; a copy once
  dropped is never answered again (a later job of a round on its document takes the current one).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol, cast

import automerge.core as am
import structlog
from sqlalchemy import Table, bindparam, func, insert, select, update
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
from norms.models import ActorBinding, Norm, NormChange, NormSnapshot, NormStatus, NormTranslation
from norms.residents import Resident, Residents, Stored, all_fresh, save_document, topological
from services.kit import metrics
from services.kit.validation import refused_character

log = structlog.get_logger()


@dataclass(frozen=True)
class Limits:
    snapshot_every: int = 1000
    max_chars: int = 1_000_000
    max_ops: int = 100_000
    max_bytes: int = 5 * 1024 * 1024
    group_commit_max: int = 256  # writes sharing one commit at most


# Declarative classes with a __tablename__ map a Table; SQLAlchemy types __table__ as any FromClause.
_NORMS = cast(Table, Norm.__table__)
_CHANGES = cast(Table, NormChange.__table__)
# A write's statements, built once: building one and computing its cache key costs more than SQLite takes to run it.
_NORM_COLUMNS = (_NORMS.c.id, _NORMS.c.network_id, _NORMS.c.status, _NORMS.c.change_count, _NORMS.c.title)
_THIS_NORM = _NORMS.c.document_id == bindparam("document")
# SQLite: an UPDATE that changes nothing takes the database's write lock and reads the row in one statement.
_LOCK_NORM_SQLITE = update(_NORMS).where(_THIS_NORM).values(change_count=_NORMS.c.change_count).returning(*_NORM_COLUMNS)
_LOCK_NORM = select(*_NORM_COLUMNS).where(_THIS_NORM).with_for_update()
_INSERT_CHANGES = insert(_CHANGES).returning(_CHANGES.c.id)
_INSERT_BINDINGS = insert(cast(Table, ActorBinding.__table__))
_SET_COUNT = update(_NORMS).where(_THIS_NORM).values(change_count=bindparam("count"))
_SET_COUNT_AND_TITLE = update(_NORMS).where(_THIS_NORM).values(change_count=bindparam("count"), title=bindparam("new_title"))
# A translation's document is written as a norm's is; its row in `norm_translations` keeps its count and title.
_TRANSLATIONS = cast(Table, NormTranslation.__table__)
_THIS_TRANSLATION = _TRANSLATIONS.c.document_id == bindparam("document")
_TRANSLATION_COLUMNS = (_TRANSLATIONS.c.id, _NORMS.c.network_id, _NORMS.c.status, _TRANSLATIONS.c.change_count, _TRANSLATIONS.c.title)
_LOCK_TRANSLATION_SQLITE = (
    update(_TRANSLATIONS)
    .where(_THIS_TRANSLATION)
    .values(change_count=_TRANSLATIONS.c.change_count)
    .returning(_TRANSLATIONS.c.id, _TRANSLATIONS.c.norm_id, _TRANSLATIONS.c.change_count, _TRANSLATIONS.c.title)
)
_NORM_OF_TRANSLATION = select(_NORMS.c.network_id, _NORMS.c.status).where(_NORMS.c.id == bindparam("norm"))
_LOCK_TRANSLATION = (
    select(*_TRANSLATION_COLUMNS)
    .join_from(_TRANSLATIONS, _NORMS, _NORMS.c.id == _TRANSLATIONS.c.norm_id)
    .where(_THIS_TRANSLATION)
    .with_for_update(of=_TRANSLATIONS)
)
_SET_TRANSLATION_COUNT = update(_TRANSLATIONS).where(_THIS_TRANSLATION).values(change_count=bindparam("count"))
_SET_TRANSLATION_COUNT_AND_TITLE = (
    update(_TRANSLATIONS).where(_THIS_TRANSLATION).values(change_count=bindparam("count"), title=bindparam("new_title"))
)


class Prepare(Protocol):
    """Works out what a write stores, under the document's lock, in the write's transaction.

    Given the session and the caught-up resident copy, returns the changes to store in an order rc1
    can apply them (none: nothing to store). It may make them in `doc` itself, as an edit does; it
    refuses the write by raising, before anything is stored.
    """

    async def __call__(self, session: AsyncSession, doc: am.Document, /) -> list[Change]: ...


class Merge(Protocol):
    """Applies to the copy the changes `Prepare` returned, once they are admitted and attributed; raises to refuse them."""

    def __call__(self, doc: am.Document, changes: list[Change], /) -> None: ...


class Authorize(Protocol):
    """Whether the participant may write this norm, asked with its row locked (`LockedNorm`); raises to refuse."""

    async def __call__(self, session: AsyncSession, norm: LockedNorm, /) -> None: ...


@dataclass(eq=False)
class _Job:
    """A write waiting for its turn in a group commit; `future` gets its Applied, or what it raised."""

    document_id: bytes
    participant_id: uuid.UUID
    prepare: Prepare
    merge: Merge | None
    authorize: Authorize | None
    origin: object
    future: asyncio.Future[Applied]


@dataclass
class _Round:
    """The documents one group commit works on: their copies, the locks it holds, the copies it changed."""

    held: dict[bytes, Resident] = field(default_factory=dict)
    locked: list[Resident] = field(default_factory=list)
    touched: set[bytes] = field(default_factory=set)


@dataclass(frozen=True)
class Applied:
    """What a write stored: the new changes (already-known ones are skipped) and the heads after it."""

    changes: list[Change]
    heads: list[str]


def new_actor() -> bytes:
    """A fresh Automerge actor id."""
    return os.urandom(16)


def parse_heads(values: Iterable[str]) -> list[bytes]:
    """Change hashes from hex; InvalidHeads unless there is at least one and each is 32 bytes."""
    try:
        heads = [bytes.fromhex(value) for value in values]
    except ValueError as exc:
        raise InvalidHeads() from exc
    if not heads or any(len(head) != 32 for head in heads):
        raise InvalidHeads()
    return heads


class Writer:
    """The write pipeline: queues writes, runs them in rounds of one transaction, and answers each writer."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], residents: Residents, limits: Limits, group_commit: bool | None = None
    ) -> None:
        """`group_commit`: writes share commits through one queue; by default only on SQLite, which has one
        writer at a time anyway. PostgreSQL runs writes side by side on their own connections and groups
        their commits itself (commit_delay), which a single queue here would only slow down."""
        self._sessionmaker = sessionmaker
        self._residents = residents
        if group_commit is None:
            bind = sessionmaker.kw.get("bind")
            group_commit = bind is not None and bind.dialect.name == "sqlite"
        self._group_commit = group_commit
        self._writers: set[asyncio.Task[None]] = set()
        self.limits = limits
        # Bindings never change once committed, so every instance may remember them.
        self._bindings: dict[bytes, uuid.UUID] = {}
        self._queue: list[_Job] = []
        self._committer: asyncio.Task[None] | None = None

    # --- Creating ------------------------------------------------------------------------

    async def create(
        self, session: AsyncSession, norm: Norm | NormTranslation, participant_id: uuid.UUID, title: str, text: str
    ) -> list[str]:
        """Write the first change of a norm's (or a translation's) document in the caller's transaction (its row is
        flushed); its heads."""
        # Counted before anything is built: a title, a body and one insert per character.
        _check_ops(len(text) + 2, self.limits)
        if len(text) > self.limits.max_chars:
            raise NormTooLarge(f"The text has {len(text)} characters; a norm holds at most {self.limits.max_chars}")
        actor = new_actor()
        # One rc1 call per character, seconds for a long text: built in a worker thread, so the server goes on answering.
        changes, heads = await asyncio.to_thread(_first_change, title, text, actor, self.limits)
        await self._bind(session, participant_id, {actor})
        session.add_all(self._rows(norm.document_id, participant_id, changes, [document.ChangeStats(len(text), 0)]))
        norm.change_count = len(changes)
        await session.flush()
        return heads

    # --- Writing -------------------------------------------------------------------------

    async def apply(
        self, document_id: bytes, participant_id: uuid.UUID, data: bytes, authorize: Authorize | None = None, origin: object = None
    ) -> Applied:
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
            resident = self._residents.current(document_id)
            recent = resident.journal.positions if resident is not None and resident.doc is doc else frozenset()
            if all_fresh(incoming, doc, recent):
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
            log.warning(
                "store.changes_refused", document=document.document_url(document_id), participant=str(participant_id), reason=exc.detail
            )
            raise

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

    async def _write(
        self,
        document_id: bytes,
        participant_id: uuid.UUID,
        prepare: Prepare,
        merge: Merge | None,
        authorize: Authorize | None,
        origin: object = None,
    ) -> Applied:
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
                # One order of documents for every round on every instance, so row locks never deadlock (lock order, rule 4).
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

        Each document's lock is held from its first job until after the commit (lock order, rule 5),
        so no reader sees what is not stored; if the commit fails every job of the round fails, and
        the documents it touched are dropped from memory to reload from the database.
        """
        round_ = _Round()
        results: list[tuple[_Job, Resident, Applied]] = []
        try:
            async with self._sessionmaker() as session:
                try:
                    for job in jobs:
                        try:
                            resident, applied = await self._write_job(session, job, round_)
                        except _RoundFailed as failed:
                            raise failed.cause from None
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
                        self._residents.tell(Stored(job.document_id, applied.changes, job.origin))
                    if not job.future.done():
                        job.future.set_result(applied)
        finally:
            for resident in round_.locked:
                resident.lock.release()

    def _drop(self, document_id: bytes, round_: _Round) -> None:
        """Forget the round's copy (it may hold what is not stored); its lock stays held until the round ends."""
        held = round_.held.get(document_id)
        if held is not None:
            self._residents.drop(document_id, held)

    async def _write_job(self, session: AsyncSession, job: _Job, round_: _Round) -> tuple[Resident, Applied]:
        """One write inside the round's transaction: lock the norm, catch up if needed, prepare, check, merge, store."""
        document_id = job.document_id
        # The norm's lock (SQLite's write lock) before the document's lock (lock order, rules 2 and 3).
        norm = await _lock_norm(session, document_id)
        if norm is None:
            raise NormNotFound()
        resident = round_.held.get(document_id)
        if resident is None or self._residents.current(document_id) is not resident:
            # First job of the round on this document, or an earlier one dropped its copy.
            resident = round_.held[document_id] = await self._residents.locked(document_id, session)
            round_.locked.append(resident)
        if job.authorize is not None:
            await job.authorize(session, norm)
        if norm.change_count != resident.change_count:
            # Another writer stored since this copy last looked (the count only grows, under the norm's lock).
            await self._residents.catch_up_copy(session, document_id, resident)
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
            snapshot = save_document(resident.doc) if crossed else None
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
                counting = _SET_TRANSLATION_COUNT if norm.translation else _SET_COUNT
                await session.execute(counting, {"document": document_id, "count": change_count})
            else:
                titling = _SET_TRANSLATION_COUNT_AND_TITLE if norm.translation else _SET_COUNT_AND_TITLE
                await session.execute(titling, {"document": document_id, "count": change_count, "new_title": title})
            if snapshot is not None:
                await session.execute(
                    insert(cast(Table, NormSnapshot.__table__)).values(
                        document_id=document_id,
                        heads=document.heads_hex(resident.doc),
                        data=snapshot,
                        change_count=change_count,
                        last_change_id=max(ids),
                    )
                )
        except BaseException as exc:
            raise _RoundFailed(exc) from exc
        # Bookkeeping for later jobs of this round; if the commit fails the copy is dropped with it.
        resident.record(changes, max(ids))
        return resident, Applied(changes, document.heads_hex(resident.doc))

    # --- Attribution ---------------------------------------------------------------------

    async def owners(self, actors: set[bytes]) -> dict[bytes, uuid.UUID]:
        """Whom each of `actors` is bound to, as committed now: from what this instance committed, else on a
        session of its own (a binding never changes once made)."""
        owners = {actor: self._bindings[actor] for actor in actors if actor in self._bindings}
        if unknown := actors - owners.keys():
            async with self._sessionmaker() as session:
                rows = await session.execute(select(ActorBinding.actor, ActorBinding.participant_id).where(ActorBinding.actor.in_(unknown)))
                owners.update({actor: owner for actor, owner in rows})
        return owners

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

    async def _check_seqs(self, session: AsyncSession, document_id: bytes, resident: Resident, changes: Sequence[Change]) -> None:
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
    def _rows(
        document_id: bytes, participant_id: uuid.UUID, changes: Sequence[Change], stats: Sequence[document.ChangeStats]
    ) -> list[NormChange]:
        return [NormChange(**values) for values in _row_values(document_id, participant_id, changes, stats)]


@dataclass(frozen=True, slots=True)
class LockedNorm:
    """The norm's row as a write's first statement locked and read it: what `authorize` may check.

    For a translation's document: the translation's row (its id, count and title), with its norm's network and status.
    """

    id: uuid.UUID
    network_id: uuid.UUID
    status: NormStatus
    change_count: int
    title: str
    translation: bool = False


async def _lock_norm(session: AsyncSession, document_id: bytes) -> LockedNorm | None:
    """The norm (or translation) whose document this is, its row locked for the transaction by this first statement
    (SQLite: the database's write lock)."""
    sqlite = session.bind.dialect.name == "sqlite"
    # Core, not the ORM: always the row as it is now, whatever an earlier write of the round changed.
    row = (await session.execute(_LOCK_NORM_SQLITE if sqlite else _LOCK_NORM, {"document": document_id})).first()
    if row is not None:
        return LockedNorm(*row)
    if not sqlite:
        row = (await session.execute(_LOCK_TRANSLATION, {"document": document_id})).first()
        return None if row is None else replace(LockedNorm(*row), translation=True)
    locked = (await session.execute(_LOCK_TRANSLATION_SQLITE, {"document": document_id})).first()
    if locked is None:
        return None
    network_id, status = (await session.execute(_NORM_OF_TRANSLATION, {"norm": locked.norm_id})).one()
    return LockedNorm(locked.id, network_id, status, locked.change_count, locked.title, translation=True)


def _row_values(
    document_id: bytes, participant_id: uuid.UUID, changes: Sequence[Change], stats: Sequence[document.ChangeStats]
) -> list[dict[str, object]]:
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


def _first_change(title: str, text: str, actor: bytes, limits: Limits) -> tuple[list[Change], list[str]]:
    """A new norm's document made by `actor`: its one change, admitted, and its heads. CPU only, and
    nothing shared: safe in a worker thread."""
    doc, _made = document.create(title, text, actor)
    changes = document.own_changes(doc)
    _admit(changes, limits)
    return changes, document.heads_hex(doc)


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


class _RoundFailed(Exception):
    """A write of a group commit failed in the database: the whole round fails (its cause is chained)."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__()
        self.cause = cause
