"""Translating a version from its pages, without a browser: the version's translations and the form to start one,
the translation's page (its text in its language, labelled; the live editor for members only) and the review."""

from __future__ import annotations

import json
import re

from tests.web.test_ballot_pages import _csrf, browser, norm_page, squash

ORIGINAL = "Platforms publish their ranking criteria."
FRENCH = "Les plateformes publient leurs critères de classement."


def version_page(council: dict) -> str:
    return f"{norm_page(council)}/versions/1"


def translation_page(council: dict, language: str) -> str:
    return f"{version_page(council)}/translations/{language}"


def _options(html: str) -> list[str]:
    select = re.search(r'<select id="translation-language".*?</select>', html, re.S).group(0)
    return re.findall(r'<option value="(\w+)"', select)


async def test_a_member_starts_a_translation_from_the_version_page_and_lands_on_it(app, client, council):
    bruno = council["members"][1]
    async with browser(app, bruno) as member:
        page = await member.get(version_page(council))
        assert "This version has no translation yet." in page.text
        # The norm is drafted in English: every other language is offered, English is not.
        assert _options(page.text) == ["ar", "zh", "fr", "ru", "es"]
        assert 'id="drafted-in"' in page.text and 'lang="en"' in page.text
        started = await member.post(f"{version_page(council)}/translations", data={"csrf_token": _csrf(page.text), "language": "fr"})
        assert started.status_code == 303 and started.headers["location"] == translation_page(council, "fr")
        translation = await member.get(started.headers["location"])
        listed = await member.get(version_page(council))
    assert translation.status_code == 200
    text = squash(translation.text)
    assert "The translation into French is started" in text
    assert "Translation — the authentic text is the English original." in text
    # The text (still the original's copy) marked as French, and the norm page's live editor on the translation's document.
    marked = '<div class="norm-text" lang="fr" dir="ltr" id="norm-text">'
    assert f'{marked}<div class="line" dir="auto">{ORIGINAL}</div></div>' in translation.text
    config = json.loads(re.search(r'<script type="application/json" id="editor-config">(.*?)</script>', translation.text).group(1))
    api = (await client.get(f"/api/v1/norms/{council['norm']['id']}/versions/1/translations/fr")).json()
    assert config["documentUrl"] == api["url"] != council["norm"]["url"] and config["canEdit"] is True
    assert config["syncPath"] == "/api/v1/sync" and config["me"]["name"] == "Bruno"
    assert "Not reviewed yet" in text and "Mark reviewed" not in text  # Bruno is no convener
    # The version page lists it, and offers French no more.
    assert f'href="{translation_page(council, "fr")}">French</a>' in listed.text
    assert "fr" not in _options(listed.text)
    async with browser(app) as reader:
        norm = await reader.get(norm_page(council))
    # The norm page's list of versions says v1 is translated, and links it.
    assert f'Translations: <a href="{translation_page(council, "fr")}" hreflang="fr">French</a>' in squash(norm.text)


async def test_refusals_are_said_in_words_on_the_version_page(app, client, council):
    bruno, chen = council["members"][1], council["members"][2]
    async with browser(app, bruno) as member:
        page = await member.get(version_page(council))
        started = await member.post(f"{version_page(council)}/translations", data={"csrf_token": _csrf(page.text), "language": "es"})
        assert started.status_code == 303
    async with browser(app, chen) as other:
        # Chen's page was loaded before Bruno started Spanish: the form still offers it.
        page = await other.get(version_page(council))
        token = _csrf(page.text)
        again = await other.post(f"{version_page(council)}/translations", data={"csrf_token": token, "language": "es"})
        original = await other.post(f"{version_page(council)}/translations", data={"csrf_token": token, "language": "en"})
        unknown = await other.post(f"{version_page(council)}/translations", data={"csrf_token": token, "language": "tlh"})
    assert again.status_code == 409
    said = squash(again.text)
    assert "This version already has a translation into Spanish: edit that one." in said
    assert f'<a href="{translation_page(council, "es")}">Open the translation</a>' in again.text
    assert original.status_code == 422
    assert "The norm is drafted in English: its text in English is the original, not a translation." in squash(original.text)
    assert unknown.status_code == 422 and "Choose one of the languages offered." in unknown.text
    assert 'class="error-summary"' in unknown.text and 'href="#translation-language"' in unknown.text
    assert "/api/" not in again.text.split("<main", 1)[1].split("</main>", 1)[0]


