"""Signed tree heads: the clearing house's signed word on the audit log's size and Merkle root at a moment.

A head is signed (the clearing house's Ed25519 key, as entries are) and kept forever, on every
publication of an adoption and by the worker whenever the newest is `tree_head_seconds` old. A
subscriber saves one as a checkpoint; a consistency proof from its size to a later head's size
then shows the log only grew: no event it covered was removed, altered or reordered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypedDict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit import merkle, service, tree
from services.audit.errors import TreeHeadNotFound
from services.audit.models import TreeHead
from services.clearinghouse import feedstate, keys, signing
from services.clearinghouse.entries import KEYS_PATH
from services.clearinghouse.signing import SigningKey, VerificationFailed

STATEMENT_TYPE = "cogov.tree-head/1"
LOG_PATH = "/api/v1/audit"
WELL_KNOWN_PATH = "/.well-known/cogov-tree-head.json"


def _timestamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def sign(session: AsyncSession, key: SigningKey, now: datetime, issuer: str) -> TreeHead:
    """Sign and keep the head of the log as it stands, in the caller's transaction (which, on SQLite, took the
    write lock first). No event is appended between reading the size and the root; the feeds change with it."""
    await service.lock_chain(session)
    size = await tree.size(session)
    root = await tree.root(session, size)
    statement = {
        "type": STATEMENT_TYPE,
        "log": issuer + LOG_PATH,
        "tree_size": size,
        "root_hash": root.hex(),
        "timestamp": _timestamp(now),
    }
    head = TreeHead(tree_size=size, root_hash=root.hex(), signed_at=now, statement=statement, kid=key.kid, signature=key.sign(statement))
    session.add(head)
    await keys.register_key(session, key, now)
    await feedstate.bump(session, now)  # the feeds carry the newest head
    await session.flush()
    return head


async def sign_if_due(session: AsyncSession, key: SigningKey, now: datetime, issuer: str, every: timedelta) -> TreeHead | None:
    """Sign a head when none is `every` old or newer; None when one is (several workers may ask at once)."""
    await service.lock_chain(session)
    newest = await latest(session)
    if newest is not None and newest.signed_at > now - every:
        return None
    return await sign(session, key, now, issuer)


async def latest(session: AsyncSession) -> TreeHead | None:
    return await session.scalar(select(TreeHead).order_by(TreeHead.number.desc()).limit(1))


async def newest(session: AsyncSession) -> TreeHead:
    head = await latest(session)
    if head is None:
        raise TreeHeadNotFound("No tree head has been signed yet: the worker signs one in its first round")
    return head


async def get(session: AsyncSession, number: int) -> TreeHead:
    head = await session.get(TreeHead, number)
    if head is None:
        raise TreeHeadNotFound(f"No signed tree head number {number}")
    return head


def listing(before: int | None):
    query = select(TreeHead).order_by(TreeHead.number.desc())
    return query if before is None else query.where(TreeHead.number < before)


class HeadSignature(TypedDict):
    alg: str
    kid: str
    value: str


class PublishedHead(TypedDict):
    """A signed tree head as `out` publishes it."""

    number: int
    url: str
    tree_head: dict[str, object]  # the statement exactly as signed
    signature: HeadSignature
    keys_url: str


def out(base_url: str, head: TreeHead) -> PublishedHead:
    """A head as published (and as a subscriber saves it as a checkpoint)."""
    return {
        "number": head.number,
        "url": f"{base_url}{LOG_PATH}/tree-heads/{head.number}",
        "tree_head": head.statement,
        "signature": {"alg": signing.ALGORITHM, "kid": head.kid, "value": head.signature},
        "keys_url": base_url + KEYS_PATH,
    }


# --- Checking a log against a checkpoint --------------------------------------------------


class CheckpointFailed(Exception):
    """Today's log does not extend the checkpoint; the message says what does not hold."""


@dataclass(frozen=True)
class Extension:
    first: int
    second: int
    root: str


def verify_checkpoint_signature(checkpoint: dict, key_set: dict) -> dict:
    """The checkpoint's signed statement, once its signature verifies under `key_set`; else CheckpointFailed."""
    try:
        statement = checkpoint["tree_head"]
        signing.verify_signature(statement, checkpoint["signature"], key_set, "the tree head")
    except (KeyError, TypeError) as exc:
        raise CheckpointFailed(f"not a signed tree head: missing {exc}") from exc
    except VerificationFailed as exc:
        raise CheckpointFailed(f"the checkpoint's signature does not verify: {exc}") from exc
    if not isinstance(statement, dict) or statement.get("type") != STATEMENT_TYPE:
        raise CheckpointFailed(f"the checkpoint is not a {STATEMENT_TYPE} statement")
    size, root = statement.get("tree_size"), statement.get("root_hash")
    if not isinstance(size, int) or size < 0 or not isinstance(root, str) or len(root) != 64:
        raise CheckpointFailed("the checkpoint's tree_size or root_hash is malformed")
    return statement


def extends(statement: dict, log: merkle.MemoryTree) -> Extension:
    """Check that the tree of `log` (every event's leaf, recomputed from its row) extends the signed statement:
    a consistency proof from its size to today's verifies against both roots. CheckpointFailed otherwise."""
    first, first_root = statement["tree_size"], bytes.fromhex(statement["root_hash"])
    second = log.size
    if second < first:
        raise CheckpointFailed(
            f"the log holds {second} events, fewer than the {first} the checkpoint covers: events {second + 1}-{first} were removed"
        )
    second_root = log.root()
    if first == 0:
        proven = first_root == merkle.EMPTY_ROOT
    else:
        proven = merkle.verify_consistency(first, second, first_root, second_root, log.consistency_proof(first, second))
    if not proven:
        raise CheckpointFailed(
            f"the log's first {first} events do not hash to the checkpoint's root: "
            "an event it covers was altered, removed or reordered since it was signed"
        )
    return Extension(first, second, second_root.hex())
