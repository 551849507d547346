"""A peer that opens a norm holding nothing of it gets the whole document in one message."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import uuid

import automerge.core as am
import cbor2
from sqlalchemy import func, select

from norms import document
from norms import residents as residents_module
from norms.errors import InvalidChanges
from norms.models import NormSnapshot
from services.realtime import sync_message
from services.realtime.client import _handshake
from tests.jspeer import ROOT, need_js_peer
from tests.realtime.test_interop import REPO_PEER, _lines


async def _edited_norm(app, client, network, norm, edits: int) -> dict:
    """The norm after `edits` HTTP edits, with a snapshot every 3 changes: a snapshot and changes after it."""
    store = app.state.norm_store
    store.limits = dataclasses.replace(store.limits, snapshot_every=3)
    for n in range(edits):
        response = await client.post(
            f"/api/v1/norms/{norm['id']}/edits",
            json={"splices": [{"index": 0, "delete": 0, "insert": f"{n} "}]},
            headers=network["members"][n % 2]["headers"],
        )
        assert response.status_code == 200, response.text
    return (await client.get(f"/api/v1/norms/{norm['id']}")).json()


async def _first_answer(live, ticket: str, wire_id: str, first: bytes) -> sync_message.SyncMessage:
    """Open `wire_id` on a raw socket with the sync message `first`; the server's first answer."""
    peer_id = f"raw-{uuid.uuid4().hex[:8]}"
    websocket, server_id = await _handshake(live, ticket, peer_id, None, 10)
    async with websocket:
        frame = {"type": "request", "senderId": peer_id, "targetId": server_id, "documentId": wire_id, "data": first}
        await websocket.send(cbor2.dumps(frame))
        answer = cbor2.loads(await asyncio.wait_for(websocket.recv(), 10))
    assert answer["type"] == "sync", answer
    return sync_message.decode(answer["data"])


def _fresh_peer_message() -> bytes:
    """The first message of an rc1 peer holding nothing: no heads, and a flags section (it reads V2)."""
    return am.Document().generate_sync_message(am.SyncState()).encode()


async def test_a_norm_not_in_memory_goes_out_from_the_database_before_any_load(app, client, network, norm, live, ticket_for):
    stored = await _edited_norm(app, client, network, norm, 5)
    store, document_id = app.state.norm_store, document.parse_document_id(norm["url"])
    async with app.state.sessionmaker() as session:
        snapshots = await session.scalar(select(func.count()).select_from(NormSnapshot).where(NormSnapshot.document_id == document_id))
    assert snapshots >= 1
    store.evict(document_id)

    first = _fresh_peer_message()
    assert sync_message.decode(first).flags is not None
    answer = await _first_answer(live, await ticket_for(network["members"][0]), norm["url"].removeprefix(document.URL_PREFIX), first)

    assert answer.version == sync_message.V2 and len(answer.changes) == 1
    assert not store.is_resident(document_id)  # answered without loading the document
    received = document.load(answer.changes[0])
    assert document.read_text(received) == stored["text"]
    assert sorted(h.hex() for h in answer.heads) == sorted(stored["heads"]) == sorted(document.heads_hex(received))


async def test_joins_of_an_unchanged_norm_share_one_save_and_an_edit_makes_a_new_one(app, client, network, norm, connect, monkeypatch):
    saves = []
    original = residents_module.save_document
    monkeypatch.setattr(residents_module, "save_document", lambda doc: saves.append(1) or original(doc))
    writer = await (await connect(network["members"][0])).open(norm["url"])  # from the database
    store = app.state.norm_store
    for _ in range(200):  # its answer makes the server load the document
        if store.is_resident(document.parse_document_id(norm["url"])):
            break
        await asyncio.sleep(0.02)
    assert store.is_resident(document.parse_document_id(norm["url"]))
    assert saves == []

    for _ in range(3):
        reader = await (await connect()).open(norm["url"])
        assert reader.text == writer.text
    assert len(saves) == 1

    await writer.splice(0, 0, "Edited: ")
    await writer.wait_synced()
    late = await (await connect()).open(norm["url"])
    assert late.text == "Edited: Platforms publish their ranking criteria."
    assert len(saves) == 2


