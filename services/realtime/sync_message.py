"""Automerge sync messages, read and written in Python so nothing hostile reaches rc1 unchecked.

A sync message (type 0x42, or 0x43 when its changes are one saved document) holds the sender's
heads, the hashes it needs, summaries of what it has (a last-sync point and a Bloom filter of the
changes since), the changes it sends, and optionally a trailing flags section. rc1 parses these
too, but a Bloom filter with zero bits or a huge probe count makes Rust divide by zero or allocate
without bound; those are refused here first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from norms import automerge_binary as binary

HASH_BYTES = 32
V1, V2 = 0x42, 0x43
# Automerge writes 10 bits per entry and 7 probes; anything far from that is not from a real peer.
MAX_BITS_PER_ENTRY = 64
MAX_PROBES = 64
MAX_HASHES = 100_000


class InvalidSyncMessage(ValueError):
    """Bytes that are not an Automerge sync message (or one no honest peer would send)."""


@dataclass(frozen=True)
class Have:
    last_sync: tuple[bytes, ...]
    bloom: bytes  # as on the wire: empty, or entries, bits per entry, probes, then the bits


@dataclass(frozen=True)
class SyncMessage:
    version: int
    heads: tuple[bytes, ...]
    need: tuple[bytes, ...]
    have: tuple[Have, ...]
    changes: tuple[bytes, ...]  # each a change chunk (V1) or one saved document (V2)
    flags: bytes | None = field(default=None)  # the trailing section's bytes, kept as sent

    def without_changes(self) -> SyncMessage:
        return replace(self, version=V1, changes=())

    def with_need(self, need: set[bytes]) -> SyncMessage:
        return replace(self, need=tuple(sorted(need)))


def at_heads(heads: Iterable[bytes], changes: tuple[bytes, ...] = ()) -> bytes:
    """A message from a side that holds `heads` (once `changes`, if any, are applied) and takes them as shared.

    Its summary (last sync at those heads, an empty Bloom filter) makes the receiver send back
    exactly its changes beyond them, and nothing it was just sent.
    """
    ordered = tuple(sorted(heads))
    return encode(SyncMessage(V1, ordered, (), (Have(ordered, b""),), tuple(changes)))


def whole_document(heads: Iterable[bytes], data: bytes) -> bytes:
    """A V2 message from a side at `heads` carrying `data`, a saved document (maybe followed by changes).

    For a peer that holds nothing and reads V2 (it sent a flags section): it loads the document in
    one go instead of applying each change. The summary is as in `at_heads`.
    """
    ordered = tuple(sorted(heads))
    return encode(SyncMessage(V2, ordered, (), (Have(ordered, b""),), (data,)))


def decode(data: bytes) -> SyncMessage:
    """Parse and check a sync message; raises ``InvalidSyncMessage`` saying what is wrong."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidSyncMessage("sync data must be bytes")
    reader = _Reader(bytes(data))
    version = reader.byte()
    if version not in (V1, V2):
        raise InvalidSyncMessage(f"not a sync message (first byte {version:#x}, expected 0x42 or 0x43)")
    heads = reader.hashes("heads")
    need = reader.hashes("need")
    have = tuple(_read_have(reader) for _ in range(reader.count("have")))
    changes = tuple(reader.take(reader.uleb()) for _ in range(reader.count("changes")))
    if any(not change for change in changes):
        raise InvalidSyncMessage("a sync message carries an empty change")
    flags = None
    if not reader.done:
        flags = reader.take(reader.uleb())
        if not reader.done:
            raise InvalidSyncMessage(f"{reader.left} unexpected bytes after the sync message")
    return SyncMessage(version, heads, need, have, changes, flags)


def encode(message: SyncMessage) -> bytes:
    out = bytearray([message.version])
    for hashes in (message.heads, message.need):
        out += binary.encode_uleb(len(hashes)) + b"".join(sorted(hashes))
    out += binary.encode_uleb(len(message.have))
    for have in message.have:
        out += binary.encode_uleb(len(have.last_sync)) + b"".join(sorted(have.last_sync))
        out += binary.encode_uleb(len(have.bloom)) + have.bloom
    out += binary.encode_uleb(len(message.changes))
    for change in message.changes:
        out += binary.encode_uleb(len(change)) + change
    if message.flags is not None:
        out += binary.encode_uleb(len(message.flags)) + message.flags
    return bytes(out)


def _read_have(reader: _Reader) -> Have:
    last_sync = reader.hashes("have.lastSync")
    bloom = reader.take(reader.uleb())
    _check_bloom(bloom)
    return Have(last_sync, bloom)


def _check_bloom(bloom: bytes) -> None:
    if not bloom:
        return
    reader = _Reader(bloom, "Bloom filter")
    entries, bits_per_entry, probes = reader.uleb(), reader.uleb(), reader.uleb()
    if entries == 0:
        raise InvalidSyncMessage("a non-empty Bloom filter with no entries")
    if not 1 <= bits_per_entry <= MAX_BITS_PER_ENTRY or not 1 <= probes <= MAX_PROBES:
        raise InvalidSyncMessage(f"Bloom filter parameters out of range ({bits_per_entry} bits/entry, {probes} probes)")
    expected = (entries * bits_per_entry + 7) // 8
    if reader.left != expected:
        raise InvalidSyncMessage(f"Bloom filter has {reader.left} bytes of bits, expected {expected}")


class _Reader(binary.Reader):
    """Automerge's binary reader with a sync message's limits: integers are rc1's u32, counts fit the bytes left."""

    def __init__(self, data: bytes, where: str = "sync message") -> None:
        super().__init__(data, 0, where, error=InvalidSyncMessage, leb_bytes=5)

    def count(self, what: str) -> int:
        n = self.uleb()
        if n > MAX_HASHES or n > self.left:
            raise InvalidSyncMessage(f"{what}: count {n} is more than the message can hold")
        return n

    def hashes(self, what: str) -> tuple[bytes, ...]:
        n = self.count(what)
        return tuple(self.take(HASH_BYTES) for _ in range(n))
