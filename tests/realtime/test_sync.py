"""Live sync through real sockets: edits are stored before anyone hears of them, and reach every peer."""

from __future__ import annotations

import asyncio
import os

import automerge.core as am
import cbor2
import pytest

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


async def test_a_new_peer_hears_nothing_before_the_answer_to_its_first_message(app, network, norm, live, ticket_for):
    """The room a first peer opens does not offer it the document while its own message is on its way."""
    hub = app.state.sync_hub
    original = hub.receive

    async def slow_receive(peer_document, parsed):
        await asyncio.sleep(0.3)  # the room's first subscription and catch-up finish before this
        await original(peer_document, parsed)

    hub.receive = slow_receive
    websocket, server_id = await _handshake(live, await ticket_for(network["members"][0]), "py-first-peer", None, 10)
    async with websocket:
        wire_id = norm["url"].removeprefix(document.URL_PREFIX)
        claimed = sync_message.encode(sync_message.SyncMessage(sync_message.V1, (os.urandom(32),), (), (), ()))
        await websocket.send(
            cbor2.dumps({"type": "sync", "senderId": "py-first-peer", "targetId": server_id, "documentId": wire_id, "data": claimed})
        )
        first = cbor2.loads(await websocket.recv())
        assert sync_message.decode(first["data"]).need == frame_heads(claimed)


def frame_heads(data: bytes) -> tuple[bytes, ...]:
    return sync_message.decode(data).heads


def record_changes(handle) -> list[list[document.Change]]:
    """The changes of each sync message the server sends this replica, as they arrive."""
    received: list[list[document.Change]] = []
    original = handle._receive

    async def receive(data: bytes) -> None:
        message = sync_message.decode(data)
        received.append(document.split_changes(b"".join(message.changes)) if message.changes else [])
        await original(data)

    handle._receive = receive
    return received


async def test_a_caught_up_writer_hears_others_changes_but_never_its_own(network, norm, connect):
    amina, bruno = network["members"][0], network["members"][1]
    first = await (await connect(amina)).open(norm["url"])
    second = await (await connect(bruno)).open(norm["url"])
    heard = record_changes(first)
    for n in range(12):
        await first.splice(0, 0, "ab"[n % 2])
        await second.splice(len(second.text), 0, "xy"[n % 2])
        await asyncio.sleep(0.01)
    await first.wait_for(lambda handle: handle.text.endswith("xyxyxyxyxyxy") and handle.text.startswith("babababababa"))
    await second.wait_for(lambda handle: handle.text == first.text)
    await first.wait_synced()
    actors = {change.actor for message in heard for change in message}
    assert actors == {second.actor}  # every change of Bruno's reached Amina, none of hers came back


async def test_a_burst_reaches_readers_in_one_message_per_interval(app, network, norm, connect):
    app.state.sync_hub.settings.sync_batch_seconds = 0.4
    app.state.sync_hub.settings.sync_batch_seconds_per_peer = 0.4
    writer = await (await connect(network["members"][0])).open(norm["url"])
    reader = await (await connect()).open(norm["url"])
    heard = record_changes(reader)
    for letter in "abcdefghij":  # ten changes within about 0.2 s, under the 0.4 s interval
        await writer.splice(0, 0, letter)
        await asyncio.sleep(0.02)
    await reader.wait_for(lambda handle: handle.text.startswith("jihgfedcba"))
    carrying = [message for message in heard if message]
    assert sum(map(len, carrying)) == 10
    assert len(carrying) <= 3  # the first change at once, the rest together after the interval


async def test_two_people_on_a_norm_are_not_held_for_a_crowded_rooms_interval(app, network, norm, connect):
    """Rounds of a room of n peers come n × `sync_batch_seconds_per_peer` apart, not `sync_batch_seconds`."""
    app.state.sync_hub.settings.sync_batch_seconds = 60  # a whole minute: waited for, the text would never come in time
    writer = await (await connect(network["members"][0])).open(norm["url"])
    reader = await (await connect()).open(norm["url"])
    for letter in "abc":  # each change goes in a round of its own, the ones after the first within the interval
        await writer.splice(0, 0, letter)
        await reader.wait_for(lambda handle, letter=letter: handle.text.startswith(letter))


