"""Binary interchange with Automerge peers: download, upload, attribution, and hostile bytes."""

from __future__ import annotations

import os

import automerge.core as am

from norms import document
from tests.jspeer import js_edit, need_js_peer

OCTETS = {"content-type": "application/octet-stream"}


async def _saved(client, norm) -> bytes:
    response = await client.get(f"/api/v1/norms/{norm['id']}/automerge")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    return response.content


async def _history(client, norm) -> list[dict]:
    return (await client.get(f"/api/v1/norms/{norm['id']}/history", params={"limit": 200})).json()["items"]


async def test_download_loads_in_any_automerge_peer(client, norm):
    doc = document.load(await _saved(client, norm))
    assert document.read_text(doc) == norm["text"]
    assert document.heads_hex(doc) == norm["heads"]


async def test_a_js_peers_change_merges_and_is_attributed_to_who_posted_it(client, network, norm):
    need_js_peer()
    third = network["members"][2]
    change = js_edit(await _saved(client, norm), os.urandom(16), len(norm["text"]) - 1, 1, " every year.")
    response = await client.post(f"/api/v1/norms/{norm['id']}/automerge", content=change, headers=third["headers"] | OCTETS)
    assert response.status_code == 200, response.text
    assert len(response.json()["stored"]) == 1

    current = (await client.get(f"/api/v1/norms/{norm['id']}")).json()
    assert current["text"] == "Platforms publish their ranking criteria every year."
    assert current["heads"] == response.json()["heads"]
    spans = (await client.get(f"/api/v1/norms/{norm['id']}/authorship")).json()["spans"]
    by_person = [(current["text"][s["start"] : s["end"]], s["participant"]["display_name"]) for s in spans]
    assert by_person == [("Platforms publish their ranking criteria", "Amina"), (" every year.", "Chen")]
    assert (await _history(client, norm))[0]["participant"]["display_name"] == "Chen"

    again = await client.post(f"/api/v1/norms/{norm['id']}/automerge", content=change, headers=third["headers"] | OCTETS)
    assert again.json()["stored"] == []  # idempotent: a change already stored is skipped


async def test_a_saved_document_from_a_peer_merges_its_new_changes(client, network, norm):
    peer = document.load(await _saved(client, norm), actor=os.urandom(16))
    document.apply_splices(peer, peer.get_actor(), [(0, 0, "All ")])
    response = await client.post(
        f"/api/v1/norms/{norm['id']}/automerge", content=peer.save(), headers=network["members"][1]["headers"] | OCTETS
    )
    assert response.status_code == 200, response.text
    assert len(response.json()["stored"]) == 1
    assert (await client.get(f"/api/v1/norms/{norm['id']}")).json()["text"] == "All " + norm["text"]


async def test_an_actor_bound_to_someone_else_is_refused_and_nothing_is_stored(client, network, norm):
    amina, bruno = network["members"][0], network["members"][1]
    actor = os.urandom(16)
    peer = document.load(await _saved(client, norm), actor=actor)
    first = document.apply_splices(peer, actor, [(0, 0, "A")])
    assert (
        await client.post(f"/api/v1/norms/{norm['id']}/automerge", content=b"".join(first), headers=amina["headers"] | OCTETS)
    ).status_code == 200
    before = await _history(client, norm)

    forged = document.apply_splices(peer, actor, [(0, 0, "B")])  # Bruno sends Amina's actor's next change
    refused = await client.post(f"/api/v1/norms/{norm['id']}/automerge", content=b"".join(forged), headers=bruno["headers"] | OCTETS)
    assert refused.status_code == 403
    assert refused.json()["code"] == "actor_bound_to_another_participant"
    assert await _history(client, norm) == before
    assert (await client.get(f"/api/v1/norms/{norm['id']}")).json()["text"] == "A" + norm["text"]


async def test_hostile_bytes_are_400_with_a_reason_and_store_nothing(client, network, norm):
    headers = network["members"][0]["headers"] | OCTETS
    before = await _history(client, norm)
    peer = document.load(await _saved(client, norm), actor=os.urandom(16))
    change = b"".join(document.apply_splices(peer, peer.get_actor(), [(0, 0, "Z")]))
    orphan_doc = am.Document(os.urandom(16))
    with orphan_doc.transaction() as tx:
        tx.put(am.ROOT, "x", am.ScalarType.Str, "1")
    with orphan_doc.transaction() as tx:
        tx.put(am.ROOT, "x", am.ScalarType.Str, "2")
    orphan = orphan_doc.get_changes(orphan_doc.get_heads()[:0])[1].bytes  # its dependency is unknown here

    cases = {
        "garbage": (b"\x00\x01 not automerge at all", "invalid_changes"),
        "empty": (b"", "invalid_changes"),
        "truncated": (change[: len(change) // 2], "invalid_changes"),
        "flipped checksum": (change[:4] + bytes([change[4] ^ 0xFF]) + change[5:], "invalid_changes"),
        "unknown dependency": (orphan, "missing_dependencies"),
        "good then garbage": (change + b"\x85\x6f\x4a\x83junk", "invalid_changes"),
    }
    for name, (data, code) in cases.items():
        response = await client.post(f"/api/v1/norms/{norm['id']}/automerge", content=data, headers=headers)
        assert (response.status_code, response.json()["code"]) == (400, code), name
        assert response.json()["detail"], name
    assert await _history(client, norm) == before
    assert (await client.get(f"/api/v1/norms/{norm['id']}")).json()["text"] == norm["text"]


async def test_outsiders_cannot_upload(client, network, norm):
    peer = document.load(await _saved(client, norm), actor=os.urandom(16))
    change = b"".join(document.apply_splices(peer, peer.get_actor(), [(0, 0, "Z")]))
    response = await client.post(f"/api/v1/norms/{norm['id']}/automerge", content=change, headers=network["outsider"]["headers"] | OCTETS)
    assert response.status_code == 403
    assert (await client.post(f"/api/v1/norms/{norm['id']}/automerge", content=change, headers=OCTETS)).status_code == 401
