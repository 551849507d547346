"""The consultations feed: open consultations as Atom and JSON Feed 1.1, ETag and 304, closed ones leave it."""

from __future__ import annotations

from datetime import timedelta

import feedparser

from tests.clearinghouse.jsonfeed import problems
from tests.clearinghouse.subscriber import hub_signature
from tests.clearinghouse.test_websub import BASE, SECRET, subscribed


async def test_open_consultations_are_in_both_feeds_until_they_close(client, council, consultation, clock):
    atom = await client.get("/feeds/consultations.atom")
    assert atom.status_code == 200 and atom.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(atom.content)
    assert parsed.bozo == 0
    [entry] = parsed.entries
    assert entry.id == f"urn:cogov:consultation:{consultation['id']}"
    assert entry.link.endswith(f"/consultations/{consultation['id']}")
    assert "Is this clear enough?" in entry.content[0].value

    document = (await client.get("/feeds/consultations.json")).json()
    assert problems(document) == []
    [item] = document["items"]
    assert item["_cogov"]["version"] == 1 and item["url"] == entry.link

    etag = atom.headers["etag"]
    assert (await client.get("/feeds/consultations.atom", headers={"If-None-Match": etag})).status_code == 304
    clock.advance(timedelta(days=15))
    after = await client.get("/feeds/consultations.atom", headers={"If-None-Match": etag})
    assert after.status_code == 200 and feedparser.parse(after.content).entries == []


async def test_an_empty_feed_is_still_valid(client):
    document = (await client.get("/feeds/consultations.json")).json()
    assert problems(document) == [] and document["items"] == []
    assert feedparser.parse((await client.get("/feeds/consultations.atom")).content).bozo == 0


async def open_on(client, council: dict, clock, question: str) -> dict:
    opened = await client.post(
        f"/api/v1/norms/{council['norm']['id']}/consultations",
        json={"version": 1, "closes_at": (clock.now() + timedelta(days=14)).isoformat(), "question": question},
        headers=council["convener"]["headers"],
    )
    assert opened.status_code == 201, opened.text
    return opened.json()


async def test_the_consultations_feeds_name_the_hub_and_filter_by_network(client, make_council, clock):
    first = await make_council()
    await open_on(client, first, clock, "First network's question?")
    second = await make_council()
    await open_on(client, second, clock, "Second network's question?")

    atom = await client.get("/feeds/consultations.atom")
    links = {link.rel: link.href for link in feedparser.parse(atom.content).feed.links}
    assert links["hub"] == f"{BASE}/websub" and links["self"] == f"{BASE}/feeds/consultations.atom"
    assert atom.headers["link"] == f'<{BASE}/websub>; rel="hub", <{BASE}/feeds/consultations.atom>; rel="self"'
    document = (await client.get("/feeds/consultations.json")).json()
    assert problems(document) == [] and document["hubs"] == [{"type": "WebSub", "url": f"{BASE}/websub"}]
    assert len(document["items"]) == 2

    only = await client.get(f"/feeds/consultations.atom?network={first['slug']}")
    parsed = feedparser.parse(only.content)
    assert [entry.content[0].value.split("\n")[0] for entry in parsed.entries] == ["First network's question?"]
    assert {link.rel: link.href for link in parsed.feed.links}["self"] == f"{BASE}/feeds/consultations.atom?network={first['slug']}"
    items = (await client.get(f"/feeds/consultations.json?network={second['slug']}")).json()["items"]
    assert [item["content_text"].split("\n")[0] for item in items] == ["Second network's question?"]
    unknown = await client.get("/feeds/consultations.atom?network=no-such-network")
    assert unknown.status_code == 422 and "no-such-network" in unknown.json()["detail"]


async def test_a_consultation_opening_is_pushed_to_subscribers_of_its_feed(client, make_council, clock, worker, subscriber):
    first, second = await make_council(), await make_council()
    topic = f"{BASE}/feeds/consultations.atom?network={first['slug']}"
    await subscribed(client, worker, subscriber.url("/consultations"), topic)
    await open_on(client, second, clock, "Elsewhere?")
    await worker.run_once()
    assert subscriber.deliveries == []  # another network's consultation is not in this feed
    await open_on(client, first, clock, "Is this clear enough?")
    await worker.run_once()
    [received] = subscriber.deliveries
    assert received.headers["link"] == f'<{BASE}/websub>; rel="hub", <{topic}>; rel="self"'
    assert received.headers["x-hub-signature"] == hub_signature(SECRET, received.body)
    [entry] = feedparser.parse(received.body).entries
    assert entry.content[0].value.startswith("Is this clear enough?")
