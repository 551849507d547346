"""The frame and sync-message decoders take any bytes: a checked message or ProtocolError, nothing else."""

from __future__ import annotations

import automerge.core as am
import cbor2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from norms import document
from services.realtime import protocol, sync_message
from services.realtime.protocol import ProtocolError

SERVER = "cogov-server"
DOC_ID = "2j4oYbXQfCcdoLRFBrHWZNX3kYmk"


def _valid_sync_data() -> bytes:
    doc, _ = document.create("t", "hello", b"\x01" * 16)
    return doc.generate_sync_message(am.SyncState()).encode()


SYNC_DATA = _valid_sync_data()
VALID_FRAMES = [
    cbor2.dumps({"type": "join", "senderId": "p", "peerMetadata": {}, "supportedProtocolVersions": ["1"]}),
    cbor2.dumps({"type": "sync", "senderId": "p", "targetId": SERVER, "documentId": DOC_ID, "data": SYNC_DATA}),
    cbor2.dumps({"type": "request", "senderId": "p", "targetId": SERVER, "documentId": DOC_ID, "data": SYNC_DATA}),
    cbor2.dumps(
        {"type": "ephemeral", "senderId": "p", "targetId": SERVER, "documentId": DOC_ID, "count": 1, "sessionId": "s", "data": b"\xa0"}
    ),
    cbor2.dumps({"type": "doc-unavailable", "senderId": "p", "targetId": SERVER, "documentId": DOC_ID}),
]


def _decodes_or_refuses(frame: bytes) -> None:
    try:
        decoded = protocol.decode_frame(frame)
    except ProtocolError as exc:
        assert exc.code in (1007, 1008) and exc.reason
        return
    assert isinstance(
        decoded, protocol.Join | protocol.SyncFrame | protocol.EphemeralFrame | protocol.DocUnavailableFrame | protocol.Ignored
    )


@settings(max_examples=2000, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=512))
def test_random_bytes(frame):
    _decodes_or_refuses(frame)


@st.composite
def mutated(draw, seeds):
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 8))):
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        position = draw(st.integers(0, max(len(data) - 1, 0)))
        if action == "flip" and data:
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif action == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete" and data:
            del data[position]
        elif action == "truncate":
            del data[position:]
    return bytes(data)


@settings(max_examples=3000, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(VALID_FRAMES))
def test_mutated_frames(frame):
    _decodes_or_refuses(frame)


@st.composite
def cbor_messages(draw):
    value = st.one_of(
        st.none(), st.booleans(), st.integers(), st.text(max_size=20), st.binary(max_size=40), st.lists(st.integers(), max_size=3)
    )
    keys = st.sampled_from(
        ["type", "senderId", "targetId", "documentId", "data", "count", "sessionId", "peerMetadata", "supportedProtocolVersions"]
    )
    message = draw(st.dictionaries(keys, value, max_size=8))
    if draw(st.booleans()):
        message["type"] = draw(
            st.sampled_from(["join", "sync", "request", "ephemeral", "doc-unavailable", "remote-heads-changed", "peer", ""])
        )
    return cbor2.dumps(message)


@settings(max_examples=1000, suppress_health_check=[HealthCheck.too_slow])
@given(cbor_messages())
def test_maps_of_the_wrong_shape(frame):
    _decodes_or_refuses(frame)


@settings(max_examples=2000, suppress_health_check=[HealthCheck.too_slow])
@given(mutated([SYNC_DATA, bytes([0x42, 0, 0, 0, 0])]))
def test_sync_messages_the_decoder_accepts_are_safe_for_rc1(data):
    """What our decoder lets through, rc1 decodes and receives without a panic (which would poison the document)."""
    try:
        sync_message.decode(data)
    except sync_message.InvalidSyncMessage:
        return
    doc, _ = document.create("t", "hello", b"\x02" * 16)
    try:
        message = am.Message.decode(data)
        doc.receive_sync_message(am.SyncState(), message)
        doc.generate_sync_message(am.SyncState())
    except Exception:
        pass  # refused cleanly: the server closes the socket
