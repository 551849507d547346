"""Versions, diffs, history, the time slider and authorship, as readers of a norm see them."""

from __future__ import annotations

import asyncio
import hashlib
import uuid

from alembic import command

import migrations
from norms import service
from norms.models import Norm


async def _edit(client, norm, person, *splices, **extra):
    body = {"splices": [dict(zip(("index", "delete", "insert"), splice, strict=True)) for splice in splices], **extra}
    response = await client.post(f"/api/v1/norms/{norm['id']}/edits", json=body, headers=person["headers"])
    assert response.status_code == 200, response.text
    return response.json()


async def _tag(client, norm, person, label, note=""):
    response = await client.post(f"/api/v1/norms/{norm['id']}/versions", json={"label": label, "note": note}, headers=person["headers"])
    assert response.status_code == 201, response.text
    return response.json()


async def test_versions_keep_the_text_they_were_tagged_with(client, network, norm):
    amina, bruno = network["members"][:2]
    v1 = await _tag(client, norm, amina, "First draft", "For discussion")
    assert v1["number"] == 1
    assert v1["heads"] == norm["heads"]
    assert v1["text_sha256"] == hashlib.sha256(norm["text"].encode()).hexdigest()
    assert v1["created_by"]["display_name"] == "Amina"

    await _edit(client, norm, bruno, (10, 7, "disclose"))
    v2 = await _tag(client, norm, bruno, "Second draft")
    await _edit(client, norm, bruno, (0, 0, "All "))

    first = (await client.get(f"/api/v1/norms/{norm['id']}/versions/1")).json()
    second = (await client.get(f"/api/v1/norms/{norm['id']}/versions/2")).json()
    assert first["text"] == "Platforms publish their ranking criteria."
    assert second["text"] == "Platforms disclose their ranking criteria."
    assert second["text_sha256"] == hashlib.sha256(second["text"].encode()).hexdigest()
    listing = (await client.get(f"/api/v1/norms/{norm['id']}/versions")).json()
    assert [(v["number"], v["label"]) for v in listing] == [(1, "First draft"), (2, "Second draft")]
    assert (await client.get(f"/api/v1/norms/{norm['id']}")).json()["current_version"] == 2
    assert v2["number"] == 2

    # Immutable: there is no way to change or remove a version.
    for method in ("PUT", "PATCH", "DELETE"):
        response = await client.request(method, f"/api/v1/norms/{norm['id']}/versions/1", json={"label": "x"}, headers=amina["headers"])
        assert response.status_code == 405
    assert (await client.get(f"/api/v1/norms/{norm['id']}/versions/1")).json() == first
    tagged = (await client.get("/api/v1/audit", params={"action": "norm.version_created"})).json()["items"]
    assert [event["payload"]["number"] for event in tagged] == [2, 1]


async def test_version_errors(client, network, norm):
    assert (await client.get(f"/api/v1/norms/{norm['id']}/versions/7")).status_code == 404
    assert (await client.get(f"/api/v1/norms/{norm['id']}/versions/7")).json()["code"] == "version_not_found"
    outsider = await client.post(f"/api/v1/norms/{norm['id']}/versions", json={"label": "Mine"}, headers=network["outsider"]["headers"])
    assert outsider.status_code == 403
    empty = await client.post(f"/api/v1/norms/{norm['id']}/versions", json={"label": "  "}, headers=network["members"][0]["headers"])
    assert empty.status_code == 422
    assert (await client.get(f"/api/v1/norms/{norm['id']}/versions")).json() == []


async def test_diff_between_versions_shows_exactly_the_words_added_and_removed(client, network, norm):
    amina = network["members"][0]
    await _tag(client, norm, amina, "v1")
    await _edit(client, norm, amina, (10, 7, "disclose"), (0, 0, "Large "))
    await _tag(client, norm, amina, "v2")

    diff = (await client.get(f"/api/v1/norms/{norm['id']}/diff", params={"from": "1", "to": "2"})).json()
    assert diff["from"] == "v1" and diff["to"] == "v2"
    changed = [(s["op"], s["text"]) for s in diff["segments"] if s["op"] != "equal"]
    assert changed == [("insert", "Large "), ("delete", "publish"), ("insert", "disclose")]
    assert "".join(s["text"] for s in diff["segments"] if s["op"] != "insert") == "Platforms publish their ranking criteria."
    assert "".join(s["text"] for s in diff["segments"] if s["op"] != "delete") == "Large Platforms disclose their ranking criteria."
    assert diff["stats"]["words_deleted"] == 1

    unified = await client.get(f"/api/v1/norms/{norm['id']}/diff", params={"from": "v1", "to": "current", "format": "unified"})
    assert unified.headers["content-type"].startswith("text/plain")
    assert "-Platforms publish their ranking criteria." in unified.text
    assert "+Large Platforms disclose their ranking criteria." in unified.text

    by_heads = await client.get(f"/api/v1/norms/{norm['id']}/diff", params={"from": ",".join(norm["heads"])})
    assert by_heads.json()["segments"] == diff["segments"]


