"""Forged authorship and equivocation, over HTTP and over sync: a change under an Automerge actor bound to
another participant, and a second change with the same actor and sequence number as a stored one
but other content. Each is refused (403/400 over HTTP; the socket closed with a reason over sync),
logged with its reason, and the stored change log stays exactly as it was."""

from __future__ import annotations

import os

import automerge.core as am
import cbor2
import websockets
from sqlalchemy import select
from structlog.testing import CapturingLogger

from norms import document
from norms import writes as writes_module
from norms.models import NormChange
from services.realtime import connection as connection_module
from services.realtime import sync_message
from services.realtime.client import SyncClient
from tests.realtime.servers import close_of

OCTETS = {"content-type": "application/octet-stream"}


def _change(saved: bytes, actor: bytes, text: str) -> bytes:
    """The change `actor` makes inserting `text` at the start of the saved document's body."""
    doc = am.Document.load(saved)
    return b"".join(document.apply_splices(doc, actor, [(0, 0, text)]))


async def _log_of_changes(app, document_id: bytes) -> list[tuple]:
    async with app.state.sessionmaker() as session:
        rows = await session.execute(
            select(NormChange.id, NormChange.hash, NormChange.actor, NormChange.seq, NormChange.data)
            .where(NormChange.document_id == document_id)
            .order_by(NormChange.id)
        )
        return [tuple(row) for row in rows]


async def _sync_changes(live: str, ticket: str, wire_id: str, change: bytes) -> tuple[int, str]:
    """Join with the ticket and send one sync message carrying `change`; the close code and reason."""
    socket = await websockets.connect(f"{live}?ticket={ticket}", max_size=None)
    await socket.send(cbor2.dumps({"type": "join", "senderId": "forger", "peerMetadata": {}, "supportedProtocolVersions": ["1"]}))
    server = cbor2.loads(await socket.recv())["senderId"]
    [parsed] = document.split_changes(change)
    data = sync_message.encode(sync_message.SyncMessage(sync_message.V1, (parsed.hash,), (), (), (change,)))
    await socket.send(cbor2.dumps({"type": "sync", "senderId": "forger", "targetId": server, "documentId": wire_id, "data": data}))
    return await close_of(socket)


async def test_forged_actors_and_equivocating_changes_are_refused_and_logged(client, app, network, norm, live, ticket_for, monkeypatch):
    captured = CapturingLogger()
    monkeypatch.setattr(writes_module, "log", captured)
    monkeypatch.setattr(connection_module, "log", captured)
    amina, bruno = network["members"][0], network["members"][1]
    document_id = document.parse_document_id(norm["url"])
    wire_id = norm["url"].removeprefix("automerge:")
    upload = f"/api/v1/norms/{norm['id']}/automerge"
    saved = (await client.get(upload)).content

    # Bruno's actor and Amina's actor each sign one honest change.
    bruno_actor, amina_actor = os.urandom(16), os.urandom(16)
    assert (await client.post(upload, content=_change(saved, bruno_actor, "Bruno. "), headers=OCTETS | bruno["headers"])).status_code == 200
    assert (await client.post(upload, content=_change(saved, amina_actor, "Amina. "), headers=OCTETS | amina["headers"])).status_code == 200
    before = await _log_of_changes(app, document_id)
    text_before = (await client.get(f"/api/v1/norms/{norm['id']}")).json()["text"]

    current = (await client.get(upload)).content
    forged = _change(current, bruno_actor, "Signed Bruno, written by Amina. ")  # Bruno's actor, its next seq, sent by Amina
    equivocation = _change(saved, amina_actor, "Amina says otherwise. ")  # Amina's actor and seq 1 again, other content
    [forged_change], [equivocating_change] = document.split_changes(forged), document.split_changes(equivocation)
    assert (forged_change.actor, forged_change.seq) == (bruno_actor, 2)
    assert (equivocating_change.actor, equivocating_change.seq) == (amina_actor, 1)
    assert equivocating_change.hash not in {row[1] for row in before}

    # Over HTTP.
    refused = await client.post(upload, content=forged, headers=OCTETS | amina["headers"])
    assert refused.status_code == 403 and refused.json()["code"] == "actor_bound_to_another_participant"
    refused = await client.post(upload, content=equivocation, headers=OCTETS | amina["headers"])
    assert refused.status_code == 400 and "sequence number" in refused.json()["detail"]
    # Over sync, each from a socket of its own: closed with the reason, nothing stored.
    code, reason = await _sync_changes(live, await ticket_for(amina), wire_id, forged)
    assert code == 1008 and "nothing stored" in reason
    code, reason = await _sync_changes(live, await ticket_for(amina), wire_id, equivocation)
    assert code == 1007 and "nothing stored" in reason

    assert await _log_of_changes(app, document_id) == before
    assert (await client.get(f"/api/v1/norms/{norm['id']}")).json()["text"] == text_before
    refusals = [call.kwargs["reason"] for call in captured.calls if call.args == ("store.changes_refused",)]
    assert len(refusals) == 4, refusals
    assert sum("belongs to another participant" in reason for reason in refusals) == 2
    assert sum("sequence number" in reason for reason in refusals) == 2
    closings = [call.kwargs for call in captured.calls if call.args == ("sync.closing",)]
    assert [closing["code"] for closing in closings] == [1008, 1007]
    # A new reader's replica holds no trace of either.
    async with await SyncClient.connect(live) as reader:
        handle = await reader.open(norm["url"])
        await handle.wait_for(lambda h: h.text == text_before)
        assert not handle.has_change(forged_change.hash) and not handle.has_change(equivocating_change.hash)
