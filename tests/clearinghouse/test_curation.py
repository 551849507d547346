"""Staff curation: topics, summaries, featured, related entries and networks, collections; all audited; never the
text, the adoption or an entry's presence in the main feed."""

from __future__ import annotations

import feedparser

from services.clearinghouse import signing
from tests.clearinghouse.test_websub import ATOM, BASE, subscribed
from tests.fixtures.clearinghouse import adopt
from tests.fixtures.norms import TEXT


async def audit_actions(client, target_id: str) -> list[dict]:
    response = await client.get("/api/v1/audit", params={"target_id": target_id, "limit": 100})
    return list(reversed(response.json()["items"]))


async def test_staff_curate_an_entry_and_every_act_is_public(client, published, staff, make_council):
    entry = published["entry"]
    council = published["council"]
    for label in ("Platform accountability", "Recommender systems"):
        made = await client.post(
            "/api/v1/clearinghouse/topics", json={"label": label, "description": f"About {label.lower()}."}, headers=staff["headers"]
        )
        assert made.status_code == 201, made.text
    assert [t["slug"] for t in (await client.get("/api/v1/clearinghouse/topics")).json()] == [
        "platform-accountability",
        "recommender-systems",
    ]

    response = await client.patch(
        f"/api/v1/clearinghouse/entries/{entry['id']}/curation",
        json={
            "summary": "Platforms publish how they rank what people see.",
            "topics": ["recommender-systems", "platform-accountability"],
            "featured": True,
            "related_networks": [council["slug"]],
        },
        headers=staff["headers"],
    )
    assert response.status_code == 200, response.text
    curation = response.json()["curation"]
    assert curation["summary"] == "Platforms publish how they rank what people see."
    assert curation["summary_by"]["display_name"] == "Clara Curator" and curation["summary_at"]
    assert curation["featured"] is True
    assert [t["slug"] for t in curation["topics"]] == ["platform-accountability", "recommender-systems"]
    assert [n["slug"] for n in curation["related_networks"]] == [council["slug"]]
    assert response.json()["text"] == TEXT and response.json()["record"] == entry["record"]

    actions = [(e["action"], e["actor"]["id"] if e["actor"] else None) for e in await audit_actions(client, entry["id"])]
    assert actions == [
        ("clearinghouse.published", None),
        ("clearinghouse.summary_written", staff["id"]),
        ("clearinghouse.featured", staff["id"]),
        ("clearinghouse.topics_set", staff["id"]),
        ("clearinghouse.related_networks_set", staff["id"]),
    ]
    assert [e["action"] for e in await audit_actions(client, "platform-accountability")] == ["clearinghouse.topic_created"]

    # The same values again change nothing and log nothing.
    again = await client.patch(f"/api/v1/clearinghouse/entries/{entry['id']}/curation", json={"featured": True}, headers=staff["headers"])
    assert again.status_code == 200 and len(await audit_actions(client, entry["id"])) == 5

    # Removing the summary is an act too.
    removed = await client.patch(f"/api/v1/clearinghouse/entries/{entry['id']}/curation", json={"summary": ""}, headers=staff["headers"])
    assert removed.json()["curation"]["summary"] is None
    assert (await audit_actions(client, entry["id"]))[-1]["action"] == "clearinghouse.summary_removed"


