"""The public audit log: a hash chain every domain appends its public acts to."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Select, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit.models import AuditEvent
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


async def record(
    session: AsyncSession,
    *,
    actor_id: uuid.UUID | None,
    action: str,
    target_type: str,
    target_id: object,
    payload: dict | None = None,
) -> AuditEvent:
    """Append one event to the chain inside the caller's transaction (it commits or vanishes with it)."""
    if session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK})
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
    return event


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    reason: str


@dataclass(frozen=True)
class ChainReport:
    events: int
    breaks: list[ChainBreak]

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
    """Recompute every hash in order; report each event whose content, link or place does not hold."""
    breaks: list[ChainBreak] = []
    count, expected_seq, expected_prev = 0, 1, GENESIS
    async for event in _in_order(session):
        count += 1
        if event.seq != expected_seq:
            breaks.append(ChainBreak(event.seq, f"expected event {expected_seq} next, found {event.seq}: events are missing"))
        if event.prev_hash != expected_prev:
            breaks.append(ChainBreak(event.seq, "does not link to the event before it"))
        if event.hash != chain_hash(event.prev_hash, event_body(event)):
            breaks.append(ChainBreak(event.seq, "content does not match its hash: the row was altered"))
        expected_seq, expected_prev = event.seq + 1, event.hash
    return ChainReport(events=count, breaks=breaks)


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
