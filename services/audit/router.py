from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from services.accounts.models import Participant
from services.api.deps import CursorQuery, LimitQuery, SessionDep, SettingsDep
from services.audit import merkle, service, tree, tree_heads
from services.audit.errors import AuditEventNotFound
from services.audit.models import AuditEvent
from services.kit.pagination import Page, decode_cursor, encode_cursor
from services.kit.validation import SafeText

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
    target_type: Annotated[SafeText | None, Query(max_length=40)] = None,
    target_id: Annotated[SafeText | None, Query(max_length=120)] = None,
    action: Annotated[SafeText | None, Query(max_length=80)] = None,
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


# --- The log as a transparency log (RFC 9162) ------------------------------------------------


class Signature(BaseModel):
    alg: str
    kid: str
    value: str


class TreeHeadOut(BaseModel):
    """A signed tree head: save it whole as a checkpoint for `cogov audit verify --against`."""

    number: int
    url: str
    tree_head: dict
    signature: Signature
    keys_url: str


class InclusionProofOut(BaseModel):
    seq: int
    leaf_index: int
    tree_size: int
    leaf: dict
    leaf_hash: str
    audit_path: list[str]
    root_hash: str


class ConsistencyProofOut(BaseModel):
    first: int
    second: int
    first_root_hash: str
    second_root_hash: str
    consistency_path: list[str]


TreeSizeQuery = Annotated[int | None, Query(ge=0, description="A tree size (default: the log's current size)")]


@router.get("/audit/tree-head", response_model=TreeHeadOut)
async def current_tree_head(session: SessionDep, settings: SettingsDep):
    """The newest signed tree head (also at /.well-known/cogov-tree-head.json and in the clearing-house feeds):
    the log's size and Merkle root, signed with the clearing house's key, at least every hour and on every adoption."""
    return tree_heads.out(settings.base_url, await tree_heads.newest(session))


@router.get("/audit/tree-heads", response_model=Page[TreeHeadOut])
async def tree_head_history(session: SessionDep, settings: SettingsDep, cursor: CursorQuery = None, limit: LimitQuery = 50):
    """Every tree head ever signed, newest first: any head a subscriber saw can be shown again."""
    before = decode_cursor(cursor, int)[0] if cursor else None
    heads = (await session.scalars(tree_heads.listing(before).limit(limit + 1))).all()
    page, more = heads[:limit], len(heads) > limit
    return Page(
        items=[tree_heads.out(settings.base_url, head) for head in page], next_cursor=encode_cursor(page[-1].number) if more else None
    )


@router.get("/audit/tree-heads/{number}", response_model=TreeHeadOut)
async def tree_head(session: SessionDep, settings: SettingsDep, number: Annotated[int, Path(ge=1)]):
    """One signed tree head, by its number."""
    return tree_heads.out(settings.base_url, await tree_heads.get(session, number))


@router.get("/audit/proofs/inclusion", response_model=InclusionProofOut)
async def inclusion_proof(
    session: SessionDep, seq: Annotated[int, Query(ge=1, description="The event (leaf index + 1)")], tree_size: TreeSizeQuery = None
):
    """RFC 9162 2.1.3: the audit path proving event `seq` is in the tree of `tree_size` events. `leaf` is the event
    as hashed (its leaf bytes are its canonical JSON); the leaf hash is computed from the stored event itself.
    422 when the event or size is outside the log."""
    size = await tree.size(session) if tree_size is None else tree_size
    path, root = await tree.inclusion_proof(session, seq, size)
    event = await session.get(AuditEvent, seq)
    if event is None:
        raise AuditEventNotFound(f"Event {seq} is missing from the log: `cogov audit verify` names what was removed")
    leaf = service.event_body(event)
    return InclusionProofOut(
        seq=seq,
        leaf_index=seq - 1,
        tree_size=size,
        leaf=leaf,
        leaf_hash=merkle.leaf_hash(service.leaf_bytes(event)).hex(),
        audit_path=[node.hex() for node in path],
        root_hash=root.hex(),
    )


@router.get("/audit/proofs/consistency", response_model=ConsistencyProofOut)
async def consistency_proof(
    session: SessionDep, first: Annotated[int, Query(description="The earlier tree size")], second: TreeSizeQuery = None
):
    """RFC 9162 2.1.4: the proof that the tree of `second` events extends the tree of `first` (empty when they are
    equal). Check it against the roots of two signed heads you hold. 422 when a size is outside the log."""
    size = await tree.size(session) if second is None else second
    path, first_root, second_root = await tree.consistency_proof(session, first, size)
    return ConsistencyProofOut(
        first=first,
        second=size,
        first_root_hash=first_root.hex(),
        second_root_hash=second_root.hex(),
        consistency_path=[node.hex() for node in path],
    )
