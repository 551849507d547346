"""Reviewed translations published with an entry: REST (`?lang=`), Atom, JSON Feed and Akoma Ntoso, each labelled."""

from __future__ import annotations

import feedparser
from lxml import etree

from services.clearinghouse.exports import AKN_NS, akn_errors
from tests.clearinghouse import jsonfeed
from tests.fixtures.clearinghouse import adopt
from tests.fixtures.norms import TEXT, TITLE

FRENCH_TITLE = "Transparence des systèmes de recommandation"
FRENCH = "Les plateformes publient leurs critères de classement."
SPANISH_TITLE = "Transparencia de los sistemas de recomendación"
SPANISH = "Las plataformas publican sus criterios de clasificación."
LABEL = "translation — the authentic text is the English original"
NS = {"a": AKN_NS, "atom": "http://www.w3.org/2005/Atom", "cogov": "urn:cogov:atom:1"}
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def translations_of(council: dict) -> str:
    return f"/api/v1/norms/{council['norm']['id']}/versions/1/translations"


async def co_translate(client, council: dict, connect, language: str, title: str, text: str) -> None:
    """Two members translate version 1 live (one the first word, the other the rest, one the title); a convener reviews it."""
    bruno, chen = council["members"][1], council["members"][2]
    started = await client.post(translations_of(council), json={"language": language}, headers=bruno["headers"])
    assert started.status_code == 201, started.text
    first = await (await connect(bruno)).open(started.json()["url"])
    second = await (await connect(chen)).open(started.json()["url"])
    head, tail = text.split(" ", 1)
    await first.splice(0, len(first.text), head)
    await second.wait_for(lambda handle: handle.text == head)
    await second.splice(len(head), 0, " " + tail)
    await first.wait_for(lambda handle: handle.text == text)
    await first.wait_synced()
    await second.wait_synced()
    titled = await client.post(f"{translations_of(council)}/{language}/edits", json={"title": title}, headers=chen["headers"])
    assert titled.status_code == 200, titled.text
    reviewed = await client.post(f"{translations_of(council)}/{language}/review", headers=council["convener"]["headers"])
    assert reviewed.status_code == 200, reviewed.text
    assert (reviewed.json()["reviewed_title"], reviewed.json()["reviewed_text"]) == (title, text)


async def test_a_co_edited_translation_is_published_with_the_entry_in_every_format(client, council, clock, worker, connect):
    await co_translate(client, council, connect, "fr", FRENCH_TITLE, FRENCH)
    await adopt(client, council, clock)
    assert await worker.publish_pending() == 1
    [entry] = (await client.get("/api/v1/clearinghouse/entries")).json()["items"]

    # REST: the authentic text, listing its translation; `?lang=fr` the translation, labelled.
    assert (entry["title"], entry["text"], entry["language"], entry["authentic"]) == (TITLE, TEXT, "en", True)
    [listed] = entry["translations"]
    assert (listed["language"], listed["title"], listed["label"]) == ("fr", FRENCH_TITLE, LABEL)
    french = (await client.get(f"/api/v1/clearinghouse/entries/{entry['id']}", params={"lang": "fr"})).json()
    assert (french["title"], french["text"], french["language"]) == (FRENCH_TITLE, FRENCH, "fr")
    assert (french["authentic"], french["authentic_language"], french["label"]) == (False, "en", LABEL)
    assert french["record"] == entry["record"] and french["signature"] == entry["signature"]  # signed: the authentic text
    assert (await client.get(listed["entry_url"])).json()["text"] == FRENCH
    missing = await client.get(f"/api/v1/clearinghouse/entries/{entry['id']}", params={"lang": "ru"})
    assert missing.status_code == 404 and missing.json()["code"] == "translation_not_found"
    assert (await client.get(f"/api/v1/clearinghouse/entries/{entry['id']}", params={"lang": "xx"})).status_code == 422

    # Atom: the entry in English (xml:lang), an hreflang alternate and the labelled translation in its own language.
    atom = await client.get("/feeds/norms.atom")
    parsed = feedparser.parse(atom.content)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    [item] = parsed.entries
    alternates = {link.get("hreflang"): link.href for link in item.links if link.rel == "alternate"}
    assert alternates == {"en": entry["permalink"], "fr": f"{entry['permalink']}?lang=fr"}
    [atom_entry] = etree.fromstring(atom.content).iterfind("atom:entry", NS)
    content = atom_entry.find("atom:content", NS)
    assert content.get(XML_LANG) == "en" and content.text == TEXT
    [translation] = atom_entry.iterfind("cogov:translation", NS)
    assert (translation.get(XML_LANG), translation.get("title"), translation.get("label"), translation.text) == (
        "fr",
        FRENCH_TITLE,
        LABEL,
        FRENCH,
    )

    # JSON Feed: the item's language, and the translation labelled under `_cogov`.
    document = (await client.get("/feeds/norms.json")).json()
    assert jsonfeed.problems(document) == []
    [json_item] = document["items"]
    assert json_item["language"] == "en" and json_item["content_text"] == TEXT
    [json_translation] = json_item["_cogov"]["translations"]
    assert (json_translation["language"], json_translation["title"], json_translation["content_text"]) == ("fr", FRENCH_TITLE, FRENCH)
    assert json_translation["label"] == LABEL and json_translation["url"] == f"{entry['permalink']}?lang=fr"

    # Akoma Ntoso: the translation is another Expression of the same Work, in French, translating the English one.
    original = await client.get(f"/api/v1/clearinghouse/entries/{entry['id']}/akn.xml")
    translated = await client.get(f"/api/v1/clearinghouse/entries/{entry['id']}/akn.xml", params={"lang": "fr"})
    assert translated.status_code == 200 and akn_errors(translated.content) == [] and akn_errors(original.content) == []
    original_tree, tree = etree.fromstring(original.content), etree.fromstring(translated.content)

    def value(document, path: str) -> list[str]:
        return document.xpath(path, namespaces=NS)

    assert value(tree, "//a:FRBRWork/a:FRBRuri/@value") == value(original_tree, "//a:FRBRWork/a:FRBRuri/@value")
    [english_expression] = value(original_tree, "//a:FRBRExpression/a:FRBRuri/@value")
    [french_expression] = value(tree, "//a:FRBRExpression/a:FRBRuri/@value")
    assert french_expression == english_expression.replace("/eng@", "/fre@")
    assert value(tree, "//a:FRBRExpression/a:FRBRlanguage/@language") == ["fre"]
    assert value(tree, "//a:FRBRtranslation/@href") == [english_expression]
    assert value(tree, "//a:FRBRtranslation/@fromLanguage") == ["eng"]
    assert value(tree, "//a:FRBRtranslation/@authoritative") == ["false"]
    assert value(original_tree, "//a:FRBRtranslation") == []
    assert value(tree, "//a:mainBody/a:p/text()") == [FRENCH] and value(tree, "//a:docTitle/text()") == [FRENCH_TITLE]
    assert LABEL in value(tree, "//a:preface/a:p/text()")
    assert (await client.get(f"/api/v1/clearinghouse/entries/{entry['id']}/akn.xml", params={"lang": "es"})).status_code == 404