async def test_related_entries_link_published_versions(client, published, staff, clock, worker):
    council, first = published["council"], published["entry"]
    norm_id = council["norm"]["id"]
    await client.post(
        f"/api/v1/norms/{norm_id}/edits",
        json={"splices": [{"index": 0, "delete": 0, "insert": "All "}]},
        headers=council["convener"]["headers"],
    )
    await client.post(f"/api/v1/norms/{norm_id}/versions", json={"label": "Second"}, headers=council["convener"]["headers"])
    clock.advance(hours=3)
    await adopt(client, council, clock, version=2)
    await worker.publish_pending()
    second = (await client.get("/api/v1/clearinghouse/entries")).json()["items"][0]
    linked = await client.patch(
        f"/api/v1/clearinghouse/entries/{second['id']}/curation", json={"related_entries": [first["id"]]}, headers=staff["headers"]
    )
    assert [r["urn"] for r in linked.json()["curation"]["related_entries"]] == [first["urn"]]
    itself = await client.patch(
        f"/api/v1/clearinghouse/entries/{second['id']}/curation", json={"related_entries": [second["id"]]}, headers=staff["headers"]
    )
    assert itself.status_code == 422


async def test_only_staff_curate(client, published, sign_up, staff):
    entry_id = published["entry"]["id"]
    member = published["council"]["convener"]
    requests = [
        ("PATCH", f"/api/v1/clearinghouse/entries/{entry_id}/curation", {"summary": "Mine now"}),
        ("POST", "/api/v1/clearinghouse/topics", {"label": "Anything"}),
        ("PATCH", "/api/v1/clearinghouse/topics/anything", {"label": "Else"}),
        ("POST", "/api/v1/clearinghouse/collections", {"title": "Mine"}),
        ("PATCH", "/api/v1/clearinghouse/collections/mine", {"title": "Yours"}),
    ]
    for method, path, body in requests:
        anonymous = await client.request(method, path, json=body)
        assert anonymous.status_code == 401, path
        refused = await client.request(method, path, json=body, headers=member["headers"])
        assert (refused.status_code, refused.json()["code"]) == (403, "forbidden"), path
    assert (await client.get(f"/api/v1/clearinghouse/entries/{entry_id}")).json()["curation"]["summary"] is None


async def test_staff_cannot_touch_a_norms_text_adoption_or_presence_in_the_feed(client, published, staff):
    entry = published["entry"]
    council = published["council"]
    norm_id = council["norm"]["id"]
    entry_path = f"/api/v1/clearinghouse/entries/{entry['id']}"
    attempts = [
        ("PATCH", f"{entry_path}/curation", {"text": "Platforms may keep their criteria secret."}),
        ("PATCH", f"{entry_path}/curation", {"title": "Something else"}),
        ("PATCH", f"{entry_path}/curation", {"record": {}}),
        ("PATCH", f"{entry_path}/curation", {"hidden": True}),
        ("PUT", entry_path, {"text": "Platforms may keep their criteria secret."}),
        ("PATCH", entry_path, {"title": "Something else"}),
        ("DELETE", entry_path, None),
        ("POST", f"/api/v1/norms/{norm_id}/edits", {"splices": [{"index": 0, "delete": 9, "insert": "Nobody"}]}),
        ("POST", f"/api/v1/norms/{norm_id}/versions", {"label": "Staff version"}),
        ("POST", f"/api/v1/norms/{norm_id}/ballots", {"version": 1, "closes_at": "2099-01-01T00:00:00Z"}),
        ("PUT", f"/api/v1/ballots/{published['ballot']['id']}/vote", {"position": "object", "reason": "staff"}),
        ("POST", f"/api/v1/ballots/{published['ballot']['id']}/close", None),
    ]
    for method, path, body in attempts:
        response = await client.request(method, path, json=body, headers=staff["headers"])
        assert response.status_code in (403, 404), (method, path, response.status_code, response.text)
    # Paths that do not exist for anyone: there is no endpoint for removing or rewriting adoptions.
    for method, path in (
        ("DELETE", f"/api/v1/norms/{norm_id}/adoptions"),
        ("DELETE", f"/api/v1/norms/{norm_id}"),
        ("PUT", f"/api/v1/norms/{norm_id}/text"),
    ):
        response = await client.request(method, path, headers=staff["headers"])
        assert response.status_code in (404, 405), (method, path)

    after = (await client.get(entry_path)).json()
    assert (after["text"], after["title"], after["record"], after["signature"]) == (
        entry["text"],
        entry["title"],
        entry["record"],
        entry["signature"],
    )
    assert [e.id for e in feedparser.parse((await client.get("/feeds/norms.atom")).content).entries] == [entry["urn"]]
    assert signing.verify_entry(after, (await client.get("/.well-known/cogov-keys.json")).json())
    assert (await client.get(f"/api/v1/norms/{norm_id}")).json()["text"] == TEXT


