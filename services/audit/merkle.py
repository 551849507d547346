"""Merkle trees as RFC 9162 section 2.1 defines them: hashes, proofs and their verification.

Pure functions over bytes, standard library only, no I/O: a monitor may copy this file alone.

Any subtree the RFC's recursion meets (always splitting at the largest power of two smaller
than the size) is a run of *perfect* subtrees: complete binary trees of 2**level leaves that
start at a multiple of their size. A perfect subtree is named `(level, position)`; it covers
leaves `[position * 2**level, (position + 1) * 2**level)` and its hash never changes once its
last leaf is appended, so it can be stored. Proofs are computed as lists of leaf ranges
(`pieces` says which perfect subtrees each range needs), then hashed from a `Nodes` mapping:
stored nodes in the database, or a `MemoryTree`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

Node = tuple[int, int]
Range = tuple[int, int]
Nodes = Mapping[Node, bytes]

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(leaf: bytes) -> bytes:
    """MTH({d}) = SHA-256(0x00 || d)."""
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(size: int) -> int:
    """k, the largest power of two smaller than `size` (size >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


def completed_by(index: int) -> list[Node]:
    """The perfect subtrees (level >= 1) that appending leaf `index` completes, lowest first."""
    levels = ((index + 1) & -(index + 1)).bit_length() - 1
    return [(level, ((index + 1) >> level) - 1) for level in range(1, levels + 1)]


def pieces(start: int, end: int) -> list[Node]:
    """The perfect subtrees whose right fold is MTH(D[start:end]), left to right.

    `[start, end)` must be a range the RFC's recursion meets (as every range of a proof is).
    """
    found = []
    while end > start:
        size = end - start
        width = size if size & (size - 1) == 0 else split(size)
        level = width.bit_length() - 1
        if start % width:
            raise ValueError(f"[{start}, {end}) is not a subtree of an RFC 9162 Merkle tree")
        found.append((level, start >> level))
        start += width
    return found


def fold(hashes: Sequence[bytes]) -> bytes:
    """MTH of a range from its pieces' hashes: each piece is the left child of the rest."""
    if not hashes:
        return EMPTY_ROOT
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def needed(ranges: Iterable[Range]) -> set[Node]:
    """Every stored node the hashes of `ranges` read."""
    return {node for start, end in ranges for node in pieces(start, end)}


def subtree_hash(start: int, end: int, nodes: Nodes) -> bytes:
    """MTH(D[start:end]) from stored perfect subtrees."""
    return fold([nodes[node] for node in pieces(start, end)])


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """RFC 9162 2.1.3.1 PATH(index, D[0:size]) as the leaf ranges whose hashes form it, in proof order."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    top_down = []
    start, end = 0, size
    while end - start > 1:
        k = split(end - start)
        if index < start + k:
            top_down.append((start + k, end))
            end = start + k
        else:
            top_down.append((start, start + k))
            start += k
    return top_down[::-1]


def consistency_ranges(first: int, second: int) -> list[Range]:
    """RFC 9162 2.1.4.1 PROOF(first, D[0:second]) as leaf ranges, in proof order; empty when the sizes are equal."""
    if not 0 < first <= second:
        raise ValueError(f"no consistency proof from {first} to {second}")
    if first == second:
        return []
    top_down = []
    start, end, m, complete = 0, second, first, True
    while m != end - start:
        k = split(end - start)
        if m <= k:
            top_down.append((start + k, end))
            end = start + k
        else:
            top_down.append((start, start + k))
            start, m, complete = start + k, m - k, False
    base = [] if complete else [(start, end)]
    return base + top_down[::-1]


def verify_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 2.1.3.2: whether `path` proves the leaf hash `leaf` is at `index` in the tree of `size` with `root`."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, path: Sequence[bytes]) -> bool:
    """RFC 9162 2.1.4.2: whether `path` proves the tree of `second` with `second_root` extends the one of `first`."""
    if not 0 < first <= second:
        return False
    if first == second:
        return not path and first_root == second_root
    if not path:
        return False
    path = list(path)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_root and sr == second_root and sn == 0


class MemoryTree(Mapping[Node, bytes]):
    """Every perfect subtree of a list of leaf hashes, computed once (for checks that read the whole log)."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.levels = [list(leaves)]
        while len(self.levels[-1]) > 1:
            below = self.levels[-1]
            self.levels.append([node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def __getitem__(self, node: Node) -> bytes:
        level, position = node
        if level >= len(self.levels) or not 0 <= position < len(self.levels[level]):
            raise KeyError(node)
        return self.levels[level][position]

    def __iter__(self):
        return ((level, position) for level, row in enumerate(self.levels) for position in range(len(row)))

    def __len__(self) -> int:
        return sum(len(row) for row in self.levels)

    def root(self, size: int | None = None) -> bytes:
        return subtree_hash(0, self.size if size is None else size, self)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        return [subtree_hash(start, end, self) for start, end in inclusion_ranges(index, size)]

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        return [subtree_hash(start, end, self) for start, end in consistency_ranges(first, second)]
