"""What every write must leave: changes within the text policy and a document that is still a norm's.

Uploaded Automerge changes are refused with a 422 and a code, and nothing is stored, when they insert
a refused character or remove or replace the root's `title` string or `body` Text; the norm stays
editable. (The same checks close a live sync socket: tests/realtime/test_text_policy.py.)
"""

from __future__ import annotations

import os

import automerge.core as am
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from norms import document

OCTETS = {"content-type": "application/octet-stream"}


async def _saved(client, norm) -> bytes:
    return (await client.get(f"/api/v1/norms/{norm['id']}/automerge")).content


def _change(saved: bytes, edit) -> tuple[am.Document, bytes]:
    """A peer's replica of the norm and the change `edit(transaction, body)` makes on it, encoded."""
    peer = document.load(saved, actor=os.urandom(16))
    before = peer.get_heads()
    with peer.transaction() as tx:
        edit(tx, document.body_id(peer))
    return peer, b"".join(change.bytes for change in peer.get_changes(before))


BREAKING = {
    "body deleted": (lambda tx, body: tx.delete(am.ROOT, "body"), "`body` is missing"),
    "body a number": (lambda tx, body: tx.put(am.ROOT, "body", am.ScalarType.Int, 7), "`body` is a number; it must be a Text object"),
    "body a list": (lambda tx, body: tx.put_object(am.ROOT, "body", am.ObjType.List), "`body` is a list"),
    "body a map": (lambda tx, body: tx.put_object(am.ROOT, "body", am.ObjType.Map), "`body` is a map"),
    "body a string": (lambda tx, body: tx.put(am.ROOT, "body", am.ScalarType.Str, "flat"), "`body` is a string"),
    "title deleted": (lambda tx, body: tx.delete(am.ROOT, "title"), "`title` is missing (it must be a string)"),
    "title a list": (lambda tx, body: tx.put_object(am.ROOT, "title", am.ObjType.List), "`title` is a list; it must be a string"),
}


async def test_a_change_that_breaks_the_documents_shape_is_422_and_the_norm_stays_editable(client, network, norm):
    headers = network["members"][1]["headers"] | OCTETS
    saved = await _saved(client, norm)
    for name, (edit, reason) in BREAKING.items():
        peer, change = _change(saved, edit)
        for body in (change, peer.save()):  # as a change, and inside a saved document
            refused = await client.post(f"/api/v1/norms/{norm['id']}/automerge", content=body, headers=headers)
            assert refused.status_code == 422, (name, refused.text)
            assert refused.json()["code"] == "not_a_norm_document", name
            assert reason in refused.json()["detail"], (name, refused.json()["detail"])

    current = (await client.get(f"/api/v1/norms/{norm['id']}")).json()
    assert (current["title"], current["text"], current["change_count"]) == (norm["title"], norm["text"], 1)
    edited = await client.post(
        f"/api/v1/norms/{norm['id']}/edits", json={"splices": [{"index": 0, "insert": "All "}]}, headers=network["members"][0]["headers"]
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["text"] == "All " + norm["text"]


async def test_anything_else_on_the_root_is_the_peers_business(client, network, norm):
    def edit(tx, body):
        tx.put(am.ROOT, "language", am.ScalarType.Str, "en")
        tx.put_object(am.ROOT, "comments", am.ObjType.List)
        title = tx.put_object(am.ROOT, "title", am.ObjType.Text)  # as JS Automerge 3 writes strings
        tx.insert(title, 0, am.ScalarType.Str, "T")

    _peer, change = _change(await _saved(client, norm), edit)
    accepted = await client.post(f"/api/v1/norms/{norm['id']}/automerge", content=change, headers=network["members"][1]["headers"] | OCTETS)
    assert accepted.status_code == 200, accepted.text
    assert (await client.get(f"/api/v1/norms/{norm['id']}")).json()["title"] == "T"


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda tx, body: tx.insert(body, 3, am.ScalarType.Str, "\x01"), id="body U+0001"),
        pytest.param(lambda tx, body: tx.put(am.ROOT, "title", am.ScalarType.Str, "Title\x00"), id="title NUL"),
        pytest.param(lambda tx, body: tx.put(am.ROOT, "note", am.ScalarType.Str, "\x1b[31m"), id="any string U+001B"),
    ],
)
async def test_changes_inserting_refused_characters_are_422_and_store_nothing(client, network, norm, edit):
    peer, change = _change(await _saved(client, norm), edit)
    hash_hex = document.split_changes(change)[0].hash_hex
    for body in (change, peer.save()):
        refused = await client.post(
            f"/api/v1/norms/{norm['id']}/automerge", content=body, headers=network["members"][1]["headers"] | OCTETS
        )
        assert refused.status_code == 422, refused.text
        answer = refused.json()
        assert answer["code"] == "refused_character" and answer["change"] == hash_hex
        assert answer["character"] in ("U+0001", "U+0000", "U+001B") and answer["character"] in answer["detail"]
    current = (await client.get(f"/api/v1/norms/{norm['id']}")).json()
    assert (current["title"], current["text"], current["change_count"]) == (norm["title"], norm["text"], 1)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.text(st.characters(codec=None, exclude_categories=("Cs",)), max_size=30), min_size=1, max_size=4),
    st.one_of(st.none(), st.text(st.characters(codec=None, exclude_categories=("Cs",)), max_size=10)),
)
def test_string_values_are_the_characters_a_change_inserts(inserts, title):
    doc, _ = document.create("Title", "", os.urandom(16))
    made = document.apply_splices(doc, os.urandom(16), [(0, 0, text) for text in inserts], title=title)
    expected = ("" if title is None or title == "Title" else title) + "".join(inserts)  # in op order: the title first
    changes = document.split_changes(b"".join(made)) if made else []
    assert "".join(document.string_values(change) for change in changes) == expected
