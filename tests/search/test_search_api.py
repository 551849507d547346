"""Search through the API: every kind of public thing by its words, in the six UN languages.

Each test runs on SQLite and on PostgreSQL against the same expected answers, so both give the same results.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.kit.db import transaction
from services.kit.pagination import encode_cursor
from services.search import index, service
from services.search import worker as search_worker
from services.search.models import Kind
from tests.fixtures.clearinghouse import adopt

# One norm per UN language: (title, text, a query that must find it, the same words as a reader may type them).
NORMS = {
    "en": ("Routing security", "Operators publish RPKI route origin authorisations for every prefix they announce."),
    "fr": ("Données à l'étranger", "Les données personnelles transférées à l'étranger restent protégées par une autorité indépendante."),
    "es": ("Protección de datos", "Las autoridades garantizan la protección de los datos y el acceso a la información pública."),
    "ru": ("Защита данных", "Операторы обеспечивают ЗАЩИТУ персональных данных граждан при трансграничной передаче."),
    "zh": ("数据本地化", "各国应当就数据本地化要求进行协商，并公布跨境数据流动规则。"),
    "ar": ("حماية البيانات", "تَلْتَزِمُ الدُّوَلُ بِحِمَايَةِ البَيَانَاتِ الشَّخْصِيَّةِ عِنْدَ نَقْلِهَا عَبْرَ الحُدُودِ."),
}
# (query, languages of the norms it must find — exactly these).
QUERIES = [
    ("rpki", {"en"}),
    ("RPKI route", {"en"}),
    ('"route origin"', {"en"}),
    ('"origin route"', set()),
    ("autho*", {"en"}),
    ("donnees etranger", {"fr"}),  # French without accents finds accented text
    ("Données", {"fr"}),
    ("protección datos", {"es"}),
    ("proteccion", {"es"}),
    ("защиту", {"ru"}),  # Russian regardless of case
    ("ЗАЩИТА", {"ru"}),
    ("本地化", {"zh"}),  # Chinese written without spaces
    ("数据", {"zh"}),
    ("跨境数据流动", {"zh"}),
    ("数", {"zh"}),
    ("本化", set()),
    ("البيانات", {"ar"}),  # Arabic without diacritics finds the voweled text…
    ("البَيَانَاتِ", {"ar"}),  # …and with them
    ("حماية", {"ar"}),
    ("data -rpki", set()),
    ("datos -rpki", {"es"}),
    ("personnelles -données", set()),
]


async def find(client, q: str = "", **filters) -> list[dict]:
    response = await client.get("/api/v1/search", params={"q": q, **filters})
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def reindex(app) -> int:
    """One round of the worker's live-text step, as it runs every COGOV_SEARCH_REINDEX_SECONDS."""
    return await search_worker.reindex_stale_norms(app.state.sessionmaker, app.state.norm_store)


@pytest.fixture
async def languages(client, app, network) -> dict:
    """A norm in each UN language in the network; {language: norm}."""
    founder = network["members"][0]
    made = {}
    for language, (title, text) in NORMS.items():
        response = await client.post(
            f"/api/v1/networks/{network['slug']}/norms", json={"title": title, "text": text}, headers=founder["headers"]
        )
        assert response.status_code == 201, response.text
        made[language] = response.json()
    assert await reindex(app) == len(NORMS)
    return made


async def test_words_in_each_un_language_find_their_norm(client, languages):
    # Every query against the one corpus (seeding it per query was most of this module's time); all that
    # find the wrong norms are named together.
    wrong = {}
    for q, expected in QUERIES:
        found = {h["id"] for h in await find(client, q, kind="norm")}
        if found != {languages[code]["id"] for code in expected}:
            wrong[q] = sorted(code for code, norm in languages.items() if norm["id"] in found)
    assert not wrong, f"query: languages of the norms found instead: {wrong}"


async def test_each_norm_is_labelled_with_its_language(client, languages):
    for code, norm in languages.items():
        [hit] = [h for h in await find(client, "", kind="norm", language=code)]
        assert hit["id"] == norm["id"]


async def test_a_norm_title_is_found_before_the_worker_reads_its_text(client, network):
    founder = network["members"][0]
    made = await client.post(
        f"/api/v1/networks/{network['slug']}/norms", json={"title": "Cable landing", "text": "Submarine"}, headers=founder["headers"]
    )
    assert made.status_code == 201
    assert [h["id"] for h in await find(client, "cable landing")] == [made.json()["id"]]
    assert await find(client, "submarine") == []