async def test_readers_who_are_not_members_read_the_text_without_the_editor_or_the_form(app, client, council):
    created = await client.post(
        f"/api/v1/norms/{council['norm']['id']}/versions/1/translations", json={"language": "ar"}, headers=council["members"][1]["headers"]
    )
    assert created.status_code == 201
    arabic = "تنشر المنصات معايير الترتيب الخاصة بها."
    edited = await client.post(
        f"/api/v1/norms/{council['norm']['id']}/versions/1/translations/ar/edits",
        json={"splices": [{"index": 0, "delete": len(ORIGINAL), "insert": arabic}]},
        headers=council["members"][2]["headers"],
    )
    assert edited.status_code == 200, edited.text
    for person in (None, council["outsider"]):
        async with browser(app, person) as reader:
            version = await reader.get(version_page(council))
            page = await reader.get(translation_page(council, "ar"))
        assert 'id="translation-language"' not in version.text and "Arabic" in version.text
        assert page.status_code == 200
        assert f'lang="ar" dir="rtl" id="norm-text"><div class="line" dir="auto">{arabic}</div>' in page.text
        assert 'id="editor-config"' not in page.text and "Mark reviewed" not in page.text
        assert "Only members of the network translate; you are reading." in page.text
    async with browser(app, None) as reader:
        missing = await reader.get(translation_page(council, "ru"))
    assert missing.status_code == 404


async def test_a_convener_marks_a_translation_reviewed_and_the_pages_say_by_whom_and_when(app, client, council):
    amina, bruno = council["members"][0], council["members"][1]
    translations = f"/api/v1/norms/{council['norm']['id']}/versions/1/translations"
    assert (await client.post(translations, json={"language": "fr"}, headers=bruno["headers"])).status_code == 201
    edited = await client.post(
        f"{translations}/fr/edits", json={"splices": [{"index": 0, "delete": len(ORIGINAL), "insert": FRENCH}]}, headers=bruno["headers"]
    )
    assert edited.status_code == 200
    async with browser(app, bruno) as member:
        page = await member.get(translation_page(council, "fr"))
        refused = await member.post(f"{translation_page(council, 'fr')}/review", data={"csrf_token": _csrf(page.text)})
        assert refused.status_code == 303
        after = squash((await member.get(translation_page(council, "fr"))).text)
        assert "Only conveners of the network may review a translation" in after and "Not reviewed yet" in after
    async with browser(app, amina) as convener:
        page = await convener.get(translation_page(council, "fr"))
        assert "Mark reviewed" in page.text
        reviewed = await convener.post(f"{translation_page(council, 'fr')}/review", data={"csrf_token": _csrf(page.text)})
        assert reviewed.status_code == 303 and reviewed.headers["location"] == translation_page(council, "fr")
        shown = squash((await convener.get(translation_page(council, "fr"))).text)
        listed = squash((await convener.get(version_page(council))).text)
    assert "The translation into French is marked reviewed as it reads now." in shown
    assert re.search(r"Reviewed</span> by Amina, <time datetime=\"[^\"]+\">[^<]+</time>\. The text below is the text as reviewed\.", shown)
    assert "Mark reviewed again" in shown
    assert re.search(r">French</a> · <span class=\"badge badge-adopted\">Reviewed</span> <span class=\"muted\">by Amina, <time", listed)
    api = (await client.get(f"{translations}/fr")).json()
    assert api["reviewed"] is True and api["reviewed_text"] == FRENCH and api["reviewed_by"]["display_name"] == "Amina"

    # Edited after the review: the page says the published text is the reviewed one, and shows it.
    more = await client.post(f"{translations}/fr/edits", json={"splices": [{"index": 0, "insert": "Toutes "}]}, headers=bruno["headers"])
    assert more.status_code == 200
    async with browser(app, None) as reader:
        later = squash((await reader.get(translation_page(council, "fr"))).text)
    assert "It has been edited since: the clearing house publishes the text as reviewed" in later
    assert f"Toutes {FRENCH}" in later and f'<div class="line" dir="auto">{FRENCH}</div>' in later


