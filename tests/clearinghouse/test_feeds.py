"""Feeds: Atom read by feedparser, JSON Feed 1.1 field rules, filters, collections, the REST listing, and conditional GETs."""

from __future__ import annotations

import json

import feedparser

from tests.clearinghouse import jsonfeed
from tests.fixtures.clearinghouse import adopt
from tests.fixtures.norms import COUNCIL_CHARTER, TEXT

BASE = "http://127.0.0.1:8000"
EAST = [
    ("Eva", "civil_society", "PL", "Panoptykon"),  # eastern_europe
    ("Femi", "private_sector", "NG", "Paystack"),  # africa
    ("Gita", "technical_academic", "IN", "IIT Delhi"),  # asia_pacific
]


async def two_networks(client, make_council, clock, worker) -> tuple[dict, dict]:
    first = await make_council()
    await adopt(client, first, clock)
    await worker.publish_pending()
    clock.advance(minutes=5)
    second = await make_council(EAST, COUNCIL_CHARTER)
    await adopt(client, second, clock)
    await worker.publish_pending()
    return first, second


async def test_the_atom_feed_parses_cleanly_with_urn_ids_and_full_text(client, published):
    response = await client.get("/feeds/norms.atom")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    feed = feedparser.parse(response.content)
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert feed.feed.id == f"{BASE}/feeds/norms.atom" and feed.feed.title.startswith("Adopted norms")
    assert feed.feed.author == "CoGov clearing house" and feed.feed.updated_parsed
    links = {link.rel: link.href for link in feed.feed.links}
    assert links == {"self": f"{BASE}/feeds/norms.atom", "hub": f"{BASE}/websub", "alternate": f"{BASE}/clearinghouse"}
    [entry] = feed.entries
    expected = published["entry"]
    assert entry.id == expected["urn"] and entry.title == "Recommender transparency"
    assert entry.content[0].value == TEXT and entry.content[0].type == "text/plain"
    assert entry.updated_parsed and entry.published_parsed
    entry_links = {link.rel: link.href for link in entry.links}
    assert entry_links == {"alternate": expected["permalink"], "related": expected["entry_url"]}
    assert entry.author == "Platform Transparency Council"


async def test_the_json_feed_follows_the_1_1_field_rules(client, published):
    response = await client.get("/feeds/norms.json")
    assert response.headers["content-type"] == "application/feed+json; charset=utf-8"
    document = response.json()
    assert jsonfeed.problems(document) == []
    assert document["feed_url"] == f"{BASE}/feeds/norms.json" and document["hubs"] == [{"type": "WebSub", "url": f"{BASE}/websub"}]
    [item] = document["items"]
    entry = published["entry"]
    assert (item["id"], item["url"], item["content_text"]) == (entry["urn"], entry["permalink"], TEXT)
    assert item["_cogov"]["record"] == entry["record"] and item["_cogov"]["signature"] == entry["signature"]
    # The checker itself catches what breaks the rules.
    assert jsonfeed.problems(
        {"version": "https://jsonfeed.org/version/1", "items": [{"id": 1, "date_published": "yesterday"}], "author": {}}
    ) == [
        "version must be https://jsonfeed.org/version/1.1",
        "title is required",
        "unknown top-level field author (extensions start with _)",
        "items[0].id is required and a string",
        "items[0] needs content_html or content_text",
        "items[0].id must be a string",
        "items[0].date_published must be an RFC 3339 date",
    ]


async def test_an_empty_feed_is_still_valid(client):
    atom = feedparser.parse((await client.get("/feeds/norms.atom")).content)
    assert atom.bozo == 0 and atom.entries == []
    assert jsonfeed.problems((await client.get("/feeds/norms.json")).json()) == []