async def test_a_norm_found_by_its_title_alone_shows_its_title_with_the_words_marked(client, app, network):
    founder = network["members"][0]
    made = await client.post(
        f"/api/v1/networks/{network['slug']}/norms", json={"title": "Cable landing", "text": "Submarine"}, headers=founder["headers"]
    )
    assert made.status_code == 201
    assert await reindex(app) == 1  # the text indexed too: it holds none of the words searched for
    [hit] = await find(client, "landing")
    assert hit["snippet"] == "Cable <mark>landing</mark>"
    [hit] = await find(client, "submarine")
    assert hit["snippet"] == "<mark>Submarine</mark>"


async def test_a_live_edit_is_found_after_the_next_reindex_round(client, app, network, languages):
    norm, founder = languages["en"], network["members"][0]
    edited = await client.post(
        f"/api/v1/norms/{norm['id']}/edits",
        json={"splices": [{"index": 0, "insert": "Interconnection peering. "}]},
        headers=founder["headers"],
    )
    assert edited.status_code == 200, edited.text
    assert await find(client, "peering") == []  # the sync path does not index
    assert await reindex(app) == 1
    [hit] = await find(client, "peering")
    assert hit["id"] == norm["id"] and "<mark>peering</mark>" in hit["snippet"]
    assert await reindex(app) == 0  # nothing changed since


async def test_the_worker_starts_the_folding_process_before_any_long_text_comes(app, monkeypatch):
    """So the first norm of a million characters after a start is not also the one that waits for a process."""
    monkeypatch.setattr(index, "_POOL", None)  # as after a start
    try:
        async with search_worker.running(app.state.runtime):
            for _ in range(600):  # the worker's first step, which does not wait for any text
                if index.folding_started():
                    break
                await asyncio.sleep(0.05)
            assert index.folding_started()
    finally:
        if index._POOL is not None:
            index._POOL.shutdown()


async def test_a_tagged_version_is_found_at_once(client, council):
    hits = await find(client, "ranking criteria", kind="version")
    assert [h["url"] for h in hits] == [f"/networks/{council['slug']}/norms/{council['norm']['slug']}/versions/1"]
    assert "<mark>ranking</mark> <mark>criteria</mark>" in hits[0]["snippet"]
    assert hits[0]["status"] == "drafting"


async def test_the_network_is_found_by_its_aims_and_filters_narrow(client, council):
    [hit] = await find(client, "platforms voluntary", kind="network")
    assert hit["url"] == f"/networks/{council['slug']}"
    assert await find(client, "platforms voluntary", kind="network", group="civil_society", region="africa") == [hit]
    assert await find(client, "platforms voluntary", kind="network", group="government") == []
    assert await find(client, "platforms voluntary", network="no-such-network") == []
    assert await find(client, "platforms voluntary", kind="network", **{"from": "2000-01-01", "to": "2999-12-31"}) == [hit]
    assert await find(client, "platforms voluntary", kind="network", **{"to": "2000-01-01"}) == []


async def test_snippets_are_escaped_html(client, network):
    founder = network["members"][0]
    text = "Never <script>alert(1)</script> trust markup & ampersands."
    made = await client.post(
        f"/api/v1/networks/{network['slug']}/norms", json={"title": "Markup", "text": text}, headers=founder["headers"]
    )
    norm_id = made.json()["id"]
    tagged = await client.post(f"/api/v1/norms/{norm_id}/versions", json={"label": "v1"}, headers=founder["headers"])
    assert tagged.status_code == 201
    [hit] = await find(client, "script", kind="version")
    assert hit["snippet"] == "Never &lt;<mark>script</mark>&gt;alert(1)&lt;/<mark>script</mark>&gt; trust markup &amp; ampersands."


async def test_an_adopted_and_published_norm_is_in_force(client, published):
    entries = await find(client, "ranking criteria", kind="entry")
    assert [(h["status"], h["id"]) for h in entries] == [("in_force", published["entry"]["id"])]
    assert [h["kind"] for h in await find(client, "ranking", status="adopted")] == ["version"]
    assert [h["kind"] for h in await find(client, "", kind="norm", status="adopted")] == ["norm"]


