"""Discussion threads through the API: on passages that follow edits, replies, @mentions, resolve and reopen,
hiding abuse; on SQLite and PostgreSQL."""

from __future__ import annotations

from norms.discussions import find_mentions
from tests.fixtures.norms import TEXT


async def edit(client, norm, person, index, delete, insert):
    response = await client.post(
        f"/api/v1/norms/{norm['id']}/edits",
        json={"splices": [{"index": index, "delete": delete, "insert": insert}]},
        headers=person["headers"],
    )
    assert response.status_code == 200, response.text


def test_mentions_name_members_only():
    amina, amin = "a", "b"
    members = {amina: "Amina Mwangi", amin: "Amin"}
    assert find_mentions("Thanks @amina mwangi and @Amin, not @Olga.", members) == [(amina, 7, 20), (amin, 25, 30)]  # type: ignore[list-item]
    assert find_mentions("@Aminata", members) == []  # type: ignore[arg-type]
    assert find_mentions("mail me at x@y", members) == []  # type: ignore[arg-type]


async def test_a_thread_on_a_passage_follows_edits_and_detaches_when_it_is_deleted(client, council):
    amina, bruno, *_ = council["members"]
    norm = council["norm"]
    start = TEXT.index("ranking criteria")
    opened = await client.post(
        f"/api/v1/norms/{norm['id']}/threads",
        json={
            "body": "Which criteria, @Bruno? Ask @Olga Outsider too.",
            "anchor": {"start": start, "end": start + 16, "quote": "ranking criteria"},
        },
        headers=amina["headers"],
    )
    assert opened.status_code == 201, opened.text
    thread = opened.json()
    assert thread["anchor"]["state"] == "exact" and thread["anchor"]["current"] == "ranking criteria"
    [post] = thread["posts"]
    # Bruno is a member and linked; Olga is not, and stays text.
    assert [(m["participant"]["display_name"], post["body"][m["start"] : m["end"]]) for m in post["mentions"]] == [("Bruno", "@Bruno")]
    # Edits before the passage move it; the thread follows.
    await edit(client, norm, bruno, 0, 0, "All ")
    [moved] = (await client.get(f"/api/v1/norms/{norm['id']}/threads")).json()
    assert (moved["anchor"]["state"], moved["anchor"]["current_start"]) == ("exact", start + 4)
    # Replies; resolve and reopen by members.
    replied = await client.post(f"/api/v1/threads/{thread['id']}/posts", json={"body": "The main ones."}, headers=bruno["headers"])
    assert [p["body"] for p in replied.json()["posts"]] == ["Which criteria, @Bruno? Ask @Olga Outsider too.", "The main ones."]
    resolved = await client.put(f"/api/v1/threads/{thread['id']}/status", json={"status": "resolved"}, headers=bruno["headers"])
    assert resolved.json()["status"] == "resolved" and resolved.json()["resolved_by"]["display_name"] == "Bruno"
    reopened = await client.put(f"/api/v1/threads/{thread['id']}/status", json={"status": "open"}, headers=amina["headers"])
    assert reopened.json()["status"] == "open" and reopened.json()["resolved_by"] is None
    # Deleting the passage detaches the thread.
    await edit(client, norm, bruno, start + 4, 16, "")
    [detached] = (await client.get(f"/api/v1/norms/{norm['id']}/threads")).json()
    assert detached["anchor"]["state"] == "lost" and detached["anchor"]["current"] is None
    assert detached["anchor"]["quote"] == "ranking criteria"


async def test_only_members_post_everyone_reads_and_conveners_hide_with_a_reason(client, council):
    amina, bruno, *_ = council["members"]
    outsider = council["outsider"]
    norm = council["norm"]
    url = f"/api/v1/norms/{norm['id']}/threads"
    assert (await client.post(url, json={"body": "Hello"}, headers=outsider["headers"])).status_code == 403
    assert (await client.post(url, json={"body": "Hello"})).status_code == 401
    assert (await client.post(url, json={"body": "   "}, headers=bruno["headers"])).status_code == 422
    bad = await client.post(url, json={"body": "On this", "anchor": {"start": 0, "end": 9, "quote": "Companies"}}, headers=bruno["headers"])
    assert bad.status_code == 422
    thread = (await client.post(url, json={"body": "You are all fools"}, headers=bruno["headers"])).json()
    assert thread["anchor"] is None
    post_id = thread["posts"][0]["id"]
    assert (
        await client.post(f"/api/v1/threads/{thread['id']}/posts", json={"body": "Me too"}, headers=outsider["headers"])
    ).status_code == 403
    assert (await client.post(f"/api/v1/posts/{post_id}/hide", json={"reason": "Abuse"}, headers=bruno["headers"])).status_code == 403
    hidden = await client.post(f"/api/v1/posts/{post_id}/hide", json={"reason": "Abusive language"}, headers=amina["headers"])
    assert hidden.status_code == 200
    # Readers who are not signed in see the thread, and the reason in place of the post.
    [shown] = (await client.get(url)).json()
    assert shown["posts"][0] | {"id": None, "created_at": None, "author": None} == {
        "id": None,
        "created_at": None,
        "author": None,
        "body": None,
        "hidden": True,
        "hidden_reason": "Abusive language",
        "mentions": [],
    }
    events = (await client.get("/api/v1/audit", params={"target_id": thread["id"]})).json()["items"]
    assert {e["action"] for e in events} == {"discussion.opened", "discussion.post_hidden"}
    assert any(e["payload"].get("body") == "You are all fools" for e in events)
