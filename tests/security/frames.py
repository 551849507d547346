"""Hostile automerge-repo frames: valid messages from a real peer's state, then mutated every way a
broken or malicious peer could (bit flips, truncation, wrong types, huge declared lengths, deep
nesting, bad document ids, garbage Automerge sync payloads, random bytes). The same seed makes the same frames."""

from __future__ import annotations

import os
import random
import struct

import automerge.core as am
import base58
import cbor2

from norms import document


def valid_messages(peer: str, server: str, wire_id: str, saved: bytes) -> list[dict]:
    """One of each message a stock peer sends, with real Automerge sync payloads (`saved`: the norm's document)."""
    request = am.Document().generate_sync_message(am.SyncState()).encode()
    edited = am.Document.load(saved)
    document.apply_splices(edited, os.urandom(16), [(0, 0, "hostile text ")])
    sync = edited.generate_sync_message(am.SyncState()).encode()
    base = {"senderId": peer, "targetId": server, "documentId": wire_id}
    return [
        {"type": "join", "senderId": peer, "peerMetadata": {"isEphemeral": True}, "supportedProtocolVersions": ["1"]},
        base | {"type": "request", "data": request},
        base | {"type": "sync", "data": request},
        base | {"type": "sync", "data": sync},
        base | {"type": "ephemeral", "count": 1, "sessionId": "s1", "data": cbor2.dumps({"cursor": 3})},
        base | {"type": "doc-unavailable"},
        {"type": "remote-heads-changed", "senderId": peer, "targetId": server, "documentId": wire_id, "newHeads": {}},
        {"type": "remote-subscription-change", "senderId": peer, "targetId": server, "add": ["x"], "remove": []},
    ]


def _odd_value(rng: random.Random):
    return rng.choice(
        [
            None,
            True,
            -1,
            2**64 - 1,
            -(2**64),
            1.5,
            float("nan"),
            "",
            "x" * rng.randint(1, 3000),
            b"",
            rng.randbytes(rng.randint(1, 64)),
            [],
            [1, [2, [3]]],
            {},
            {"type": "sync"},
            cbor2.CBORTag(0, "2026-01-01T00:00:00Z"),
            cbor2.CBORTag(2, b"\xff" * 40),
            cbor2.CBORTag(99999, "unknown tag"),
            cbor2.undefined,
        ]
    )


def _bad_document_id(rng: random.Random, wire_id: str) -> object:
    return rng.choice(
        [
            "",
            "automerge:" + wire_id,
            wire_id[:-1],
            wire_id + "1",
            wire_id.lower(),
            "0OIl" * 5,
            base58.b58encode_check(rng.randbytes(rng.choice([0, 1, 15, 17, 32]))).decode(),
            base58.b58encode(rng.randbytes(20)).decode(),
            "é" * 300,
            "\x00" * 10,
            "../../etc/passwd",
            wire_id * 20,
            base58.b58encode_check(rng.randbytes(16)).decode(),  # well formed, no such document
        ]
    )


def _garbage_sync(rng: random.Random, sync: bytes) -> bytes:
    kind = rng.randrange(6)
    if kind == 0:
        return rng.randbytes(rng.randint(1, 200))
    if kind == 1:
        return bytes([0x42]) + rng.randbytes(rng.randint(0, 200))
    if kind == 2:  # huge LEB128 counts
        return bytes([rng.choice([0x42, 0x43])]) + b"\xff" * rng.randint(1, 12) + b"\x01"
    if kind == 3:  # a Bloom filter with absurd parameters
        return bytes([0x42, 0, 0, 1, 0]) + bytes([rng.randint(0, 255) for _ in range(4)]) + b"\x00" * rng.randint(0, 8)
    if kind == 4 and sync:
        flipped = bytearray(sync)
        for _ in range(rng.randint(1, 4)):
            flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
        return bytes(flipped)
    return sync[: rng.randint(0, max(0, len(sync) - 1))] or b"\x42"


def _huge_length_frame(rng: random.Random) -> bytes:
    head = b"\xa1\x64data"  # {"data": ...}
    return rng.choice(
        [
            head + b"\x5b" + struct.pack(">Q", 2**63),  # a byte string of 2**63 bytes, then nothing
            head + b"\x7b" + struct.pack(">Q", 2**40) + b"abc",  # a text string of a terabyte
            b"\x9b" + struct.pack(">Q", 2**62),  # an array of 2**62 items
            b"\xbb" + struct.pack(">Q", 2**62),  # a map of 2**62 pairs
            b"\x5f" + b"\x41a" * 1000,  # an indefinite byte string never ended
            b"\xbf" + b"\x61a\x01" * 10,  # an indefinite map never ended
        ]
    )


def _nested(rng: random.Random) -> bytes:
    depth = rng.choice([100, 1000, 10_000, 100_000])
    opener = rng.choice([b"\x81", b"\xa1\x61k", b"\xd8\x18\x81"])  # arrays, maps, tagged arrays
    return opener * depth + b"\x00"


def mutate(rng: random.Random, message: dict, wire_id: str) -> bytes:
    """One hostile frame derived from `message` (or from nothing)."""
    kind = rng.randrange(10)
    if kind == 0:  # bit flips in the encoded frame
        frame = bytearray(cbor2.dumps(message))
        for _ in range(rng.randint(1, 8)):
            frame[rng.randrange(len(frame))] ^= 1 << rng.randrange(8)
        return bytes(frame)
    if kind == 1:  # truncated
        frame = cbor2.dumps(message)
        return frame[: rng.randrange(len(frame))]
    if kind == 2:  # a field of the wrong type, or missing, or extra
        changed = dict(message)
        key = rng.choice([*changed, "extra", "type"])
        if rng.random() < 0.2:
            changed.pop(key, None)
        else:
            changed[key] = _odd_value(rng)
        return cbor2.dumps(changed)
    if kind == 3:
        return _huge_length_frame(rng)
    if kind == 4:
        return _nested(rng)
    if kind == 5 and "documentId" in message:
        return cbor2.dumps(message | {"documentId": _bad_document_id(rng, wire_id)})
    if kind == 6 and "data" in message:
        return cbor2.dumps(message | {"data": _garbage_sync(rng, message["data"])})
    if kind == 7:  # not a map, or random bytes
        return rng.choice([cbor2.dumps(_odd_value(rng)), rng.randbytes(rng.randint(0, 300)), b""])
    if kind == 8:  # an unknown type or a foreign sender
        return cbor2.dumps(message | rng.choice([{"type": "launch"}, {"senderId": "someone-else"}, {"targetId": "not-the-server"}]))
    return cbor2.dumps(message)  # a valid message, out of order or repeated