async def test_peers_follow_a_document_reloaded_under_them(app, client, network, norm, connect):
    """A resident copy dropped and loaded again (a failed write does that) starts a new journal: peers fall back to rc1."""
    writer = await (await connect(network["members"][0])).open(norm["url"])
    reader = await (await connect()).open(norm["url"])
    await writer.splice(0, 0, "One. ")
    await reader.wait_for(lambda handle: handle.text.startswith("One. "))
    store = app.state.sync_hub.store
    store.evict(document.parse_document_id(norm["url"]))
    await writer.splice(0, 0, "Two. ")
    await reader.wait_for(lambda handle: handle.text.startswith("Two. One. "))
    store.evict(document.parse_document_id(norm["url"]))
    response = await client.post(
        f"/api/v1/norms/{norm['id']}/edits",
        json={"splices": [{"index": 0, "delete": 0, "insert": "Three. "}]},
        headers=network["members"][1]["headers"],
    )
    assert response.status_code == 200, response.text
    for handle in (writer, reader):
        await handle.wait_for(lambda handle: handle.text.startswith("Three. Two. One. "))
    await writer.wait_synced()


async def test_the_journal_lets_go_of_what_every_peer_has(app, network, norm, connect):
    writer = await (await connect(network["members"][0])).open(norm["url"])
    reader = await (await connect()).open(norm["url"])
    for letter in "abcde":
        await writer.splice(0, 0, letter)
    await reader.wait_for(lambda handle: handle.text.startswith("edcba"))
    await writer.wait_synced()
    journal = app.state.sync_hub.store.journal(document.parse_document_id(norm["url"]))
    async with asyncio.timeout(5):
        while journal.entries:  # the round after the last change forgets it
            await asyncio.sleep(0.05)
    assert journal.end >= 5 and journal.since(journal.end) == []


async def test_a_caught_up_peer_sends_each_edit_by_hand_as_just_that_change(network, norm, connect):
    """Once the server reported exactly its heads, the Python peer sends each edit at once, without rc1's sync state."""
    writer = await (await connect(network["members"][0])).open(norm["url"])
    reader = await (await connect()).open(norm["url"])
    await writer.splice(0, 0, "a")
    await writer.wait_synced()
    sent = []
    original = writer.client._send

    async def spy(message: dict) -> None:
        sent.append(message)
        await original(message)

    writer.client._send = spy
    rc1 = writer.doc = _CountingSync(writer.doc, writer)
    made, heads = [], []
    for letter in "bcd":  # rc1 would hold the second and third back while the first is unacknowledged
        made += await writer.splice(0, 0, letter)
        heads.append(tuple(sorted(writer.doc.get_heads())))
    await reader.wait_for(lambda handle: handle.text.startswith("dcba"))
    await writer.wait_synced()
    carrying = [
        parsed for message in sent if message["type"] == "sync" for parsed in [sync_message.decode(message["data"])] if parsed.changes
    ]
    assert [[document.split_changes(data)[0].hash for data in parsed.changes] for parsed in carrying] == [[h] for h in made]
    assert [parsed.heads for parsed in carrying] == heads
    assert all(not parsed.need for parsed in carrying)
    assert rc1.calls == []  # nothing went through the peer's rc1 sync state


class _CountingSync:
    """A replica that records each use of its handle's rc1 sync state."""

    def __init__(self, doc, handle) -> None:
        self._doc, self._handle, self.calls = doc, handle, []

    def __getattr__(self, name: str):
        attribute = getattr(self._doc, name)
        if name not in ("generate_sync_message", "receive_sync_message"):
            return attribute

        def counted(state, *args):
            if state is self._handle.state:
                self.calls.append(name)
            return attribute(state, *args)

        return counted


async def test_a_caught_up_peer_hands_changes_made_elsewhere_to_rc1(network, norm, connect):
    writer = await (await connect(network["members"][0])).open(norm["url"])
    await writer.splice(0, 0, "a")
    await writer.wait_synced()
    offline = document.load(writer.doc.save(), actor=os.urandom(16))  # another replica of the same member
    made = [data for letter in "xyz" for data in document.apply_splices(offline, offline.get_actor(), [(0, 0, letter)])]
    await writer.add_changes(b"".join(made), send=False)
    await writer.flush()
    reader = await (await connect()).open(norm["url"])
    await reader.wait_for(lambda handle: handle.text.startswith("zyxa"))
    await writer.wait_synced()


