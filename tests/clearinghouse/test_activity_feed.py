"""A network's public activity feed: versions, ballots opened and closed, consultations and adoptions as Atom and
JSON Feed, with ETag/304, 404 for a network that does not exist, and a push to its WebSub subscribers."""

from __future__ import annotations

import json
from datetime import timedelta

import feedparser

from tests.clearinghouse.test_websub import BASE, subscribed
from tests.fixtures.clearinghouse import adopt


async def test_the_activity_feed_shows_drafting_and_adoption_and_answers_304(client, council, clock):
    slug = council["slug"]
    atom_path = f"/feeds/networks/{slug}/activity.atom"
    first = await client.get(atom_path)
    assert first.status_code == 200 and first.headers["content-type"].startswith("application/atom+xml")
    assert f'<{BASE}/websub>; rel="hub"' in first.headers["link"]
    titles = [entry.title for entry in feedparser.parse(first.content).entries]
    assert titles == ["Version 1 of Recommender transparency tagged"]
    assert (await client.get(atom_path, headers={"If-None-Match": first.headers["etag"]})).status_code == 304

    consultation = await client.post(
        f"/api/v1/norms/{council['norm']['id']}/consultations",
        json={"version": 1, "question": "Clear?", "closes_at": (clock.now() + timedelta(days=5)).isoformat()},
        headers=council["convener"]["headers"],
    )
    assert consultation.status_code == 201
    clock.advance(minutes=1)
    await adopt(client, council, clock)
    changed = await client.get(atom_path, headers={"If-None-Match": first.headers["etag"]})
    assert changed.status_code == 200
    kinds = [item["tags"][0] for item in json.loads((await client.get(f"/feeds/networks/{slug}/activity.json")).content)["items"]]
    assert sorted(kinds) == ["adoption", "ballot_closed", "ballot_opened", "consultation", "version"]
    assert (await client.get("/feeds/networks/no-such-network/activity.atom")).status_code == 404


async def test_subscribers_of_the_activity_feed_are_pushed_each_new_act(client, council, clock, worker, subscriber):
    topic = f"{BASE}/feeds/networks/{council['slug']}/activity.json"
    assert await worker.announce_activity() == 1  # the council's version 1, before anyone subscribed
    await subscribed(client, worker, subscriber.url("/activity"), topic)
    assert await worker.announce_activity() == 0
    tagged = await client.post(
        f"/api/v1/norms/{council['norm']['id']}/versions", json={"label": "2"}, headers=council["convener"]["headers"]
    )
    assert tagged.status_code == 201
    assert await worker.announce_activity() == 1
    assert await worker.deliver_due() == 1
    [pushed] = subscriber.accepted()
    assert json.loads(pushed.body)["items"][0]["title"] == "Version 2 of Recommender transparency tagged"
