"""The clearing house's pages without a browser: home, entry page, collections, topics, subscription help, staff curation."""

from __future__ import annotations

import html
import re

from tests.fixtures.norms import TEXT


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def as_browser(client, person: dict) -> None:
    """The page session cookie holds the same token the API issues."""
    client.cookies.set("cogov_session", person["headers"]["Authorization"].removeprefix("Bearer "))


async def test_the_home_page_lists_adopted_norms_and_how_to_subscribe(client):
    empty = await client.get("/clearinghouse")
    assert empty.status_code == 200 and "No norm has been adopted yet" in empty.text


async def test_home_and_entry_pages_show_the_norm_its_ballot_and_how_to_verify_it(client, published, staff):
    entry = published["entry"]
    council = published["council"]
    await client.post("/api/v1/clearinghouse/topics", json={"label": "Transparency"}, headers=staff["headers"])
    await client.patch(
        f"/api/v1/clearinghouse/entries/{entry['id']}/curation",
        json={"summary": "Ranking criteria, in public.", "featured": True, "topics": ["transparency"]},
        headers=staff["headers"],
    )

    home = await client.get("/clearinghouse")
    assert home.status_code == 200
    page = html.unescape(home.text)
    assert "Featured" in page and page.count("Recommender transparency") >= 2
    assert "http://127.0.0.1:8000/feeds/norms.atom" in page and "http://127.0.0.1:8000/websub" in page
    assert "http://127.0.0.1:8000/.well-known/cogov-keys.json" in page
    assert '<link rel="alternate" type="application/atom+xml"' in home.text

    response = await client.get(entry["permalink"].removeprefix("http://127.0.0.1:8000"))
    norm_path = f"/networks/{council['slug']}/norms/{council['norm']['slug']}"
    assert response.status_code == 200
    page = html.unescape(response.text)
    assert TEXT in page and "Platform Transparency Council" in page and entry["urn"] in page
    assert entry["record"]["text_sha256"] in page and entry["signature"]["value"] in page and entry["signature"]["kid"] in page
    assert "Summary written by clearing-house staff (Clara Curator) on" in page and "Ranking criteria, in public." in page
    assert "cogov verify ENTRY.json" in page
    assert f'href="{norm_path}/versions/1"' in response.text and f"{norm_path}/diff?from=1&amp;to=current" in response.text
    # The ballot chart, read-only: each group and region, with turnout and support.
    assert page.count('<li class="tally passes"') == 7  # three groups and four regions, each with turnout and support bars
    assert 'data-tally="group:civil_society"' in page and 'data-tally="region:asia_pacific"' in page
    assert f'href="{norm_path}/ballots/{published["ballot"]["id"]}"' in response.text
    assert "Civil society" in page and "Asia-Pacific" in page and "Western Europe and others" in page
    assert "Amina" in page and "approve" in page
    assert f"/audit?target_id={entry['id']}" in page

    assert (await client.get(f"/clearinghouse/{council['slug']}/{council['norm']['slug']}/v9")).status_code == 404
    assert "text/html" in (await client.get("/clearinghouse/nowhere/none/v1")).headers["content-type"]


async def test_collection_topics_and_subscription_help_pages(client, published, staff):
    entry = published["entry"]
    await client.post(
        "/api/v1/clearinghouse/topics",
        json={"label": "Transparency", "description": "Seeing how platforms work."},
        headers=staff["headers"],
    )
    await client.post(
        "/api/v1/clearinghouse/collections",
        json={"title": "Essentials", "description": "Start here.", "entries": [entry["id"]]},
        headers=staff["headers"],
    )
    collection = html.unescape((await client.get("/clearinghouse/collections/essentials")).text)
    assert "Essentials" in collection and "Start here." in collection and "Recommender transparency" in collection
    assert "/feeds/collections/essentials.atom" in collection
    assert (await client.get("/clearinghouse/collections/none")).status_code == 404
    # The entry's page names its collections by title, not by slug.
    council = published["council"]
    entry_page = (await client.get(f"/clearinghouse/{council['slug']}/{council['norm']['slug']}/v1")).text
    assert '<a href="/clearinghouse/collections/essentials">Essentials</a>' in entry_page
    topics = html.unescape((await client.get("/clearinghouse/topics")).text)
    assert "Seeing how platforms work." in topics and "/feeds/norms.atom?topic=transparency" in topics
    help_page = html.unescape((await client.get("/clearinghouse/subscribe")).text)
    for words in (
        "hub.challenge",
        "X-Hub-Signature: sha256=",
        "410 Gone",
        "Ed25519PublicKey",
        "If-None-Match",
        "/api/v1/websub/subscriptions",
    ):
        assert words in help_page


async def test_staff_curate_through_the_pages_and_others_cannot(client, published, staff, sign_up):
    entry = published["entry"]
    assert (await client.get("/clearinghouse/staff")).status_code in (303, 401)  # anonymous: sign in first
    someone = await sign_up("Someone")
    as_browser(client, someone)
    refused = await client.get("/clearinghouse/staff")
    assert refused.status_code == 403 and "text/html" in refused.headers["content-type"]
    assert (await client.get(f"/clearinghouse/staff/entries/{entry['id']}")).status_code == 403

    as_browser(client, staff)
    dashboard = await client.get("/clearinghouse/staff")
    assert dashboard.status_code == 200 and "Recommender transparency v1" in dashboard.text
    made = await client.post("/clearinghouse/staff/topics", data={"csrf_token": _csrf(dashboard.text), "label": "Platform accountability"})
    assert made.status_code == 303

    form = await client.get(f"/clearinghouse/staff/entries/{entry['id']}")
    assert form.status_code == 200 and "Platform accountability" in form.text
    saved = await client.post(
        f"/clearinghouse/staff/entries/{entry['id']}",
        data={
            "csrf_token": _csrf(form.text),
            "summary": "Platforms say how they rank.",
            "featured": "on",
            "topics": ["platform-accountability"],
            "related_networks": [published["council"]["slug"]],
        },
    )
    assert saved.status_code == 303
    curated = (await client.get(f"/api/v1/clearinghouse/entries/{entry['id']}")).json()
    assert curated["curation"]["summary"] == "Platforms say how they rank." and curated["curation"]["featured"] is True
    assert [t["slug"] for t in curated["curation"]["topics"]] == ["platform-accountability"]
    assert curated["text"] == TEXT
    actions = [e["action"] for e in (await client.get("/api/v1/audit", params={"target_id": entry["id"]})).json()["items"]]
    assert {
        "clearinghouse.summary_written",
        "clearinghouse.featured",
        "clearinghouse.topics_set",
        "clearinghouse.related_networks_set",
    } <= set(actions)

    without_token = await client.post(f"/clearinghouse/staff/entries/{entry['id']}", data={"summary": "forged"})
    assert without_token.status_code == 403

    created = await client.post("/clearinghouse/staff/collections", data={"csrf_token": _csrf(form.text), "title": "Starter kit"})
    assert created.status_code == 303 and created.headers["location"] == "/clearinghouse/staff/collections/starter-kit"
    edit = await client.get("/clearinghouse/staff/collections/starter-kit")
    assert edit.status_code == 200
    await client.post(
        "/clearinghouse/staff/collections/starter-kit",
        data={
            "csrf_token": _csrf(edit.text),
            "title": "Starter kit",
            "description": "Begin here.",
            "entries": [entry["id"]],
            f"position-{entry['id']}": "1",
        },
    )
    collection = (await client.get("/api/v1/clearinghouse/collections/starter-kit")).json()
    assert [e["id"] for e in collection["entries"]] == [entry["id"]] and collection["description"] == "Begin here."
