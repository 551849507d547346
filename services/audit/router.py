from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from services.accounts.models import Participant
from services.api.deps import CursorQuery, LimitQuery, SessionDep
from services.audit import service
from services.kit.validation import Text
from services.kit.pagination import Page, decode_cursor, encode_cursor

router = APIRouter(prefix="/api/v1", tags=["audit"])


class Actor(BaseModel):
    id: uuid.UUID
    display_name: str


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    created_at: datetime
    actor: Actor | None
    action: str
    target_type: str
    target_id: str
    payload: dict
    prev_hash: str
    hash: str


@router.get("/audit", response_model=Page[AuditEventOut])
async def audit_log(
    session: SessionDep,
    target_type: Annotated[Text | None, Query(max_length=40)] = None,
    target_id: Annotated[Text | None, Query(max_length=120)] = None,
    action: Annotated[Text | None, Query(max_length=80)] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
):
    """The public audit log, newest first. Each event's hash chains to the one before it."""
    before = decode_cursor(cursor, int)[0] if cursor else None
    events = (await session.scalars(service.listing(target_type, target_id, action, before).limit(limit + 1))).all()
    page, more = events[:limit], len(events) > limit
    actor_ids = {event.actor_id for event in page if event.actor_id}
    names = {}
    if actor_ids:
        rows = await session.execute(select(Participant.id, Participant.display_name).where(Participant.id.in_(actor_ids)))
        names = {row.id: row.display_name for row in rows}
    items = [
        AuditEventOut(
            seq=event.seq,
            created_at=event.created_at,
            actor=Actor(id=event.actor_id, display_name=names.get(event.actor_id, "")) if event.actor_id else None,
            action=event.action,
            target_type=event.target_type,
            target_id=event.target_id,
            payload=event.payload,
            prev_hash=event.prev_hash,
            hash=event.hash,
        )
        for event in page
    ]
    return Page(items=items, next_cursor=encode_cursor(page[-1].seq) if more else None)
