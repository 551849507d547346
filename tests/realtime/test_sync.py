"""Live sync through real sockets: edits are stored before anyone hears of them, and reach every peer."""

from __future__ import annotations

import os

import cbor2

from norms import document
from services.realtime import sync_message
from services.realtime.client import _handshake


async def test_two_members_see_each_others_edits(client, network, norm, connect):
    amina, bruno = network["members"][0], network["members"][1]
    first = await (await connect(amina)).open(norm["url"])
    second = await (await connect(bruno)).open(norm["url"])
    assert first.text == second.text == "Platforms publish their ranking criteria."

    await first.splice(0, 0, "Large ")
    await second.wait_for(lambda handle: handle.text.startswith("Large "))
    await second.splice(len(second.text), 0, " Yearly.")
    await first.wait_for(lambda handle: handle.text.endswith("Yearly."))
    await first.wait_synced()

    stored = await client.get(f"/api/v1/norms/{norm['id']}")
    assert stored.json()["text"] == "Large Platforms publish their ranking criteria. Yearly."
    history = await client.get(f"/api/v1/norms/{norm['id']}/history")
    authors = {entry["participant"]["display_name"] for entry in history.json()["items"]}
    assert {"Amina", "Bruno"} <= authors


async def test_http_edits_reach_live_peers(client, network, norm, connect):
    reader = await (await connect()).open(norm["url"])
    response = await client.post(
        f"/api/v1/norms/{norm['id']}/edits",
        json={"splices": [{"index": 0, "delete": 0, "insert": "New: "}]},
        headers=network["members"][1]["headers"],
    )
    assert response.status_code == 200, response.text
    await reader.wait_for(lambda handle: handle.text.startswith("New: "))
    assert document.read_title(reader.doc) == "Recommender transparency"


async def test_a_message_that_brings_nothing_new_is_not_answered_twice(network, norm, live, ticket_for):
    """Two rc1 peers whose heads differ answer each other's heads-only messages: the server breaks that loop."""
    websocket, server_id = await _handshake(live, await ticket_for(network["members"][0]), "py-idle-peer", None, 10)
    async with websocket:
        wire_id = norm["url"].removeprefix(document.URL_PREFIX)
        claimed = sync_message.encode(sync_message.SyncMessage(sync_message.V1, (os.urandom(32),), (), (), ()))
        frame = {"type": "sync", "senderId": "py-idle-peer", "targetId": server_id, "documentId": wire_id, "data": claimed}
        await websocket.send(cbor2.dumps(frame))
        first = cbor2.loads(await websocket.recv())
        assert first["type"] == "sync"
        # The server asks for the head it lacks, whatever rc1 put in its answer.
        assert sync_message.decode(first["data"]).need == frame_heads(claimed)

        # The same message again, then a request for a document nobody has: the next frame answers the request.
        await websocket.send(cbor2.dumps(frame))
        unknown = document.document_url(os.urandom(16)).removeprefix(document.URL_PREFIX)
        await websocket.send(cbor2.dumps({**frame, "type": "request", "documentId": unknown, "data": claimed}))
        after = cbor2.loads(await websocket.recv())
        assert (after["type"], after["documentId"]) == ("doc-unavailable", unknown)


def frame_heads(data: bytes) -> tuple[bytes, ...]:
    return sync_message.decode(data).heads