async def test_curation_bad_input(client, published, staff):
    entry_id = published["entry"]["id"]
    path = f"/api/v1/clearinghouse/entries/{entry_id}/curation"
    headers = staff["headers"]
    cases = [
        ({"topics": ["no-such-topic"]}, 422),
        ({"topics": ["Not a slug"]}, 422),
        ({"related_networks": ["no-such-network"]}, 422),
        ({"related_entries": ["00000000-0000-0000-0000-000000000000"]}, 422),
        ({"summary": "nul\x00"}, 422),
        ({"summary": "x" * 5001}, 422),
        ({"colour": "red"}, 422),
    ]
    for body, status in cases:
        assert (await client.patch(path, json=body, headers=headers)).status_code == status, body
    missing = await client.patch(
        "/api/v1/clearinghouse/entries/00000000-0000-0000-0000-000000000000/curation", json={"featured": True}, headers=headers
    )
    assert missing.status_code == 404
    assert (await client.post("/api/v1/clearinghouse/topics", json={"label": "Twice"}, headers=headers)).status_code == 201
    taken = await client.post("/api/v1/clearinghouse/topics", json={"label": "Twice"}, headers=headers)
    assert (taken.status_code, taken.json()["code"]) == (409, "slug_taken")
    assert (await client.patch("/api/v1/clearinghouse/topics/none", json={"label": "X"}, headers=headers)).status_code == 404
    assert (
        await client.post(
            "/api/v1/clearinghouse/collections", json={"title": "Bad", "entries": ["00000000-0000-0000-0000-000000000000"]}, headers=headers
        )
    ).status_code == 422
    assert (await client.get("/api/v1/clearinghouse/collections/none")).status_code == 404


async def test_subscribers_of_a_topic_or_collection_hear_of_entries_curated_into_it(client, app, published, staff, worker, subscriber):
    entry = published["entry"]
    await client.post("/api/v1/clearinghouse/topics", json={"label": "Transparency"}, headers=staff["headers"])
    made = await client.post("/api/v1/clearinghouse/collections", json={"title": "Essentials"}, headers=staff["headers"])
    assert made.status_code == 201
    topic_feed = f"{BASE}/feeds/norms.atom?topic=transparency"
    collection_feed = f"{BASE}/feeds/collections/essentials.json"
    await subscribed(client, worker, subscriber.url("/topic"), topic_feed)
    await subscribed(client, worker, subscriber.url("/collection"), collection_feed)
    await subscribed(client, worker, subscriber.url("/main"), ATOM)

    await client.patch(f"/api/v1/clearinghouse/entries/{entry['id']}/curation", json={"topics": ["transparency"]}, headers=staff["headers"])
    await client.patch("/api/v1/clearinghouse/collections/essentials", json={"entries": [entry["id"]]}, headers=staff["headers"])
    await worker.run_once()
    by_path = {d.path: d for d in subscriber.deliveries}
    assert set(by_path) == {"/topic", "/collection"}  # the main feed held the entry already
    assert [e.id for e in feedparser.parse(by_path["/topic"].body).entries] == [entry["urn"]]
    assert by_path["/collection"].headers["content-type"].startswith("application/feed+json")

    # Summaries do not push; staff's collection edits are audited with what they added.
    [event] = [e for e in await audit_actions(client, "essentials") if e["action"] == "clearinghouse.collection_updated"]
    assert event["payload"]["entries"]["added"] == [entry["urn"]]
