"""The automerge-repo network protocol over a WebSocket: CBOR frames in, checked messages out.

What `@automerge/automerge-repo-network-websocket` 2.x sends: a client `join`
{senderId, peerMetadata, supportedProtocolVersions} answered by `peer` {senderId, peerMetadata,
selectedProtocolVersion: "1", targetId}; then the repo messages of automerge-repo's
`src/network/messages.ts`: `request` and `sync` {documentId, data: sync message}, `ephemeral`
{documentId, count, sessionId, data}, `doc-unavailable`, `remote-heads-changed`,
`remote-subscription-change`; and `error` {message} before the sender closes.

`decode_frame` turns any bytes into one of the dataclasses below or raises `ProtocolError`
carrying the WebSocket close code and reason; it never raises anything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cbor2

PROTOCOL_VERSION = "1"
MAX_ID_LENGTH = 256

# Close codes (RFC 6455 and the 4000-4999 private range).
NORMAL = 1000
GOING_AWAY = 1001
UNSUPPORTED_DATA = 1003
INVALID_DATA = 1007
POLICY = 1008
TOO_BIG = 1009
INTERNAL_ERROR = 1011
TRY_AGAIN_LATER = 1013
UNAUTHORIZED = 4401
FORBIDDEN = 4403


class ProtocolError(Exception):
    """The peer broke the protocol: close its socket with `code` and `reason`."""

    def __init__(self, reason: str, code: int = INVALID_DATA) -> None:
        super().__init__(reason)
        self.reason = reason[:120]  # a close reason must fit in 123 bytes
        self.code = code


@dataclass(frozen=True)
class Join:
    sender_id: str
    peer_metadata: dict
    protocol_versions: tuple[str, ...] | None


@dataclass(frozen=True)
class SyncFrame:
    type: str  # "request" or "sync"
    sender_id: str
    target_id: str
    document_id: str
    data: bytes


@dataclass(frozen=True)
class EphemeralFrame:
    sender_id: str
    target_id: str
    document_id: str
    count: int
    session_id: str
    data: bytes


@dataclass(frozen=True)
class DocUnavailableFrame:
    sender_id: str
    target_id: str
    document_id: str


@dataclass(frozen=True)
class Ignored:
    """A valid message the server has no use for (remote heads gossip, subscriptions)."""

    type: str
    sender_id: str


Frame = Join | SyncFrame | EphemeralFrame | DocUnavailableFrame | Ignored
REPO_TYPES = ("request", "sync", "ephemeral", "doc-unavailable", "remote-heads-changed", "remote-subscription-change")


def decode_frame(frame: bytes) -> Frame:
    """The message in one binary WebSocket frame, checked; `ProtocolError` for anything else."""
    try:
        message = cbor2.loads(frame)
    except Exception as exc:  # cbor2 raises many kinds (decode errors, tag errors, recursion, memory)
        raise ProtocolError(f"not CBOR: {type(exc).__name__}") from None
    if not isinstance(message, dict):
        raise ProtocolError(f"a message is a CBOR map, not {type(message).__name__}")
    kind = message.get("type")
    if kind == "join":
        return _join(message)
    if kind not in REPO_TYPES:
        raise ProtocolError(f"unknown message type {str(kind)[:40]!r}" if isinstance(kind, str) else "message has no type")
    sender, target = _id(message, "senderId"), _id(message, "targetId")
    if kind in ("request", "sync"):
        return SyncFrame(kind, sender, target, _id(message, "documentId"), _bytes(message, "data"))
    if kind == "ephemeral":
        count = message.get("count")
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count < 2**53:
            raise ProtocolError("ephemeral message: count must be a non-negative integer")
        return EphemeralFrame(sender, target, _id(message, "documentId"), count, _id(message, "sessionId"), _bytes(message, "data"))
    if kind == "doc-unavailable":
        return DocUnavailableFrame(sender, target, _id(message, "documentId"))
    return Ignored(kind, sender)


def _join(message: dict) -> Join:
    metadata = message.get("peerMetadata", {})
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise ProtocolError("join: peerMetadata must be a map")
    versions = message.get("supportedProtocolVersions")
    if versions is not None and (not isinstance(versions, list) or not all(isinstance(v, str) for v in versions)):
        raise ProtocolError("join: supportedProtocolVersions must be a list of strings")
    return Join(_id(message, "senderId"), metadata, tuple(versions) if versions is not None else None)


def _id(message: dict, key: str) -> str:
    value = message.get(key)
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_LENGTH:
        raise ProtocolError(f"{message.get('type')}: {key} must be a string of 1 to {MAX_ID_LENGTH} characters")
    return value


def _bytes(message: dict, key: str) -> bytes:
    value = message.get(key)
    if not isinstance(value, bytes) or not value:
        raise ProtocolError(f"{message.get('type')}: {key} must be non-empty bytes")
    return value


# --- Frames the server sends ----------------------------------------------------------


def encode(message: dict[str, Any]) -> bytes:
    return cbor2.dumps(message)


def peer(server_id: str, target_id: str) -> bytes:
    return encode(
        {
            "type": "peer",
            "senderId": server_id,
            # No storageId: the server keeps no per-client sync state across connections.
            "peerMetadata": {"isEphemeral": False},
            "selectedProtocolVersion": PROTOCOL_VERSION,
            "targetId": target_id,
        }
    )


def error(server_id: str, target_id: str, text: str) -> bytes:
    return encode({"type": "error", "senderId": server_id, "targetId": target_id, "message": text})


def sync(server_id: str, target_id: str, document_id: str, data: bytes) -> bytes:
    return encode({"type": "sync", "senderId": server_id, "targetId": target_id, "documentId": document_id, "data": data})


def doc_unavailable(server_id: str, target_id: str, document_id: str) -> bytes:
    return encode({"type": "doc-unavailable", "senderId": server_id, "targetId": target_id, "documentId": document_id})


def ephemeral(frame: EphemeralFrame, target_id: str) -> bytes:
    """The sender's ephemeral message as it sent it, addressed to another peer: the server adds nothing."""
    return encode(
        {
            "type": "ephemeral",
            "senderId": frame.sender_id,
            "targetId": target_id,
            "count": frame.count,
            "sessionId": frame.session_id,
            "documentId": frame.document_id,
            "data": frame.data,
        }
    )