async def test_an_entry_is_found_by_its_topic_and_by_the_topic_s_new_label_once_renamed(client, published, staff):
    entry = published["entry"]
    made = await client.post("/api/v1/clearinghouse/topics", json={"label": "Quokka welfare"}, headers=staff["headers"])
    assert made.status_code == 201, made.text
    curated = await client.patch(
        f"/api/v1/clearinghouse/entries/{entry['id']}/curation", json={"topics": [made.json()["slug"]]}, headers=staff["headers"]
    )
    assert curated.status_code == 200, curated.text
    assert [h["id"] for h in await find(client, "quokka", kind="entry")] == [entry["id"]]
    renamed = await client.patch(
        f"/api/v1/clearinghouse/topics/{made.json()['slug']}", json={"label": "Wombat welfare"}, headers=staff["headers"]
    )
    assert renamed.status_code == 200, renamed.text
    assert [h["id"] for h in await find(client, "wombat", kind="entry")] == [entry["id"]]
    assert await find(client, "quokka") == []


async def test_a_hidden_comment_never_appears(client, council, clock):
    convener, member = council["convener"], council["members"][1]
    opened = await client.post(
        f"/api/v1/norms/{council['norm']['id']}/consultations",
        json={"version": 1, "closes_at": (clock.now() + timedelta(days=14)).isoformat(), "question": "Is the scope of ranking clear?"},
        headers=convener["headers"],
    )
    assert opened.status_code == 201, opened.text
    consultation = opened.json()
    [question] = await find(client, "scope", kind="consultation")
    assert question["url"] == f"/consultations/{consultation['id']}"
    posted = await client.post(
        f"/api/v1/consultations/{consultation['id']}/comments", json={"body": "Slanderous gibberish"}, headers=member["headers"]
    )
    assert posted.status_code == 201, posted.text
    assert [h["kind"] for h in await find(client, "gibberish")] == ["comment"]
    hidden = await client.post(f"/api/v1/comments/{posted.json()['id']}/hide", json={"reason": "Abusive"}, headers=convener["headers"])
    assert hidden.status_code == 200, hidden.text
    assert await find(client, "gibberish") == []
    assert await find(client, "slanderous", kind="comment") == []