async def test_diff_refuses_what_is_not_a_point_in_history(client, norm):
    for params, status in (
        ({"from": "9"}, 404),
        ({"from": "yesterday"}, 422),
        ({"from": "ab" * 32}, 422),
        ({"from": "1", "format": "html"}, 422),
        ({}, 422),
    ):
        response = await client.get(f"/api/v1/norms/{norm['id']}/diff", params=params)
        assert response.status_code == status, params


async def test_history_is_newest_first_with_who_and_how_much(client, network, norm):
    amina, bruno = network["members"][:2]
    await _edit(client, norm, bruno, (0, 0, "All "))
    await _edit(client, norm, amina, (0, 4, ""))
    await _edit(client, norm, bruno, (9, 0, ", large and small,"))

    page = (await client.get(f"/api/v1/norms/{norm['id']}/history", params={"limit": 2})).json()
    assert [(e["participant"]["display_name"], e["inserted"], e["deleted"]) for e in page["items"]] == [("Bruno", 18, 0), ("Amina", 0, 4)]
    rest = (await client.get(f"/api/v1/norms/{norm['id']}/history", params={"limit": 2, "cursor": page["next_cursor"]})).json()
    assert [(e["participant"]["display_name"], e["inserted"], e["deleted"]) for e in rest["items"]] == [
        ("Bruno", 4, 0),
        ("Amina", len(norm["text"]), 0),
    ]
    assert rest["next_cursor"] is None

    # The time slider: the text right after each change.
    texts = []
    for entry in reversed(page["items"] + rest["items"]):
        at = await client.get(f"/api/v1/norms/{norm['id']}/text", params={"at": entry["hash"]})
        texts.append(at.json()["text"])
    assert texts == [
        "Platforms publish their ranking criteria.",
        "All Platforms publish their ranking criteria.",
        "Platforms publish their ranking criteria.",
        "Platforms, large and small, publish their ranking criteria.",
    ]


async def test_text_at_an_unknown_or_malformed_change(client, norm):
    assert (await client.get(f"/api/v1/norms/{norm['id']}/text", params={"at": "ab" * 32})).status_code == 404
    assert (await client.get(f"/api/v1/norms/{norm['id']}/text", params={"at": "nope"})).status_code == 422


async def test_authorship_names_who_typed_each_character(client, network, norm):
    amina, bruno, chen = network["members"]
    await _edit(client, norm, bruno, (0, 0, "All "))
    await _edit(client, norm, chen, (len("All Platforms publish their ranking criteria"), 0, ", yearly"))
    current = (await client.get(f"/api/v1/norms/{norm['id']}")).json()
    authorship = (await client.get(f"/api/v1/norms/{norm['id']}/authorship")).json()
    assert authorship["heads"] == current["heads"]
    spans = [(current["text"][s["start"] : s["end"]], s["participant"]["display_name"]) for s in authorship["spans"]]
    assert spans == [
        ("All ", "Bruno"),
        ("Platforms publish their ranking criteria", "Amina"),
        (", yearly", "Chen"),
        (".", "Amina"),
    ]
    assert authorship["spans"][-1]["end"] == len(current["text"])


async def test_authorship_read_in_a_session_older_than_the_latest_edit_names_its_author(app, client, network, norm):
    """A page's session may begin reading before a member's first edit is committed (SQLite keeps one snapshot
    per transaction) and then read the resident copy, which has it: the new text still has its author."""
    bruno = network["members"][1]
    async with app.state.sessionmaker() as session:
        stored = await session.get(Norm, uuid.UUID(norm["id"]))  # the session's reading begins here
        assert stored is not None
        await _edit(client, norm, bruno, (0, 0, "All "))
        found = await service.authorship(session, app.state.norm_store, stored)
    assert [(span.start, span.end, span.participant.display_name) for span in found.spans][:2] == [(0, 4, "Bruno"), (4, 45, "Amina")]


async def test_versions_tagged_before_texts_were_stored_get_theirs_from_the_document(app, client, database_url, network, norm):
    amina = network["members"][0]
    await _tag(client, norm, amina, "First")
    await _edit(client, norm, amina, (10, 7, "disclose"))
    await _tag(client, norm, amina, "Second")
    await _edit(client, norm, amina, (0, 0, "All "))
    await app.state.sessionmaker.kw["bind"].dispose()  # no pooled connection holds the table the migration rebuilds
    # Back to the schema without version texts, and forward again: the migration reads them at each version's heads.
    await asyncio.to_thread(command.downgrade, migrations.alembic_config(database_url), "3f0c2a9d7b1e")
    await asyncio.to_thread(migrations.upgrade, database_url)

    texts = [(await client.get(f"/api/v1/norms/{norm['id']}/versions/{n}")).json() for n in (1, 2)]
    assert [version["text"] for version in texts] == [
        "Platforms publish their ranking criteria.",
        "Platforms disclose their ranking criteria.",
    ]
    assert [hashlib.sha256(v["text"].encode()).hexdigest() for v in texts] == [v["text_sha256"] for v in texts]
