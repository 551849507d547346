"""Live sync holds changes to the same rules as every other write: a change inserting a refused
character, or breaking the document's shape, closes the socket that sent it with a reason, nothing
of it is stored, and other peers carry on."""

from __future__ import annotations

import asyncio
import os

import automerge.core as am
import pytest

from norms import document
from services.realtime.client import SyncClient

ORIGINAL = "Platforms publish their ranking criteria."


async def _closed(sync_client: SyncClient, timeout: float = 10) -> tuple[int, str]:
    async with asyncio.timeout(timeout):
        return await sync_client.closed


def _made_elsewhere(doc: am.Document, edit) -> bytes:
    """The change `edit(transaction, body)` makes on a copy of `doc` by another actor of the same peer, encoded."""
    copy = doc.fork()
    copy.set_actor(os.urandom(16))
    before = copy.get_heads()
    with copy.transaction() as tx:
        edit(tx, document.body_id(copy))
    return b"".join(change.bytes for change in copy.get_changes(before))


REFUSED = {
    "NUL typed": (lambda tx, body: tx.insert(body, 0, am.ScalarType.Str, "\x00"), "U+0000"),
    "U+0001 in the title": (lambda tx, body: tx.put(am.ROOT, "title", am.ScalarType.Str, "\x01Title"), "U+0001"),
    "body deleted": (lambda tx, body: tx.delete(am.ROOT, "body"), "`body` is missing"),
    "body a number": (lambda tx, body: tx.put(am.ROOT, "body", am.ScalarType.F64, 1.5), "`body` is a number"),
    "body a map": (lambda tx, body: tx.put_object(am.ROOT, "body", am.ObjType.Map), "`body` is a map"),
}


@pytest.mark.parametrize("name", REFUSED)
async def test_a_refused_change_closes_its_socket_and_nothing_is_stored(client, network, norm, connect, name):
    edit, reason = REFUSED[name]
    other = await (await connect(network["members"][0])).open(norm["url"])
    sender_client = await connect(network["members"][1])
    sender = await sender_client.open(norm["url"])
    await sender.add_changes(_made_elsewhere(sender.doc, edit))

    code, closed_reason = await _closed(sender_client)
    assert code == 1007 and "nothing stored" in closed_reason and reason in closed_reason, (code, closed_reason)
    assert any(reason in error for error in sender_client.errors)
    current = (await client.get(f"/api/v1/norms/{norm['id']}")).json()
    assert (current["title"], current["text"], current["change_count"]) == (norm["title"], ORIGINAL, 1)

    # The other peer never hears of it and goes on editing; REST edits still work.
    await other.splice(0, 0, "All ")
    await other.wait_synced()
    edited = await client.post(
        f"/api/v1/norms/{norm['id']}/edits", json={"splices": [{"index": 0, "insert": "> "}]}, headers=network["members"][2]["headers"]
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["text"] == "> All " + ORIGINAL
