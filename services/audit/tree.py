"""The audit log as an RFC 9162 Merkle tree: its stored nodes, roots and proofs.

Leaf i is event `seq = i + 1`; its bytes are `service.leaf_bytes(event)`. Appending an event
stores its leaf hash and every perfect subtree it completes (one more row on average), so a
root or proof of any size reads O(log² n) stored nodes in one query, whatever the log's length.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import and_, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit import merkle
from services.audit.errors import TreeSizeOutOfRange
from services.audit.merkle import Node, Range
from services.audit.models import AuditEvent, AuditTreeNode


async def append(session: AsyncSession, index: int, leaf_hash: bytes) -> None:
    """Store leaf `index` and the subtrees it completes, in the caller's transaction (which holds the chain lock)."""
    completed = merkle.completed_by(index)
    lefts = [(level - 1, 2 * position) for level, position in completed]
    found = await _fetch(session, set(lefts))
    rows, current = [{"level": 0, "position": index, "hash": leaf_hash}], leaf_hash
    for (level, position), left in zip(completed, lefts, strict=True):
        current = merkle.node_hash(found[left], current)
        rows.append({"level": level, "position": position, "hash": current})
    await session.execute(insert(AuditTreeNode), rows)


async def size(session: AsyncSession) -> int:
    """How many events the log holds: the current tree size."""
    return (await session.execute(select(func.coalesce(func.max(AuditEvent.seq), 0)))).scalar_one()


async def root(session: AsyncSession, tree_size: int) -> bytes:
    return (await _hashes(session, [(0, tree_size)]))[0]


async def inclusion_proof(session: AsyncSession, seq: int, tree_size: int) -> tuple[list[bytes], bytes]:
    """The audit path of event `seq` in the tree of `tree_size` events (RFC 9162 2.1.3), and that tree's root."""
    current = await size(session)
    _check_size(tree_size, current)
    if not 1 <= seq <= tree_size:
        raise TreeSizeOutOfRange(
            f"event {seq} is not in the tree of {tree_size} events (events are numbered from 1; the log holds {current})", tree_size=current
        )
    *path, root_hash = await _hashes(session, [*merkle.inclusion_ranges(seq - 1, tree_size), (0, tree_size)])
    return path, root_hash


async def consistency_proof(session: AsyncSession, first: int, second: int) -> tuple[list[bytes], bytes, bytes]:
    """The proof that the tree of `second` events extends the one of `first` (RFC 9162 2.1.4), and both roots."""
    current = await size(session)
    _check_size(second, current, "second")
    if not 1 <= first <= second:
        raise TreeSizeOutOfRange(
            f"first must be between 1 and second ({second}), not {first} (the log holds {current} events)", tree_size=current
        )
    *path, first_root, second_root = await _hashes(session, [*merkle.consistency_ranges(first, second), (0, first), (0, second)])
    return path, first_root, second_root


def _check_size(tree_size: int, current: int, name: str = "tree_size") -> None:
    if not 1 <= tree_size <= current:
        raise TreeSizeOutOfRange(f"{name} must be between 1 and the log's current size, {current}, not {tree_size}", tree_size=current)


async def _hashes(session: AsyncSession, ranges: list[Range]) -> list[bytes]:
    nodes = await _fetch(session, merkle.needed(ranges))
    return [merkle.subtree_hash(start, end, nodes) for start, end in ranges]


async def _fetch(session: AsyncSession, wanted: set[Node]) -> dict[Node, bytes]:
    if not wanted:
        return {}
    by_level: dict[int, list[int]] = defaultdict(list)
    for level, position in sorted(wanted):
        by_level[level].append(position)
    # One `level = ? AND position IN (…)` per level: SQLite searches its primary key for each (for a row-value
    # `(level, position) IN (…)` it scans the whole table), and so does PostgreSQL.
    where = or_(*(and_(AuditTreeNode.level == level, AuditTreeNode.position.in_(positions)) for level, positions in by_level.items()))
    rows = await session.execute(select(AuditTreeNode.level, AuditTreeNode.position, AuditTreeNode.hash).where(where))
    found = {(level, position): bytes(value) for level, position, value in rows}
    if len(found) != len(wanted):
        missing = sorted(wanted - found.keys())[:3]
        raise RuntimeError(f"the audit tree lacks stored nodes {missing}: run `cogov audit verify`")
    return found
