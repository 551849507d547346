"""When a later version of a norm is adopted, the entry it replaces is marked superseded everywhere a subscriber or
reader looks (REST entry, `in_force` listing, Atom and JSON Feed items, the entry's page, collections), and staff's
curation carries over to the new version's entry, in the audit log for staff to review."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from lxml import etree

from tests.fixtures.clearinghouse import adopt

ATOM = "{http://www.w3.org/2005/Atom}"


async def _second_version_adopted(client, published, clock, worker, staff) -> tuple[dict, dict]:
    council, v1 = published["council"], published["entry"]
    topic = await client.post("/api/v1/clearinghouse/topics", json={"label": "Recommender systems"}, headers=staff["headers"])
    assert topic.status_code == 201, topic.text
    curated = await client.patch(
        f"/api/v1/clearinghouse/entries/{v1['id']}/curation",
        json={"summary": "Platforms say how they rank.", "topics": ["recommender-systems"]},
        headers=staff["headers"],
    )
    assert curated.status_code == 200, curated.text
    collection = await client.post(
        "/api/v1/clearinghouse/collections", json={"title": "Platforms", "entries": [v1["id"]]}, headers=staff["headers"]
    )
    assert collection.status_code == 201, collection.text
    convener = council["convener"]["headers"]
    norm_id = council["norm"]["id"]
    edited = await client.post(f"/api/v1/norms/{norm_id}/edits", json={"splices": [{"index": 0, "insert": "All "}]}, headers=convener)
    assert edited.status_code == 200, edited.text
    assert (await client.post(f"/api/v1/norms/{norm_id}/versions", json={"label": "Wider"}, headers=convener)).status_code == 201
    clock.advance(hours=2)
    await adopt(client, council, clock, version=2)
    assert await worker.publish_pending() == 1
    by_version = {item["version"]: item for item in (await client.get("/api/v1/clearinghouse/entries")).json()["items"]}
    return by_version[1], by_version[2]


async def test_the_superseded_entry_is_marked_in_rest_and_the_in_force_listing(client, published, clock, worker, staff):
    v1, v2 = await _second_version_adopted(client, published, clock, worker, staff)
    assert v1["in_force"] is False and v1["superseded_by"]["urn"] == v2["urn"]
    assert v2["in_force"] is True and v2["superseded_by"] is None
    one = (await client.get(f"/api/v1/clearinghouse/entries/{v1['id']}")).json()
    assert one["superseded_by"]["permalink"] == v2["permalink"]
    in_force = (await client.get("/api/v1/clearinghouse/entries", params={"in_force": "true"})).json()["items"]
    assert [item["urn"] for item in in_force] == [v2["urn"]]


async def test_feed_items_say_which_entry_superseded_them(client, published, clock, worker, staff):
    v1, v2 = await _second_version_adopted(client, published, clock, worker, staff)
    items = {item["id"]: item for item in (await client.get("/feeds/norms.json")).json()["items"]}
    assert items[v1["urn"]]["_cogov"]["in_force"] is False
    assert items[v1["urn"]]["_cogov"]["superseded_by"] == {"urn": v2["urn"], "url": v2["permalink"]}
    assert items[v2["urn"]]["_cogov"]["superseded_by"] is None

    atom = etree.fromstring((await client.get("/feeds/norms.atom")).content)
    entries = {entry.findtext(f"{ATOM}id"): entry for entry in atom.iter(f"{ATOM}entry")}
    old, new = entries[v1["urn"]], entries[v2["urn"]]
    assert "superseded" in [category.get("term") for category in old.iter(f"{ATOM}category")]
    assert [link.get("href") for link in old.iter(f"{ATOM}link") if link.get("rel") == "successor-version"] == [v2["permalink"]]
    assert "superseded" not in [category.get("term") for category in new.iter(f"{ATOM}category")]


async def test_curation_carries_over_to_the_new_version_and_staff_can_review_it(client, published, clock, worker, staff, audit_events):
    v1, v2 = await _second_version_adopted(client, published, clock, worker, staff)
    assert v2["curation"]["summary"] == "Platforms say how they rank."
    assert v2["curation"]["summary_by"]["display_name"] == "Clara Curator"
    assert [topic["slug"] for topic in v2["curation"]["topics"]] == ["recommender-systems"]
    assert v2["curation"]["collections"] == ["platforms"]
    collection = (await client.get("/api/v1/clearinghouse/collections/platforms")).json()
    assert [entry["urn"] for entry in collection["entries"]] == [v1["urn"], v2["urn"]]
    [carried] = await audit_events(action="clearinghouse.curation_carried_over")
    assert carried["payload"] == {
        "from": v1["urn"],
        "to": v2["urn"],
        "topics": ["recommender-systems"],
        "summary": True,
        "collections": ["platforms"],
    }


async def test_the_superseded_entrys_page_and_its_collection_say_so(client, published, clock, worker, staff):
    v1, v2 = await _second_version_adopted(client, published, clock, worker, staff)
    page = (await client.get(urlsplit(v1["permalink"]).path)).text
    assert 'id="superseded"' in page and "the version in force is" in page
    assert f'href="{urlsplit(v2["permalink"]).path}"' in page
    assert 'id="superseded"' not in (await client.get(urlsplit(v2["permalink"]).path)).text
    collection = (await client.get("/clearinghouse/collections/platforms")).text
    assert collection.count("Superseded</strong> by") == 1


async def test_subscribers_hear_that_the_old_entry_is_superseded_and_an_in_force_feed_drops_it(
    client, app, published, clock, worker, staff, subscriber
):
    base = "http://127.0.0.1:8000"
    for path, topic in (("/all", f"{base}/feeds/norms.json"), ("/in-force", f"{base}/feeds/norms.json?in_force=true")):
        response = await client.post("/websub", data={"hub.mode": "subscribe", "hub.topic": topic, "hub.callback": subscriber.url(path)})
        assert response.status_code == 202, response.text
    assert await worker.verify_pending() == 2
    v1, v2 = await _second_version_adopted(client, published, clock, worker, staff)
    await worker.run_once()
    received = {delivery.path: json.loads(delivery.body) for delivery in subscriber.deliveries}
    every = {item["id"]: item for item in received["/all"]["items"]}
    assert every[v1["urn"]]["_cogov"]["superseded_by"]["urn"] == v2["urn"]
    # Superseding updates the old item: modified when the new version was published.
    assert every[v1["urn"]]["date_modified"] == every[v2["urn"]]["date_modified"] != every[v1["urn"]]["date_published"]
    assert [item["id"] for item in received["/in-force"]["items"]] == [v2["urn"]]
    # The delivery names both entries it changed: the new one and the one it superseded.
    query = {"callback": subscriber.url("/all"), "topic": f"{base}/feeds/norms.json"}
    status = await client.get("/api/v1/websub/subscriptions", params=query, headers=staff["headers"])
    assert status.json()["deliveries"][0]["entries"] == [v2["urn"], v1["urn"]]


async def test_the_in_force_filter_refuses_what_is_not_true_or_false(client, published):
    assert (await client.get("/feeds/norms.atom", params={"in_force": "yes"})).status_code == 422
    assert (await client.get("/api/v1/clearinghouse/entries", params={"in_force": "maybe"})).status_code == 422
