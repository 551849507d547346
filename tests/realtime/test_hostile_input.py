"""Bad frames close only the socket that sent them, with a reason; nothing stored is lost."""

from __future__ import annotations

import cbor2
import websockets

from tests.realtime.servers import close_of

ORIGINAL = "Platforms publish their ranking criteria."


async def _joined(live: str) -> tuple[websockets.ClientConnection, str]:
    socket = await websockets.connect(live, max_size=None)
    await socket.send(cbor2.dumps({"type": "join", "senderId": "hostile", "peerMetadata": {}, "supportedProtocolVersions": ["1"]}))
    answer = cbor2.loads(await socket.recv())
    assert answer["type"] == "peer" and answer["selectedProtocolVersion"] == "1" and answer["targetId"] == "hostile"
    return socket, answer["senderId"]


def _sync(server: str, document_id: str, data: bytes) -> bytes:
    return cbor2.dumps({"type": "sync", "senderId": "hostile", "targetId": server, "documentId": document_id, "data": data})


BAD_FRAMES = {
    "not CBOR": (lambda server, doc: b"\xff\x00garbage", 1007, "not CBOR"),
    "CBOR list": (lambda server, doc: cbor2.dumps([1, 2, 3]), 1007, "CBOR map"),
    "unknown type": (lambda server, doc: cbor2.dumps({"type": "launch", "senderId": "hostile"}), 1007, "unknown message type"),
    "sync without data": (
        lambda server, doc: cbor2.dumps({"type": "sync", "senderId": "hostile", "targetId": server, "documentId": doc}),
        1007,
        "data",
    ),
    "data not a sync message": (
        lambda server, doc: _sync(server, doc, b"\x85\x6f\x4a\x83 not sync"),
        1007,
        "not an Automerge sync message",
    ),
    "bloom filter with no bits": (
        lambda server, doc: _sync(server, doc, bytes([0x42, 0, 0, 1, 0, 3, 5, 0, 7, 0])),
        1007,
        "Bloom",
    ),
    "another sender": (
        lambda server, doc: cbor2.dumps(
            {"type": "sync", "senderId": "someone-else", "targetId": server, "documentId": doc, "data": b"\x42\x00\x00\x00\x00"}
        ),
        1008,
        "senderId",
    ),
}


async def test_bad_frames_close_only_their_socket(client, network, norm, connect, live):
    member_client = await connect(network["members"][0])
    member = await member_client.open(norm["url"])
    for name, (make, code, reason) in BAD_FRAMES.items():
        socket, server = await _joined(live)
        await socket.send(make(server, norm["url"].removeprefix("automerge:")))
        closed_code, closed_reason = await close_of(socket)
        assert closed_code == code and reason in closed_reason, name

    await member.splice(0, 0, "Still here. ")
    await member.wait_synced()
    assert not member_client.closed.done()
    assert (await client.get(f"/api/v1/norms/{norm['id']}")).json()["text"] == "Still here. " + ORIGINAL


async def test_text_frame_and_message_before_join(live):
    socket = await websockets.connect(live)
    await socket.send("hello")
    assert (await close_of(socket))[0] == 1003
    socket = await websockets.connect(live)
    await socket.send(cbor2.dumps({"type": "sync", "senderId": "x", "targetId": "y", "documentId": "z", "data": b"\x42"}))
    code, reason = await close_of(socket)
    assert code == 1008 and "join" in reason


async def test_frame_over_8_mib_closes_1009(live):
    socket, _server = await _joined(live)
    await socket.send(b"\x00" * (8 * 1024 * 1024 + 1))
    code, reason = await close_of(socket)
    assert code == 1009 and "limit" in reason


async def test_flood_is_throttled_then_closed(live, norm):
    socket, server = await _joined(live)
    frame = cbor2.dumps({"type": "doc-unavailable", "senderId": "hostile", "targetId": server, "documentId": "x"})
    try:
        for _ in range(3000):
            await socket.send(frame)
    except websockets.ConnectionClosed:
        pass
    code, reason = await close_of(socket)
    assert code == 1008 and "messages per second" in reason


async def test_unsupported_protocol_version_is_refused(live):
    socket = await websockets.connect(live)
    await socket.send(cbor2.dumps({"type": "join", "senderId": "future", "peerMetadata": {}, "supportedProtocolVersions": ["9"]}))
    error = cbor2.loads(await socket.recv())
    assert error["type"] == "error" and "protocol version" in error["message"]
    assert (await close_of(socket))[0] == 1008