async def test_feeds_filter_by_network_region_and_topic(client, make_council, clock, worker, staff):
    first, second = await two_networks(client, make_council, clock, worker)

    async def urns(path: str, **params) -> list[str]:
        response = await client.get(path, params=params)
        assert response.status_code == 200, response.text
        return [entry.id for entry in feedparser.parse(response.content).entries]

    newest, oldest = [e["urn"] for e in (await client.get("/api/v1/clearinghouse/entries")).json()["items"]]
    assert second["slug"] in newest and first["slug"] in oldest
    assert await urns("/feeds/norms.atom") == [newest, oldest]
    assert await urns("/feeds/norms.atom", network=first["slug"]) == [oldest]
    assert await urns("/feeds/norms.atom", region="eastern_europe") == [newest]
    assert await urns("/feeds/norms.atom", region="africa") == [newest, oldest]
    assert await urns("/feeds/norms.atom", region="western_europe_others") == [oldest]

    assert (
        await client.post("/api/v1/clearinghouse/topics", json={"label": "Platform accountability"}, headers=staff["headers"])
    ).status_code == 201
    entry_id = (await client.get("/api/v1/clearinghouse/entries", params={"network": second["slug"]})).json()["items"][0]["id"]
    tagged = await client.patch(
        f"/api/v1/clearinghouse/entries/{entry_id}/curation", json={"topics": ["platform-accountability"]}, headers=staff["headers"]
    )
    assert tagged.status_code == 200, tagged.text
    assert await urns("/feeds/norms.atom", topic="platform-accountability") == [newest]
    items = (await client.get("/feeds/norms.json", params={"topic": "platform-accountability", "limit": 5})).json()
    assert [i["id"] for i in items["items"]] == [newest] and items["items"][0]["tags"] == ["platform-accountability"]
    assert items["feed_url"] == f"{BASE}/feeds/norms.json?limit=5&topic=platform-accountability"
    assert await urns("/feeds/norms.atom", limit=1) == [newest]

    for params, status, code in (
        ({"region": "atlantis"}, 422, "filter_invalid"),
        ({"network": "no-such-network"}, 422, "filter_invalid"),
        ({"network": "Not A Slug"}, 422, "filter_invalid"),
        ({"topic": "nothing"}, 404, "topic_not_found"),
        ({"limit": 0}, 422, "filter_invalid"),
        ({"limit": 501}, 422, "filter_invalid"),
        ({"limit": "many"}, 422, "filter_invalid"),
    ):
        response = await client.get("/feeds/norms.atom", params=params)
        assert (response.status_code, response.json()["code"]) == (status, code), params
    assert (await client.get("/feeds/collections/none.atom")).json()["code"] == "collection_not_found"


async def test_collections_have_their_own_feeds_in_their_curated_order(client, make_council, clock, worker, staff):
    await two_networks(client, make_council, clock, worker)
    newest, oldest = (await client.get("/api/v1/clearinghouse/entries")).json()["items"]
    created = await client.post(
        "/api/v1/clearinghouse/collections",
        json={"title": "Transparency starter kit", "description": "Where to begin.", "entries": [oldest["id"], newest["id"]]},
        headers=staff["headers"],
    )
    assert created.status_code == 201, created.text
    collection = created.json()
    assert collection["slug"] == "transparency-starter-kit"
    assert collection["feeds"] == {
        "atom": f"{BASE}/feeds/collections/transparency-starter-kit.atom",
        "json": f"{BASE}/feeds/collections/transparency-starter-kit.json",
    }
    atom = feedparser.parse((await client.get("/feeds/collections/transparency-starter-kit.atom")).content)
    assert atom.bozo == 0 and atom.feed.title.startswith("Transparency starter kit")
    assert [e.id for e in atom.entries] == [oldest["urn"], newest["urn"]]
    document = (await client.get("/feeds/collections/transparency-starter-kit.json")).json()
    assert jsonfeed.problems(document) == [] and document["description"] == "Where to begin."
    reordered = await client.patch(
        "/api/v1/clearinghouse/collections/transparency-starter-kit", json={"entries": [newest["id"]]}, headers=staff["headers"]
    )
    assert [e["urn"] for e in reordered.json()["entries"]] == [newest["urn"]]
    atom = feedparser.parse((await client.get("/feeds/collections/transparency-starter-kit.atom")).content)
    assert [e.id for e in atom.entries] == [newest["urn"]]


