"""Publication: an adoption through a real ballot becomes one signed entry, whatever happens to its event."""

from __future__ import annotations

import asyncio
import hashlib

from sqlalchemy import select, update

from norms.outbox import OutboxEvent
from services.clearinghouse import signing
from services.clearinghouse.models import FeedEntry
from tests.fixtures.clearinghouse import adopt
from tests.fixtures.norms import TEXT


async def test_an_adopted_version_is_published_as_a_signed_entry(client, app, council, clock, worker):
    ballot = await adopt(client, council, clock)
    assert (await client.get("/api/v1/clearinghouse/entries")).json()["items"] == []  # nothing until the worker runs

    assert await worker.publish_pending() == 1
    [entry] = (await client.get("/api/v1/clearinghouse/entries")).json()["items"]
    slug, norm = council["slug"], council["norm"]
    assert entry["urn"] == f"urn:cogov:norm:{slug}:{norm['slug']}:v1"
    assert entry["permalink"] == f"http://127.0.0.1:8000/clearinghouse/{slug}/{norm['slug']}/v1"
    assert (entry["title"], entry["text"], entry["version"]) == ("Recommender transparency", TEXT, 1)
    assert entry["network"] == {"slug": slug, "name": "Platform Transparency Council", "url": f"http://127.0.0.1:8000/networks/{slug}"}
    record = entry["record"]
    assert record["text_sha256"] == hashlib.sha256(TEXT.encode()).hexdigest() == ballot["version"]["text_sha256"]
    assert record["heads"] == ballot["version"]["heads"]
    assert record["outcome"]["adopted"] is True and record["outcome"]["missing"] == []
    assert [t["key"] for t in record["outcome"]["groups"]] == [t["key"] for t in ballot["outcome"]["groups"]]
    assert record["adoption_id"] == ballot["adoption_id"] and record["ballot_id"] == ballot["id"]
    assert record["approving_regions"] == ["africa", "asia_pacific", "latin_america_caribbean", "western_europe_others"]
    assert sorted(v["name"] for v in record["votes"]) == ["Amina", "Bruno", "Chen", "Dana"]
    assert entry["adopted_at"] == ballot["closed_at"]

    keys = (await client.get("/.well-known/cogov-keys.json")).json()
    assert [k["kid"] for k in keys["keys"]] == [entry["signature"]["kid"]]
    assert signing.verify_entry(entry, keys) == entry["signature"]["kid"]
    one = (await client.get(entry["entry_url"].removeprefix("http://127.0.0.1:8000"))).json()
    assert one == entry

    [event] = (await client.get("/api/v1/audit", params={"action": "clearinghouse.published"})).json()["items"]
    assert event["payload"]["urn"] == entry["urn"] and event["target_id"] == entry["id"]


async def test_an_event_handled_twice_publishes_once(client, app, council, clock, worker):
    await adopt(client, council, clock)
    assert await worker.publish_pending() == 1
    async with app.state.sessionmaker() as session:
        [event] = (await session.scalars(select(OutboxEvent).where(OutboxEvent.kind == "norm.adopted"))).all()
        assert event.processed_at is not None
        # As if the worker died after publishing but before its completion was stored.
        await session.execute(update(OutboxEvent).values(processed_at=None, claimed_until=None))
        await session.commit()
    assert await worker.publish_pending() == 0
    async with app.state.sessionmaker() as session:
        assert len((await session.scalars(select(FeedEntry))).all()) == 1
        assert (await session.scalars(select(OutboxEvent).where(OutboxEvent.kind == "norm.adopted"))).one().processed_at is not None


async def test_a_later_adoption_publishes_a_second_entry_that_names_what_it_supersedes(client, council, clock, worker):
    await adopt(client, council, clock)
    await worker.publish_pending()
    norm_id = council["norm"]["id"]
    edited = await client.post(
        f"/api/v1/norms/{norm_id}/edits",
        json={"splices": [{"index": 0, "delete": 0, "insert": "All "}]},
        headers=council["convener"]["headers"],
    )
    assert edited.status_code == 200, edited.text
    tagged = await client.post(f"/api/v1/norms/{norm_id}/versions", json={"label": "Second"}, headers=council["convener"]["headers"])
    assert tagged.status_code == 201, tagged.text
    clock.advance(hours=3)
    await adopt(client, council, clock, version=2)
    assert await worker.publish_pending() == 1
    newest, first = (await client.get("/api/v1/clearinghouse/entries")).json()["items"]
    assert newest["text"] == "All " + TEXT and newest["version"] == 2
    assert newest["record"]["supersedes"] == first["urn"]
    assert first["version"] == 1 and first["text"] == TEXT


async def test_a_rotated_key_stays_listed_and_old_entries_still_verify(client, app, council, clock, worker, tmp_path):
    await adopt(client, council, clock)
    await worker.publish_pending()
    [old] = (await client.get("/api/v1/clearinghouse/entries")).json()["items"]
    # Rotate: the server now signs with another key.
    new_key = signing.SigningKey(signing.Ed25519PrivateKey.generate())
    app.state.clearinghouse.key = new_key
    keys = (await client.get("/.well-known/cogov-keys.json")).json()
    assert [k["kid"] for k in keys["keys"]] == [new_key.kid, old["signature"]["kid"]]
    assert signing.verify_entry(old, keys) == old["signature"]["kid"]


async def test_two_workers_at_once_publish_an_adoption_once(client, app, council, clock, worker):
    from services.clearinghouse import worker as clearinghouse_worker

    other = clearinghouse_worker.for_runtime(app.state.runtime)
    try:
        for version in (1, 2):
            if version == 2:
                norm_id = council["norm"]["id"]
                await client.post(f"/api/v1/norms/{norm_id}/versions", json={"label": "Again"}, headers=council["convener"]["headers"])
                clock.advance(hours=3)
            await adopt(client, council, clock, version=version)
            created = await asyncio.gather(worker.publish_pending(), other.publish_pending())
            assert sorted(created) == [0, 1]
        # Even when the first's lease runs out and the second takes the event over, it publishes once.
        async with app.state.sessionmaker() as session:
            await session.execute(update(OutboxEvent).values(processed_at=None, claimed_until=None))
            await session.commit()
        assert await asyncio.gather(worker.publish_pending(), other.publish_pending()) == [0, 0]
        async with app.state.sessionmaker() as session:
            assert len((await session.scalars(select(FeedEntry))).all()) == 2
    finally:
        await other.aclose()