class _SilentReader:
    """A protocol peer that joins a norm, becomes caught up, then answers only when told to."""

    def __init__(self, websocket, server_id: str, wire_id: str) -> None:
        self.websocket, self.server_id, self.wire_id = websocket, server_id, wire_id
        self.doc = None

    @classmethod
    async def join(cls, live: str, norm: dict) -> _SilentReader:
        websocket, server_id = await _handshake(live, None, "py-silent-reader", None, 10)
        reader = cls(websocket, server_id, norm["url"].removeprefix(document.URL_PREFIX))
        # What an empty Automerge document asks first: the server answers with the whole document.
        await reader._send("request", am.Document().generate_sync_message(am.SyncState()).encode())
        whole = await reader.next_changes(5)
        reader.doc = document.load(b"".join(whole.changes))
        await reader.answer()  # "I hold your heads": from here on the server sends by hand what it lacks
        return reader

    async def _send(self, kind: str, data: bytes) -> None:
        frame = {"type": kind, "senderId": "py-silent-reader", "targetId": self.server_id, "documentId": self.wire_id, "data": data}
        await self.websocket.send(cbor2.dumps(frame))

    async def next_changes(self, timeout: float) -> sync_message.SyncMessage:
        """The next sync message that carries changes (merged into this reader's copy once it has one)."""
        async with asyncio.timeout(timeout):
            while True:
                frame = cbor2.loads(await self.websocket.recv())
                if frame["type"] == "sync":
                    message = sync_message.decode(frame["data"])
                    if message.changes:
                        if self.doc is not None:
                            document.merge_changes(self.doc, document.split_changes(b"".join(message.changes)))
                        return message

    async def answer(self) -> None:
        await self._send("sync", sync_message.at_heads(self.doc.get_heads()))


async def test_a_peer_busy_with_the_last_changes_gets_the_next_ones_together_when_it_answers(app, network, norm, live, connect):
    app.state.sync_hub.settings.sync_answer_seconds = 30
    reader = await _SilentReader.join(live, norm)
    async with reader.websocket:
        writer = await (await connect(network["members"][0])).open(norm["url"])
        await writer.splice(0, 0, "a")
        first = await reader.next_changes(5)
        assert len(first.changes) == 1
        for letter in "bcde":  # each in a round of its own (rounds are 0.1 s apart)
            await asyncio.sleep(0.15)
            await writer.splice(0, 0, letter)
        await writer.wait_synced()
        with pytest.raises(TimeoutError):  # nothing more until the reader answers the first message
            await reader.next_changes(0.5)

        await reader.answer()
        rest = await reader.next_changes(5)
        assert len(rest.changes) == 4  # the four held back, in one message
        assert document.read_text(reader.doc) == "edcba" + norm["text"]


async def test_a_peer_that_never_answers_still_gets_every_change(app, network, norm, live, connect):
    app.state.sync_hub.settings.sync_answer_seconds = 0.4
    reader = await _SilentReader.join(live, norm)
    async with reader.websocket:
        writer = await (await connect(network["members"][0])).open(norm["url"])
        for letter in "abcdef":
            await writer.splice(0, 0, letter)
            await asyncio.sleep(0.15)
        messages = 0
        while document.read_text(reader.doc) != "fedcba" + norm["text"]:
            await reader.next_changes(5)
            messages += 1
        assert messages < 6  # held back while unanswered, then sent together


async def test_open_returns_once_the_replica_holds_the_servers_heads_not_at_the_first_message():
    """A room's round can reach a new peer before the answer to its request, with the server's
    heads and no changes (rc1's first message): `open` waits for the changes, on a real socket."""
    from websockets.asyncio.server import serve

    from services.realtime import protocol
    from services.realtime.client import SyncClient

    doc, made = document.create("Title", "The text the server holds.", os.urandom(16))
    heads = tuple(doc.get_heads())
    wire_id = document.document_url(os.urandom(16)).removeprefix(document.URL_PREFIX)

    async def scripted(websocket) -> None:
        join = cbor2.loads(await websocket.recv())
        await websocket.send(protocol.peer("scripted-server", join["senderId"]))
        request = cbor2.loads(await websocket.recv())
        assert request["type"] == "request"
        await websocket.send(protocol.sync("scripted-server", join["senderId"], wire_id, sync_message.at_heads(heads)))
        await asyncio.sleep(0.3)  # the heads alone, for a while
        await websocket.send(protocol.sync("scripted-server", join["senderId"], wire_id, sync_message.at_heads(heads, tuple(made))))
        await websocket.wait_closed()

    async with serve(scripted, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        client = await SyncClient.connect(f"ws://127.0.0.1:{port}/")
        try:
            handle = await client.open(document.URL_PREFIX + wire_id, timeout=5)
            assert handle.text == "The text the server holds."
        finally:
            await client.close()