async def test_a_translation_reviewed_after_publication_appears_from_then_on(client, published, connect, clock):
    council, entry = published["council"], published["entry"]
    assert entry["translations"] == []
    before = await client.get("/feeds/norms.json")
    await co_translate(client, council, connect, "es", SPANISH_TITLE, SPANISH)
    after = await client.get("/feeds/norms.json")
    assert after.headers["etag"] != before.headers["etag"]
    [item] = after.json()["items"]
    assert [t["language"] for t in item["_cogov"]["translations"]] == ["es"]
    spanish = (await client.get(f"/api/v1/clearinghouse/entries/{entry['id']}", params={"lang": "es"})).json()
    assert (spanish["text"], spanish["authentic"]) == (SPANISH, False)


async def test_an_unreviewed_translation_is_not_published(client, published, connect):
    council, entry = published["council"], published["entry"]
    started = await client.post(translations_of(council), json={"language": "ar"}, headers=council["members"][1]["headers"])
    assert started.status_code == 201
    edited = await client.post(
        f"{translations_of(council)}/ar/edits",
        json={"splices": [{"index": 0, "delete": len(TEXT), "insert": "تنشر المنصات معايير الترتيب الخاصة بها."}]},
        headers=council["members"][2]["headers"],
    )
    assert edited.status_code == 200, edited.text
    assert (await client.get(f"/api/v1/clearinghouse/entries/{entry['id']}")).json()["translations"] == []
    assert (await client.get(f"/api/v1/clearinghouse/entries/{entry['id']}", params={"lang": "ar"})).status_code == 404


async def test_the_entry_page_offers_each_reviewed_translation_labelled(client, published, connect):
    council, entry = published["council"], published["entry"]
    await co_translate(client, council, connect, "fr", FRENCH_TITLE, FRENCH)
    page = await client.get(entry["permalink"].removeprefix("http://127.0.0.1:8000"), headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert 'hreflang="fr"' in page.text and "Français" in page.text and "authentic text" in page.text
    assert TEXT in page.text and FRENCH not in page.text
    french = await client.get(entry["permalink"].removeprefix("http://127.0.0.1:8000") + "?lang=fr")
    assert french.status_code == 200
    # `?lang=fr` also speaks French around the text: the label names the original's language in French.
    assert FRENCH in french.text and FRENCH_TITLE in french.text
    assert "Traduction — le texte faisant foi est l’original en anglais." in french.text.replace("&#39;", "’").replace("'", "’")