async def test_pages_follow_the_cursor(client, network):
    founder = network["members"][0]
    for n in range(5):
        made = await client.post(
            f"/api/v1/networks/{network['slug']}/norms", json={"title": f"Paged norm {n}", "text": "x"}, headers=founder["headers"]
        )
        assert made.status_code == 201
    seen, cursor = [], None
    while True:
        params = {"q": "paged", "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/api/v1/search", params=params)).json()
        seen += [h["title"] for h in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == [f"Paged norm {n}" for n in range(5)]


async def test_empty_query_lists_the_directory_newest_first(client, languages):
    hits = await find(client, "", kind="norm")
    assert [h["id"] for h in hits] == [languages[code]["id"] for code in reversed(list(NORMS))]


SYNTAX = [
    '"unbalanced',
    "NEAR(a b)",
    "a:b",
    "title:rpki",
    "rpki AND OR NOT",
    "(((",
    "*",
    "-",
    "'; DROP TABLE norms; --",
    "rpki & !x | y <-> z",
    "\\",
]


async def test_query_syntax_is_taken_literally(client, languages):
    answers = {q: await client.get("/api/v1/search", params={"q": q}) for q in SYNTAX}
    assert not {q: (r.status_code, r.text) for q, r in answers.items() if r.status_code != 200}


async def test_bad_input_gets_a_clear_422(client):
    too_long = await client.get("/api/v1/search", params={"q": "x" * 501})
    assert too_long.status_code == 422
    unknown = await client.get("/api/v1/search", params={"q": "x", "colour": "red"})
    assert unknown.status_code == 422 and "colour" in unknown.json()["detail"]
    for bad in (
        {"network": "a\x00b"},
        {"network": "Not A Slug"},
        {"to": "9999-12-31"},
        {"cursor": encode_cursor(10**30)},
        {"cursor": encode_cursor(-1)},
    ) + (
        {"kind": "poem"},
        {"status": "dormant"},
        {"group": "wizards"},
        {"region": "atlantis"},
        {"language": "tlh"},
        {"from": "yesterday"},
    ):
        response = await client.get("/api/v1/search", params={"q": "x", **bad})
        assert response.status_code == 422, bad
    assert (await client.get("/api/v1/search", params={"cursor": "garbage!"})).status_code == 422


async def test_a_huge_varied_text_is_indexed_not_refused(client, app, network):
    """Hundreds of thousands of distinct words exceed PostgreSQL's 1 MiB tsvector: the text is indexed as far as
    it fits instead of failing the transaction that writes it (a norm grows to 1,000,000 characters by edits)."""
    words = " ".join(f"w{n:06d}x{'abcdefghij' * 2}" for n in range(40_000))
    doc = index.Doc(Kind.version, uuid.uuid4(), "Huge", f"Opening clause on quokkas. {words}", "/huge", datetime.now(UTC))
    async with transaction(app.state.sessionmaker) as session:
        await index.write(session, doc)
    assert [h["url"] for h in await find(client, "quokkas")] == ["/huge"]


async def test_a_title_match_leads_and_every_match_pages_when_many_match(client, app, network, monkeypatch):
    """Only a bounded set of candidates is scored when a word is common: the best (a title match, here the oldest
    thing indexed) still comes first, and paging reaches every match."""
    monkeypatch.setattr(service, "CANDIDATES", 2)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    async with transaction(app.state.sessionmaker) as session:
        await index.write(session, index.Doc(Kind.version, uuid.uuid4(), "Okapi habitats", "Forest.", "/titled", start))
        for n in range(6):
            body = f"Clause {n} mentions the okapi once among other words."
            await index.write(session, index.Doc(Kind.version, uuid.uuid4(), f"Clause {n}", body, f"/c/{n}", start + timedelta(days=n)))
    first = (await client.get("/api/v1/search", params={"q": "okapi", "limit": 3})).json()
    assert first["items"][0]["url"] == "/titled"
    second = (await client.get("/api/v1/search", params={"q": "okapi", "limit": 3, "cursor": first["next_cursor"]})).json()
    third = (await client.get("/api/v1/search", params={"q": "okapi", "limit": 3, "cursor": second["next_cursor"]})).json()
    urls = [hit["url"] for page in (first, second, third) for hit in page["items"]]
    assert sorted(urls) == sorted(["/titled", *(f"/c/{n}" for n in range(6))])
    assert third["next_cursor"] is None


@pytest.mark.parametrize("walk", [None, 1, 1000], ids=["from-the-index", "walk-falls-short", "walk"])
async def test_a_phrase_pages_newest_first_in_order_whichever_way_it_is_found(client, app, network, monkeypatch, walk):
    """A phrase of common words is found by walking the newest rows (PostgreSQL, when its estimates say the words are
    common), of rare words from the index, and a walk that finds too few goes back to the index: each way gives the
    same pages, every match once, the title match first, then the newest, and never the words in another order."""
    monkeypatch.setattr(service, "CANDIDATES", 2)

    async def budget(*_args: object) -> int | None:
        return walk

    monkeypatch.setattr(service, "_walk_budget", budget)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    bodies = [("Okapi habitats", "Forest.", "/titled")]
    bodies += [(f"Clause {n}", f"Clause {n}: the okapi {'fence' if n == 6 else 'grazes'}.", f"/c/{n}") for n in range(7)]
    # The newest hold both words in the other order: a walk of the newest rows meets them first.
    bodies += [(f"Reversed {n}", f"Reversed {n}: okapi the grazer.", f"/r/{n}") for n in range(3)]
    async with transaction(app.state.sessionmaker) as session:
        for n, (title, body, url) in enumerate(bodies):
            title = "The okapi habitats" if url == "/titled" else title
            await index.write(session, index.Doc(Kind.version, uuid.uuid4(), title, body, url, start + timedelta(days=n)))

    async def pages(q: str) -> list[str]:
        urls, cursor = [], None
        while True:
            params = {"q": q, "limit": 2} | ({"cursor": cursor} if cursor else {})
            page = (await client.get("/api/v1/search", params=params)).json()
            urls += [hit["url"] for hit in page["items"]]
            if (cursor := page["next_cursor"]) is None:
                return urls

    assert await pages('"the okapi"') == ["/titled", *(f"/c/{n}" for n in reversed(range(7)))]
    assert await pages('"the okapi" -fence') == ["/titled", *(f"/c/{n}" for n in reversed(range(6)))]
    assert await pages('"okapi the"') == [f"/r/{n}" for n in reversed(range(3))]
    assert await pages('"okapi grazes"') == [f"/c/{n}" for n in reversed(range(6))]


@pytest.mark.parametrize("walk", [None, 1, 1000], ids=["from-the-index", "walk-falls-short", "walk"])
async def test_words_and_prefixes_page_the_same_whichever_way_they_are_found(client, app, network, monkeypatch, walk):
    """Common words and prefixes are found by walking the newest rows (PostgreSQL, when its estimates say they are
    common), rare ones from the index, and a walk that finds too few goes back to the index: each way gives the same
    pages, every match once, the title matches among them, exclusions honoured."""
    monkeypatch.setattr(service, "CANDIDATES", 2)

    async def budget(*_args: object) -> int | None:
        return walk

    monkeypatch.setattr(service, "_walk_budget", budget)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    bodies = [("Operators' duties", "Forest.", "/titled")]
    bodies += [(f"Clause {n}", f"Clause {n}: operators {'fence' if n == 6 else 'graze'} the okapi.", f"/c/{n}") for n in range(7)]
    bodies += [(f"Other {n}", f"Other {n}: nothing of the kind.", f"/o/{n}") for n in range(3)]
    async with transaction(app.state.sessionmaker) as session:
        for n, (title, body, url) in enumerate(bodies):
            await index.write(session, index.Doc(Kind.version, uuid.uuid4(), title, body, url, start + timedelta(days=n)))

    async def pages(q: str) -> list[str]:
        urls, cursor = [], None
        while True:
            params = {"q": q, "limit": 2} | ({"cursor": cursor} if cursor else {})
            page = (await client.get("/api/v1/search", params=params)).json()
            urls += [hit["url"] for hit in page["items"]]
            if (cursor := page["next_cursor"]) is None:
                return urls

    clauses = [f"/c/{n}" for n in range(7)]
    for q in ("operators", "operat*"):
        found = await pages(q)
        assert found[0] == "/titled" and sorted(found[1:]) == sorted(clauses), (q, found)
    assert sorted(await pages("okapi -fence")) == sorted(clauses[:6])
    assert await pages("nothing") == [f"/o/{n}" for n in reversed(range(3))]


async def _translate(client, council: dict, language: str, text: str, *, review: bool) -> None:
    """A member starts a translation of version 1 into `language` and writes `text`; a convener reviews it if `review`."""
    translations = f"/api/v1/norms/{council['norm']['id']}/versions/1/translations"
    member = council["members"][1]
    started = await client.post(translations, json={"language": language}, headers=member["headers"])
    assert started.status_code == 201, started.text
    old = started.json()["text"]
    splice = {"index": 0, "delete": len(old), "insert": text}
    edited = await client.post(f"{translations}/{language}/edits", json={"splices": [splice]}, headers=member["headers"])
    assert edited.status_code == 200, edited.text
    if review:
        reviewed = await client.post(f"{translations}/{language}/review", headers=council["convener"]["headers"])
        assert reviewed.status_code == 200, reviewed.text


async def test_an_entry_is_found_by_the_words_of_its_reviewed_translations_only(client, published):
    council, entry = published["council"], published["entry"]
    await _translate(client, council, "fr", "Les plateformes publient leurs critères de classement.", review=False)
    await _translate(client, council, "ar", "تنشر المنصات معايير الترتيب الخاصة بها.", review=False)
    # Not reviewed: what translators are writing is not what the entry publishes, nor what search finds.
    assert await find(client, "classement") == [] and await find(client, "المنصات") == []
    reviewed = await client.post(
        f"/api/v1/norms/{council['norm']['id']}/versions/1/translations/fr/review", headers=council["convener"]["headers"]
    )
    assert reviewed.status_code == 200, reviewed.text
    # Found at once (reindexed in the review's transaction), in French, with or without accents.
    for q in ("classement", "criteres plateformes"):
        assert [(h["kind"], h["id"]) for h in await find(client, q)] == [("entry", entry["id"])]
    assert await find(client, "المنصات") == []  # the Arabic one is still unreviewed

    # Words written after the review wait for the next review.
    edited = await client.post(
        f"/api/v1/norms/{council['norm']['id']}/versions/1/translations/fr/edits",
        json={"splices": [{"index": 0, "insert": "Chaque semaine, "}]},
        headers=council["members"][2]["headers"],
    )
    assert edited.status_code == 200, edited.text
    assert await find(client, "semaine") == []


async def test_a_translation_reviewed_before_publication_is_found_with_the_entry(client, council, clock, worker):
    await _translate(client, council, "es", "Las plataformas publican sus criterios de clasificación.", review=True)
    assert await find(client, "clasificacion") == []  # nothing published yet
    await adopt(client, council, clock)
    assert await worker.publish_pending() == 1
    [entry] = (await client.get("/api/v1/clearinghouse/entries")).json()["items"]
    assert [(h["kind"], h["id"]) for h in await find(client, "clasificacion")] == [("entry", entry["id"])]
