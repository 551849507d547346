"""The norm document store: the only writer of stored Automerge documents.

Every change is validated, attributed and committed to `norm_changes` before `apply` returns,
so nothing is acknowledged, shown or relayed that is not durable. A loaded document stays
resident in memory, caught up from the database before each use (another instance may have
written since), and is dropped after `document_idle_seconds` unused, or whenever a write
fails half-way, so memory never holds what the database does not.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import automerge.core as am
import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from norms import document
from norms.document import Change
from norms.errors import (
    AttributionRefused,
    InvalidChanges,
    InvalidHeads,
    InvalidSplice,
    NormNotFound,
    NormTooLarge,
    UnknownDependencies,
)
from norms.models import ActorBinding, Norm, NormChange, NormSnapshot
from services.kit.db import transaction

log = structlog.get_logger()


@dataclass(frozen=True)
class Limits:
    snapshot_every: int = 1000
    max_chars: int = 1_000_000
    max_ops: int = 100_000
    max_bytes: int = 5 * 1024 * 1024


@dataclass
class _Resident:
    doc: am.Document
    last_change_id: int
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_used: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class Applied:
    """What a write stored: the new changes (already-known ones are skipped) and the heads after it."""

    changes: list[Change]
    heads: list[str]


def new_actor() -> bytes:
    return os.urandom(16)


def topological(changes: Sequence[Change]) -> list[Change]:
    """Changes ordered so each comes after those of the batch it depends on."""
    by_hash = {change.hash: change for change in changes}
    ordered: list[Change] = []
    placed: set[bytes] = set()

    def place(change: Change, path: frozenset[bytes]) -> None:
        if change.hash in placed:
            return
        if change.hash in path:
            raise InvalidChanges("the changes depend on each other in a cycle")
        for dep in change.deps:
            if dep in by_hash:
                place(by_hash[dep], path | {change.hash})
        placed.add(change.hash)
        ordered.append(change)

    for change in changes:
        place(change, frozenset())
    return ordered


def parse_heads(values: Iterable[str]) -> list[bytes]:
    try:
        heads = [bytes.fromhex(value) for value in values]
    except ValueError as exc:
        raise InvalidHeads() from exc
    if not heads or any(len(head) != 32 for head in heads):
        raise InvalidHeads()
    return heads


class NormStore:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], limits: Limits, idle_seconds: float = 300) -> None:
        self._sessionmaker = sessionmaker
        self.limits = limits
        self._idle_seconds = idle_seconds
        self._resident: dict[bytes, _Resident] = {}
        self._loading = asyncio.Lock()

    # --- Creating ------------------------------------------------------------------------

    async def create(self, session: AsyncSession, norm: Norm, participant_id: uuid.UUID, title: str, text: str) -> list[str]:
        """Write the first change of `norm`'s document in the caller's transaction (the norm row is flushed); its heads."""
        if len(text) > self.limits.max_chars:
            raise NormTooLarge(f"The text has {len(text)} characters; a norm holds at most {self.limits.max_chars}")
        actor = new_actor()
        doc, made = document.create(title, text, actor)
        changes = document.split_changes(b"".join(made))
        await self._bind(session, participant_id, {actor})
        session.add_all(self._rows(norm.document_id, participant_id, changes, [document.ChangeStats(len(text), 0)]))
        norm.change_count = len(changes)
        await session.flush()
        return document.heads_hex(doc)

    # --- Reading -------------------------------------------------------------------------

    @asynccontextmanager
    async def reading(self, document_id: bytes) -> AsyncIterator[am.Document]:
        """The stored document, caught up with the database; read it inside the block, never change it."""
        resident = await self._resident_for(document_id)
        async with resident.lock:
            async with self._sessionmaker() as session:
                await self._catch_up(session, document_id, resident)
            resident.last_used = time.monotonic()
            yield resident.doc

    # --- Writing -------------------------------------------------------------------------

    async def apply(self, document_id: bytes, participant_id: uuid.UUID, data: bytes, authorize=None) -> Applied:
        """Validate changes (or a saved document) from `participant_id`'s Automerge peer and store the new ones.

        Commits before returning. Raises, storing nothing: InvalidChanges, UnknownDependencies,
        AttributionRefused (an actor bound to someone else), NormTooLarge, or what `authorize` raises.
        """
        if len(data) > self.limits.max_bytes:
            raise NormTooLarge(f"A submission holds at most {self.limits.max_bytes} bytes")
        try:
            incoming = document.split_changes(data)
        except document.InvalidChange as exc:
            raise InvalidChanges(f"Not valid Automerge changes: {exc}") from exc
        if sum(change.ops for change in incoming) > self.limits.max_ops:
            raise NormTooLarge(f"A submission holds at most {self.limits.max_ops} operations")

        def prepare(doc: am.Document) -> list[Change]:
            return topological([change for change in incoming if not document.has_change(doc, change.hash)])

        def merge(doc: am.Document, fresh: list[Change]) -> None:
            try:
                document.merge_changes(doc, fresh)
            except document.MissingDependencies as exc:
                raise UnknownDependencies(f"Unknown dependencies: {', '.join(h.hex() for h in exc.hashes)}") from exc
            except document.InvalidChange as exc:
                raise InvalidChanges(f"The document refused the changes: {exc}") from exc

        return await self._write(document_id, participant_id, prepare, merge, authorize)

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
        if sum(delete + len(insert) for _index, delete, insert in splices) > self.limits.max_ops:
            raise NormTooLarge(f"A submission holds at most {self.limits.max_ops} operations")
        heads = parse_heads(base_heads) if base_heads is not None else None
        actor = new_actor()

        def make(doc: am.Document) -> list[Change]:
            if heads is not None and not all(document.has_change(doc, head) for head in heads):
                raise InvalidHeads("base_heads names changes this norm does not have")
            try:
                made = document.apply_splices(doc, actor, splices, title=title, base_heads=heads)
            except document.SpliceOutOfRange as exc:
                raise InvalidSplice(str(exc)) from exc
            return document.split_changes(b"".join(made)) if made else []

        return await self._write(document_id, participant_id, make, None, authorize)

    async def _write(self, document_id: bytes, participant_id: uuid.UUID, prepare, merge, authorize) -> Applied:
        """One write, serialised per document: lock the norm, catch up, prepare, check, merge, store, commit.

        `prepare(doc)` returns the changes to store (it may change `doc`, as an edit does);
        `merge(doc, changes)`, if given, applies them after attribution is checked.
        """
        resident = await self._resident_for(document_id)
        async with resident.lock:
            mutated = False
            try:
                async with transaction(self._sessionmaker) as session:
                    norm = await session.scalar(select(Norm).where(Norm.document_id == document_id).with_for_update())
                    if norm is None:
                        raise NormNotFound()
                    if authorize is not None:
                        await authorize(session, norm)
                    await self._catch_up(session, document_id, resident)
                    mutated = merge is None
                    changes = prepare(resident.doc)
                    if not changes:
                        return Applied([], document.heads_hex(resident.doc))
                    await self._check_seqs(session, document_id, changes)
                    await self._bind(session, participant_id, {change.actor for change in changes})
                    if merge is not None:
                        mutated = True
                        merge(resident.doc, changes)
                    body_length = document.text_length(resident.doc)
                    if body_length > self.limits.max_chars:
                        raise NormTooLarge(f"The norm would hold {body_length} characters; at most {self.limits.max_chars}")
                    body = document.body_id(resident.doc)
                    rows = self._rows(document_id, participant_id, changes, [document.count_text_ops(c, body) for c in changes])
                    session.add_all(rows)
                    before = norm.change_count
                    norm.change_count += len(rows)
                    norm.title = document.read_title(resident.doc)[:300]
                    await session.flush()
                    if norm.change_count // self.limits.snapshot_every > before // self.limits.snapshot_every:
                        await self._snapshot(session, norm, resident.doc, rows[-1].id)
                resident.last_change_id = max(resident.last_change_id, rows[-1].id)
                resident.last_used = time.monotonic()
                return Applied(changes, document.heads_hex(resident.doc))
            except BaseException:
                if mutated:
                    # The resident copy may hold what was not committed: reload it next time.
                    self._resident.pop(document_id, None)
                raise

    async def _snapshot(self, session: AsyncSession, norm: Norm, doc: am.Document, last_change_id: int) -> None:
        try:
            data = document.snapshot(doc)
        except document.InvalidChange as exc:
            raise InvalidChanges(f"The changes leave a document that cannot be saved: {exc}") from exc
        session.add(
            NormSnapshot(
                document_id=norm.document_id,
                heads=document.heads_hex(doc),
                data=data,
                change_count=norm.change_count,
                last_change_id=last_change_id,
            )
        )
        await session.flush()

    # --- Attribution ---------------------------------------------------------------------

    async def _bind(self, session: AsyncSession, participant_id: uuid.UUID, actors: set[bytes]) -> None:
        """Bind unseen actors to the participant; refuse if any is bound to someone else."""
        rows = await session.execute(select(ActorBinding.actor, ActorBinding.participant_id).where(ActorBinding.actor.in_(actors)))
        bound = {actor: owner for actor, owner in rows}
        foreign = [actor.hex() for actor, owner in bound.items() if owner != participant_id]
        if foreign:
            raise AttributionRefused(
                f"Automerge actor {foreign[0]} belongs to another participant; a change cannot be submitted in someone else's name"
            )
        session.add_all(ActorBinding(actor=actor, participant_id=participant_id) for actor in actors - bound.keys())
        await session.flush()

    async def _check_seqs(self, session: AsyncSession, document_id: bytes, changes: Sequence[Change]) -> None:
        """Each actor's changes must continue its sequence: rc1 would accept a forged seq it cannot reload."""
        actors = {change.actor for change in changes}
        rows = await session.execute(
            select(NormChange.actor, func.max(NormChange.seq))
            .where(NormChange.document_id == document_id, NormChange.actor.in_(actors))
            .group_by(NormChange.actor)
        )
        last = {actor: seq for actor, seq in rows}
        for change in sorted(changes, key=lambda c: (c.actor, c.seq)):
            expected = last.get(change.actor, 0) + 1
            if change.seq != expected:
                raise InvalidChanges(f"Change {change.hash_hex} has sequence number {change.seq}; its actor's next is {expected}")
            last[change.actor] = change.seq

    @staticmethod
    def _rows(document_id: bytes, participant_id: uuid.UUID, changes: Sequence[Change], stats) -> list[NormChange]:
        return [
            NormChange(
                document_id=document_id,
                hash=change.hash,
                actor=change.actor,
                participant_id=participant_id,
                seq=change.seq,
                data=change.data,
                inserted=stat.inserted,
                deleted=stat.deleted,
            )
            for change, stat in zip(changes, stats, strict=True)
        ]

    # --- Residency -----------------------------------------------------------------------

    async def _resident_for(self, document_id: bytes) -> _Resident:
        self._evict_idle()
        resident = self._resident.get(document_id)
        if resident is not None:
            return resident
        async with self._loading:
            resident = self._resident.get(document_id)
            if resident is None:
                async with self._sessionmaker() as session:
                    resident = await self._load(session, document_id)
                self._resident[document_id] = resident
        return resident

    async def _load(self, session: AsyncSession, document_id: bytes) -> _Resident:
        """Latest snapshot plus the changes stored after it."""
        if await session.scalar(select(Norm.id).where(Norm.document_id == document_id)) is None:
            raise NormNotFound()
        latest = (
            await session.execute(
                select(NormSnapshot.data, NormSnapshot.last_change_id)
                .where(NormSnapshot.document_id == document_id)
                .order_by(NormSnapshot.last_change_id.desc())
                .limit(1)
            )
        ).first()
        base, after = (latest.data, latest.last_change_id) if latest else (b"", 0)
        rows = (
            await session.execute(
                select(NormChange.id, NormChange.data)
                .where(NormChange.document_id == document_id, NormChange.id > after)
                .order_by(NormChange.id)
            )
        ).all()
        doc = document.load(base + b"".join(row.data for row in rows))
        return _Resident(doc=doc, last_change_id=rows[-1].id if rows else after)

    async def _catch_up(self, session: AsyncSession, document_id: bytes, resident: _Resident) -> None:
        """Merge what other writers stored since this copy last looked."""
        rows = (
            await session.execute(
                select(NormChange.id, NormChange.data)
                .where(NormChange.document_id == document_id, NormChange.id > resident.last_change_id)
                .order_by(NormChange.id)
            )
        ).all()
        if not rows:
            return
        changes = document.split_changes(b"".join(row.data for row in rows))
        fresh = [change for change in changes if not document.has_change(resident.doc, change.hash)]
        if fresh:
            document.merge_changes(resident.doc, fresh)
        resident.last_change_id = rows[-1].id

    def _evict_idle(self) -> None:
        cutoff = time.monotonic() - self._idle_seconds
        for document_id, resident in list(self._resident.items()):
            if resident.last_used < cutoff and not resident.lock.locked():
                del self._resident[document_id]
                log.info("document.evicted", document=document.document_url(document_id))

    def evict(self, document_id: bytes) -> None:
        self._resident.pop(document_id, None)

    @property
    def resident_count(self) -> int:
        return len(self._resident)

