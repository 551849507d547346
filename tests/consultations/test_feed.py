"""The consultations feed: open consultations as Atom and JSON Feed 1.1, ETag and 304, closed ones leave it."""

from __future__ import annotations

from datetime import timedelta

import feedparser

from tests.clearinghouse.jsonfeed import problems


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
