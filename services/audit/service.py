"""The public audit log: a hash chain every domain appends its public acts to, and a Merkle tree over it.

The chain shows an edited or removed middle row; the tree (`tree.py`, RFC 9162) lets signed tree
heads (`tree_heads.py`) commit to the log's length and content, so a subscriber holding one can
prove later that the log only grew.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Select, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit import merkle, tree
from services.audit.models import AuditEvent, AuditTreeNode
from services.kit.db import utcnow

GENESIS = "0" * 64
# Any constant: PostgreSQL transactions appending to the chain queue on this advisory lock.
_CHAIN_LOCK = 0x436F476F76  # "CoGov"


def canonical_json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _timestamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_body(event: AuditEvent) -> dict:
    """What the hash covers: everything in the row except the hash itself."""
    return {
        "seq": event.seq,
        "at": _timestamp(event.created_at),
        "actor": str(event.actor_id) if event.actor_id else None,
        "action": event.action,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "payload": event.payload,
    }


def chain_hash(prev_hash: str, body: dict) -> str:
    return hashlib.sha256((prev_hash + canonical_json(body)).encode()).hexdigest()


def leaf_bytes(event: AuditEvent) -> bytes:
    """The event as a leaf of the Merkle tree: the UTF-8 canonical JSON of `event_body` (what the chain hash
    covers after the previous hash). Never change it: every published tree head depends on it."""
    return canonical_json(event_body(event)).encode()


async def lock_chain(session: AsyncSession) -> None:
    """Make the caller's transaction the only one appending to the log or signing its head until it ends.

    PostgreSQL: an advisory lock. SQLite: its one write lock already does this, provided the
    transaction holds it (see `take_write_lock`), which every writer here takes first.
    """
    if session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK})


async def record(
    session: AsyncSession,
    *,
    actor_id: uuid.UUID | None,
    action: str,
    target_type: str,
    target_id: object,
    payload: dict | None = None,
) -> AuditEvent:
    """Append one event to the chain and the tree inside the caller's transaction (it commits or vanishes with it)."""
    await lock_chain(session)
    last = (await session.execute(select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1))).first()
    seq, prev_hash = (last.seq + 1, last.hash) if last else (1, GENESIS)
    # Round-trip through JSON now so the hash covers exactly what the database will give back.
    event = AuditEvent(
        seq=seq,
        created_at=utcnow(),
        actor_id=actor_id,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        payload=json.loads(canonical_json(payload or {})),
        prev_hash=prev_hash,
    )
    event.hash = chain_hash(prev_hash, event_body(event))
    session.add(event)
    await session.flush()
    await tree.append(session, seq - 1, merkle.leaf_hash(leaf_bytes(event)))
    return event


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    reason: str


@dataclass(frozen=True)
class ChainReport:
    events: int
    breaks: list[ChainBreak]
    # Each event's leaf hash, recomputed from its row, in log order: the tree the rows make.
    leaves: list[bytes] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.breaks


async def _in_order(session: AsyncSession, batch: int = 1000) -> AsyncIterator[AuditEvent]:
    after = 0
    while True:
        rows = (await session.scalars(select(AuditEvent).where(AuditEvent.seq > after).order_by(AuditEvent.seq).limit(batch))).all()
        if not rows:
            return
        for row in rows:
            yield row
        after = rows[-1].seq


async def verify_chain(session: AsyncSession) -> ChainReport:
    """Recompute every hash in order; report each event whose content, link or place does not hold, and each
    place where the stored Merkle tree is not the tree of the events."""
    breaks: list[ChainBreak] = []
    leaves: list[bytes] = []
    count, expected_seq, expected_prev = 0, 1, GENESIS
    async for event in _in_order(session):
        count += 1
        if event.seq != expected_seq:
            breaks.append(ChainBreak(event.seq, f"expected event {expected_seq} next, found {event.seq}: events are missing"))
        if event.prev_hash != expected_prev:
            breaks.append(ChainBreak(event.seq, "does not link to the event before it"))
        if event.hash != chain_hash(event.prev_hash, event_body(event)):
            breaks.append(ChainBreak(event.seq, "content does not match its hash: the row was altered"))
        leaves.append(merkle.leaf_hash(leaf_bytes(event)))
        expected_seq, expected_prev = event.seq + 1, event.hash
    stored = {
        (level, position): bytes(value)
        for level, position, value in await session.execute(select(AuditTreeNode.level, AuditTreeNode.position, AuditTreeNode.hash))
    }
    return ChainReport(events=count, breaks=breaks + tree_breaks(stored, leaves), leaves=leaves)


def tree_breaks(stored: merkle.Nodes, leaves: list[bytes]) -> list[ChainBreak]:
    """Where the stored tree differs from the tree of `leaves`: each leaf once, each internal node that does not
    hash its stored halves, and nodes kept past the last leaf."""
    breaks = [
        ChainBreak(index + 1, "its leaf in the Merkle tree is missing or does not match its content")
        for index, leaf in enumerate(leaves)
        if stored.get((0, index)) != leaf
    ]
    level = 1
    while len(leaves) >> level:
        for position in range(len(leaves) >> level):
            node, left, right = (
                stored.get((level, position)),
                stored.get((level - 1, 2 * position)),
                stored.get((level - 1, 2 * position + 1)),
            )
            if node is None or left is None or right is None or node != merkle.node_hash(left, right):
                first = (position << level) + 1
                breaks.append(
                    ChainBreak(
                        first,
                        f"the Merkle tree node over events {first}-{first + (1 << level) - 1} does not hash its halves: "
                        "the tree was altered",
                    )
                )
        level += 1
    beyond = sorted(node for node in stored if (node[1] + 1) << node[0] > len(leaves))
    if beyond:
        breaks.append(
            ChainBreak(len(leaves) + 1, f"the Merkle tree still holds {len(beyond)} node(s) past the last event: events were removed")
        )
    return breaks


def listing(target_type: str | None, target_id: str | None, action: str | None, before: int | None) -> Select:
    query = select(AuditEvent).order_by(AuditEvent.seq.desc())
    if target_type:
        query = query.where(AuditEvent.target_type == target_type)
    if target_id:
        query = query.where(AuditEvent.target_id == target_id)
    if action:
        query = query.where(AuditEvent.action == action)
    if before is not None:
        query = query.where(AuditEvent.seq < before)
    return query