async def test_the_rest_listing_pages_with_a_cursor_and_filters_by_time(client, make_council, clock, worker):
    await two_networks(client, make_council, clock, worker)
    first = await client.get("/api/v1/clearinghouse/entries", params={"limit": 1})
    assert first.status_code == 200 and first.headers["content-type"] == "application/json"
    page = first.json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    second = (await client.get("/api/v1/clearinghouse/entries", params={"limit": 1, "cursor": page["next_cursor"]})).json()
    assert len(second["items"]) == 1 and second["next_cursor"] is None
    assert second["items"][0]["published_at"] < page["items"][0]["published_at"]
    since = page["items"][0]["published_at"]
    recent = (await client.get("/api/v1/clearinghouse/entries", params={"since": since})).json()["items"]
    assert [e["id"] for e in recent] == [page["items"][0]["id"]]
    assert (await client.get("/api/v1/clearinghouse/entries", params={"cursor": "garbage!"})).json()["code"] == "invalid_cursor"
    assert (await client.get("/api/v1/clearinghouse/entries", params={"since": "2026-01-01T00:00:00"})).status_code == 422
    assert (await client.get("/api/v1/clearinghouse/entries/00000000-0000-0000-0000-000000000000")).status_code == 404


async def test_conditional_gets_answer_304_until_the_feeds_change(client, published, clock, staff):
    for path in ("/feeds/norms.atom", "/feeds/norms.json", "/api/v1/clearinghouse/entries", "/feeds/norms.atom?region=africa"):
        full = await client.get(path)
        assert full.status_code == 200
        etag, modified = full.headers["etag"], full.headers["last-modified"]
        self_url = BASE + path.split("?")[0] + ("?region=africa" if "region" in path else "")
        assert full.headers["link"] == f'<{BASE}/websub>; rel="hub", <{self_url}>; rel="self"'
        again = await client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == etag and again.headers["link"] == full.headers["link"]
        assert (await client.get(path, headers={"If-Modified-Since": modified})).status_code == 304
        assert (await client.get(path, headers={"If-None-Match": '"something-else"'})).status_code == 200
        assert (await client.get(path, headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"})).status_code == 200

    before = await client.get("/feeds/norms.atom")
    clock.advance(seconds=2)
    entry_id = published["entry"]["id"]
    curated = await client.patch(
        f"/api/v1/clearinghouse/entries/{entry_id}/curation", json={"summary": "Ranking criteria, in public."}, headers=staff["headers"]
    )
    assert curated.status_code == 200
    after = await client.get(
        "/feeds/norms.atom", headers={"If-None-Match": before.headers["etag"], "If-Modified-Since": before.headers["last-modified"]}
    )
    assert after.status_code == 200 and after.headers["etag"] != before.headers["etag"]
    assert feedparser.parse(after.content).entries[0].summary == "Ranking criteria, in public."


async def test_feeds_are_gzipped_for_clients_that_accept_it(client, published):
    plain = await client.get("/feeds/norms.json", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    zipped = await client.get("/feeds/norms.json", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip" and json.loads(zipped.content) == plain.json()


async def test_the_key_set_lists_ed25519_keys_by_thumbprint(client, published):
    keys = (await client.get("/.well-known/cogov-keys.json")).json()["keys"]
    [key] = keys
    assert {k: key[k] for k in ("kty", "crv", "alg", "use")} == {"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig"}
    assert key["kid"] == published["entry"]["signature"]["kid"]


async def test_head_answers_as_get_without_a_body(client, published, staff):
    for path in (
        "/feeds/norms.atom",
        "/feeds/norms.json",
        "/feeds/consultations.atom",
        "/feeds/consultations.json",
        "/api/v1/clearinghouse/entries",
        "/.well-known/cogov-keys.json",
    ):
        got = await client.get(path, headers={"Accept-Encoding": "identity"})
        head = await client.head(path, headers={"Accept-Encoding": "identity"})
        assert (head.status_code, got.status_code) == (200, 200), path
        assert head.content == b"", path
        assert head.headers["content-length"] == str(len(got.content)), path
        assert head.headers["content-type"] == got.headers["content-type"], path
        assert head.headers.get("etag") == got.headers.get("etag"), path
    unchanged = await client.head("/feeds/norms.atom", headers={"If-None-Match": got_etag(await client.get("/feeds/norms.atom"))})
    assert unchanged.status_code == 304 and unchanged.content == b""


def got_etag(response) -> str:
    return response.headers["etag"]


async def test_a_feed_says_vary_accept_encoding_once(client, make_council, clock, worker):
    for _ in range(3):  # enough entries for a body the gzip middleware would compress
        council = await make_council()
        await adopt(client, council, clock)
        await worker.publish_pending()
        clock.advance(minutes=5)
    for encoding in ("identity", "gzip"):
        for path in ("/feeds/norms.atom", "/feeds/norms.json", "/feeds/consultations.atom"):
            response = await client.get(path, headers={"Accept-Encoding": encoding})
            assert response.status_code == 200
            assert response.headers.get_list("vary") in (["Accept-Encoding"], []), (path, encoding)
            if len(response.content) > 1024:
                assert response.headers.get_list("vary") == ["Accept-Encoding"], (path, encoding)


async def adopt_versions(client, council, clock, worker, count: int) -> None:
    """Adopt versions 1..count of the council's norm, one after another, each published."""
    for version in range(1, count + 1):
        if version > 1:
            path, label = f"/api/v1/norms/{council['norm']['id']}/versions", {"label": f"Round {version}"}
            tagged = await client.post(path, json=label, headers=council["convener"]["headers"])
            assert tagged.status_code == 201, tagged.text
            clock.advance(hours=3)
        await adopt(client, council, clock, version=version)
        assert await worker.publish_pending() == 1


def atom_links(body: bytes) -> dict[str, str]:
    feed = feedparser.parse(body)
    assert feed.bozo == 0, feed.get("bozo_exception")
    return {link.rel: link.href for link in feed.feed.links}


async def test_feeds_are_paged_with_next_and_previous_links(client, council, clock, worker, staff):
    await adopt_versions(client, council, clock, worker, 5)
    urns = [entry["urn"] for entry in (await client.get("/api/v1/clearinghouse/entries")).json()["items"]]
    assert len(urns) == 5

    # Atom (RFC 5005): walk forward by `next`, then back by `previous`, and meet every entry once, in order.
    seen, pages, address = [], [], f"{BASE}/feeds/norms.atom?limit=2"
    while address:
        answer = await client.get(address.removeprefix(BASE))
        assert answer.status_code == 200, answer.text
        links = atom_links(answer.content)
        assert links["self"] == address and links["hub"] == f"{BASE}/websub"
        assert feedparser.parse(answer.content).feed.id == f"{BASE}/feeds/norms.atom?limit=2"
        seen += [entry.id for entry in feedparser.parse(answer.content).entries]
        pages.append(links)
        address = links.get("next")
    assert seen == urns and len(pages) == 3
    assert "previous" not in pages[0] and "next" not in pages[-1]
    assert all(page["first"] == f"{BASE}/feeds/norms.atom?limit=2" for page in pages)
    back = atom_links((await client.get(pages[-1]["previous"].removeprefix(BASE))).content)
    assert back["self"] == pages[1]["self"]
    assert atom_links((await client.get(back["previous"].removeprefix(BASE))).content)["self"] == pages[0]["self"]

    # JSON Feed: `next_url`, and the page before under `_cogov`.
    seen, address, last = [], "/feeds/norms.json?limit=2", None
    while address:
        document = (await client.get(address)).json()
        assert jsonfeed.problems(document) == []
        seen += [item["id"] for item in document["items"]]
        last = document
        address = document.get("next_url", "").removeprefix(BASE)
    assert seen == urns and last["_cogov"]["previous_url"].startswith(f"{BASE}/feeds/norms.json?cursor=")

    # A collection pages in its curated order.
    ids = [entry["id"] for entry in (await client.get("/api/v1/clearinghouse/entries")).json()["items"]][::-1]
    made = await client.post("/api/v1/clearinghouse/collections", json={"title": "All", "entries": ids}, headers=staff["headers"])
    assert made.status_code == 201, made.text
    seen, address = [], f"{BASE}/feeds/collections/all.atom?limit=2"
    while address:
        body = (await client.get(address.removeprefix(BASE))).content
        seen += [entry.id for entry in feedparser.parse(body).entries]
        address = atom_links(body).get("next")
    assert seen == urns[::-1]

    bad = await client.get("/feeds/norms.atom?cursor=not-a-cursor")
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_cursor"


async def test_the_entries_listing_refuses_a_parameter_it_does_not_take(client, published):
    for query in ("search=privacy", "query=privacy", "network=platform-transparency-council&sort=asc"):
        answer = await client.get(f"/api/v1/clearinghouse/entries?{query}")
        assert answer.status_code == 422, query
        assert answer.json()["code"] == "unknown_parameter" and "Unknown query parameter" in answer.json()["detail"], query
    known = await client.get("/api/v1/clearinghouse/entries?network=platform-transparency-council&limit=5")
    assert known.status_code == 200 and len(known.json()["items"]) == 1


async def test_an_entrys_updated_time_follows_its_curation(client, published, staff, clock):
    def atom_updated(body: bytes) -> str:
        [entry] = feedparser.parse(body).entries
        return entry.updated

    before_atom = atom_updated((await client.get("/feeds/norms.atom")).content)
    [before_json] = (await client.get("/feeds/norms.json")).json()["items"]
    clock.advance(hours=2)
    path = f"/api/v1/clearinghouse/entries/{published['entry']['id']}/curation"
    curated = await client.patch(path, json={"summary": "Ranking, explained."}, headers=staff["headers"])
    assert curated.status_code == 200, curated.text
    after_atom = atom_updated((await client.get("/feeds/norms.atom")).content)
    [after_json] = (await client.get("/feeds/norms.json")).json()["items"]
    assert after_atom != before_atom and after_atom.startswith(clock.now().strftime("%Y-%m-%dT%H:%M"))
    assert after_json["date_modified"] > before_json["date_modified"] and after_json["summary"] == "Ranking, explained."
    assert after_json["date_published"] == before_json["date_published"]


async def test_q_narrows_the_listing_and_the_feeds_to_entries_with_those_words(client, published):
    entry_id = published["entry"]["id"]
    for q, expected in (
        ("ranking", [entry_id]),
        ('"publish their"', [entry_id]),
        ("zebra", []),
        ("ranking -criteria", []),
        ("", [entry_id]),
    ):
        listing = await client.get("/api/v1/clearinghouse/entries", params={"q": q})
        assert listing.status_code == 200, listing.text
        assert [e["id"] for e in listing.json()["items"]] == expected, q
        json_feed = await client.get("/feeds/norms.json", params={"q": q})
        assert json_feed.status_code == 200
        assert len(json_feed.json()["items"]) == len(expected), q
        atom = await client.get("/feeds/norms.atom", params={"q": q})
        assert atom.status_code == 200
        assert atom.text.count("<entry>") == len(expected), q
    assert (await client.get("/feeds/norms.atom", params={"q": "x" * 501})).status_code == 422
    assert (await client.get("/api/v1/clearinghouse/entries", params={"q": "x" * 501})).status_code == 422