async def test_a_peer_that_reads_only_v1_messages_gets_changes(app, network, norm, live, ticket_for):
    first = sync_message.decode(_fresh_peer_message())
    v1_only = sync_message.encode(dataclasses.replace(first, flags=None))
    answer = await _first_answer(live, await ticket_for(network["members"][0]), norm["url"].removeprefix(document.URL_PREFIX), v1_only)
    assert answer.version == sync_message.V1
    assert document.read_text(document.load(b"".join(answer.changes))) == "Platforms publish their ranking criteria."


async def test_a_stock_js_client_opens_a_norm_served_from_its_snapshot(app, client, network, norm, live, ticket_for):
    need_js_peer()
    stored = await _edited_norm(app, client, network, norm, 7)
    store, document_id = app.state.norm_store, document.parse_document_id(norm["url"])
    store.evict(document_id)
    served, original = [], store.whole

    async def whole(wanted: bytes):
        served.append(store.is_resident(wanted))
        return await original(wanted)

    store.whole = whole
    process = await asyncio.create_subprocess_exec(
        shutil.which("node"),
        str(REPO_PEER),
        f"{live}?ticket={await ticket_for(network['members'][1])}",
        norm["url"],
        "JS: ",
        "JS: ",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        events = _lines(process)
        async with asyncio.timeout(30):
            assert await anext(events) == {"event": "found", "text": stored["text"]}
            assert (await anext(events))["event"] == "edited"
            assert (await anext(events))["event"] == "saw"
            assert await process.wait() == 0, (await process.stderr.read()).decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert served == [False]  # the stock client reads V2: it was sent the document from the database
    # The JS edit reached the server, which loaded the document when the client answered.
    for _ in range(100):
        text = (await client.get(f"/api/v1/norms/{norm['id']}")).json()["text"]
        if text == "JS: " + stored["text"]:
            break
        await asyncio.sleep(0.05)
    assert text == "JS: " + stored["text"]


async def test_a_peer_loading_the_whole_document_hears_of_later_edits_when_it_answers(app, client, network, norm, live, ticket_for):
    peer_id = "raw-loading"
    websocket, server_id = await _handshake(live, await ticket_for(network["members"][0]), peer_id, None, 10)
    async with websocket:
        wire_id = norm["url"].removeprefix(document.URL_PREFIX)

        async def send(data: bytes, kind: str = "sync") -> None:
            await websocket.send(
                cbor2.dumps({"type": kind, "senderId": peer_id, "targetId": server_id, "documentId": wire_id, "data": data})
            )

        async def receive() -> bytes:
            return cbor2.loads(await asyncio.wait_for(websocket.recv(), 10))["data"]

        peer, state = am.Document(), am.SyncState()
        await send(peer.generate_sync_message(state).encode(), "request")
        whole = await receive()
        assert sync_message.decode(whole).version == sync_message.V2
        edited = await client.post(
            f"/api/v1/norms/{norm['id']}/edits",
            json={"splices": [{"index": 0, "delete": 0, "insert": "Later: "}]},
            headers=network["members"][1]["headers"],
        )
        assert edited.status_code == 200, edited.text
        # Nothing for it while it has not answered: rc1 knows nothing of this peer yet.
        try:
            early = await asyncio.wait_for(websocket.recv(), 0.5)
        except TimeoutError:
            early = None
        assert early is None, sync_message.decode(cbor2.loads(early)["data"])

        peer.receive_sync_message(state, am.Message.decode(whole))
        assert document.read_text(peer) == "Platforms publish their ranking criteria."
        while document.read_text(peer) != "Later: Platforms publish their ranking criteria.":
            reply = peer.generate_sync_message(state)
            if reply is not None:
                await send(reply.encode())
            peer.receive_sync_message(state, am.Message.decode(await receive()))


async def test_a_document_that_cannot_be_sent_whole_is_sent_change_by_change(app, network, norm, live, ticket_for, monkeypatch):
    async def unsaveable(document_id: bytes):
        raise InvalidChanges("rc1 could not save it")

    monkeypatch.setattr(app.state.norm_store, "whole", unsaveable)
    answer = await _first_answer(
        live, await ticket_for(network["members"][0]), norm["url"].removeprefix(document.URL_PREFIX), _fresh_peer_message()
    )
    assert document.read_text(document.load(b"".join(answer.changes))) == "Platforms publish their ranking criteria."