async def test_a_norm_is_started_in_the_language_chosen_and_its_page_says_so(app, client, council):
    amina = council["members"][0]
    network = f"/networks/{council['slug']}"
    async with browser(app, amina) as member:
        english = await member.get(network, headers={"Accept-Language": "en"})
        spoken = await member.get(network, headers={"Accept-Language": "es"})
        token = _csrf(english.text)
        started = await member.post(
            f"{network}/norms", data={"csrf_token": token, "title": "Transparence", "text": "Les plateformes publient.", "language": "fr"}
        )
        klingon = await member.post(f"{network}/norms", data={"csrf_token": token, "title": "Norm", "text": "x", "language": "tlh"})
        page = await member.get(started.headers["location"], headers={"Accept-Language": "en"})
    # "Drafted in" offers the six, the interface's language chosen unless the author picks another.
    assert '<option value="en" selected>English</option>' in english.text
    assert '<option value="es" selected>español</option>' in spoken.text
    assert started.status_code == 303
    assert klingon.status_code == 422 and "Choose one of the languages offered." in klingon.text
    assert 'href="#norm-language"' in klingon.text
    assert 'id="drafted-in">drafted in French</span>' in page.text
    assert 'lang="fr" dir="ltr" id="norm-text"' in page.text
    slug = started.headers["location"].rsplit("/", 1)[1]
    norms = (await client.get(f"/api/v1/networks/{council['slug']}/norms")).json()
    [norm] = [n for n in (norms["items"] if isinstance(norms, dict) else norms) if n["slug"] == slug]
    assert norm["language"] == "fr"


def _field(html: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', html).group(1)


async def test_without_javascript_members_write_the_translation_in_a_form_that_merges_with_the_others(app, client, council):
    bruno, chen, outsider = council["members"][1], council["members"][2], council["outsider"]
    api = f"/api/v1/norms/{council['norm']['id']}/versions/1/translations"
    started = await client.post(api, json={"language": "fr"}, headers=bruno["headers"])
    assert started.status_code == 201, started.text
    async with browser(app, bruno) as member:
        page = await member.get(translation_page(council, "fr"))
        assert 'id="plain-edit"' in page.text and 'lang="fr" dir="auto"' in page.text
        token, heads = _csrf(page.text), _field(page.text, "base_heads")
        # Meanwhile Chen, live, adds a sentence at the end of the copied original.
        splice = {"index": len(ORIGINAL), "delete": 0, "insert": " Chaque année."}
        assert (await client.post(f"{api}/fr/edits", json={"splices": [splice]}, headers=chen["headers"])).status_code == 200
        form = {"csrf_token": token, "base_heads": heads, "title": "Transparence des algorithmes", "text": FRENCH}
        saved = await member.post(f"{translation_page(council, 'fr')}/edit", data=form)
        assert saved.status_code == 303 and saved.headers["location"] == translation_page(council, "fr")
        # Too long a title: the form comes back open, with what was typed, and nothing is written.
        refused = await member.post(f"{translation_page(council, 'fr')}/edit", data=form | {"title": "T" * 301, "text": "Gardé."})
        assert _field(refused.text, "base_heads") == heads  # still the text Bruno loaded, to merge with the others'
        fresh = await member.get(translation_page(council, "fr"))
        current = {"base_heads": _field(fresh.text, "base_heads"), "text": f"{FRENCH} Chaque année."}
        unchanged = await member.post(f"{translation_page(council, 'fr')}/edit", data=form | current, follow_redirects=True)
    now = (await client.get(f"{api}/fr")).json()
    # Bruno replaced the copy he loaded; Chen's sentence, written since, stays.
    assert now["title"] == "Transparence des algorithmes" and now["text"] == f"{FRENCH} Chaque année."
    assert refused.status_code == 422 and '<details class="panel" id="plain-edit" open>' in refused.text
    assert ">Gardé.</textarea>" in refused.text
    assert "Nothing changed." in unchanged.text
    async with browser(app, outsider) as stranger:
        page = await stranger.get(translation_page(council, "fr"))
        assert 'id="plain-edit"' not in page.text
        # Readers follow it as its text's events, as the norm page's readers do.
        assert f'"events": "/api/v1/norms/{council["norm"]["id"]}/versions/1/translations/fr/text/events"' in page.text
        tried = await stranger.post(f"{translation_page(council, 'fr')}/edit", data={"csrf_token": _csrf(page.text), "text": "Pirate."})
    assert tried.status_code in (303, 403)
    assert (await client.get(f"{api}/fr")).json()["text"] == f"{FRENCH} Chaque année."
