"""In a real Chromium: a member starts a translation from the version's page and writes it in the live editor, another
member sees it arrive, a convener marks it reviewed, and once the version is adopted the clearing house's entry
offers it in its language picker."""

from __future__ import annotations

import time
import uuid

import pytest
from playwright.sync_api import expect

from tests.fixtures.norms import COUNCIL, COUNCIL_CHARTER
from tests.fixtures.web import WAIT_MS, axe_violations, describe, open_editor, shoot, sign_in
from tests.web.test_superseded_entries import _adopt, _published

pytestmark = pytest.mark.browser

ORIGINAL = "Platforms publish their ranking criteria."
FRENCH = "Les plateformes publient leurs critères de classement."


def _council(live) -> tuple[list[dict], str, dict]:
    """An active council (its first member convenes it) with a norm tagged v1: (people, slug, norm)."""
    people = [live.person(f"{name} Tr", group=group, country=country, organisation=org) for name, group, country, org in COUNCIL]
    body = {"name": f"Translators {uuid.uuid4().hex[:6]}", "issue": "I.", "aims": "A.", "intended_outcome": "O."}
    created = live.api.post("/api/v1/networks", json=body | {"charter": COUNCIL_CHARTER}, headers=people[0]["headers"])
    assert created.status_code == 201, created.text
    slug = created.json()["slug"]
    for person in people[1:]:
        assert live.api.post(f"/api/v1/networks/{slug}/join", headers=person["headers"]).status_code == 201
    norm = live.norm(people[0], slug, f"Ranking criteria {uuid.uuid4().hex[:6]}", ORIGINAL)
    tagged = live.api.post(f"/api/v1/norms/{norm['id']}/versions", json={"label": "First"}, headers=people[0]["headers"])
    assert tagged.status_code == 201, tagged.text
    return people, slug, norm


def _wait_for_translation(live, norm: dict, text: str) -> None:
    deadline = time.monotonic() + WAIT_MS / 1000
    while (held := live.api.get(f"/api/v1/norms/{norm['id']}/versions/1/translations/fr").json()["text"]) != text:
        assert time.monotonic() < deadline, f"the server never got the translation (it holds {held!r})"
        time.sleep(0.1)


def test_members_translate_a_version_live_a_convener_reviews_it_and_the_entry_offers_it(live_server, new_page):
    live = live_server
    people, slug, norm = _council(live)
    amina, bruno, chen = people[:3]
    version_page = f"{norm['page']}/versions/1"

    # Bruno starts the French translation from the version's page and lands on it, the live editor running.
    first = new_page()
    sign_in(first, live, bruno)
    first.goto(version_page)
    expect(first.locator("#translations")).to_contain_text("This version has no translation yet.")
    first.select_option("#translation-language", label="French")
    first.get_by_role("button", name="Start the translation").click()
    first.wait_for_url(f"{version_page}/translations/fr")
    expect(first.locator(".flash")).to_contain_text("The translation into French is started")
    first.wait_for_selector("#editor[data-live=true] .cm-content", timeout=WAIT_MS)
    expect(first.locator("#connection")).to_have_attribute("data-state", "connected", timeout=WAIT_MS)
    expect(first.locator("#editor")).to_have_attribute("lang", "fr")
    expect(first.locator("#translation-label")).to_contain_text("Translation — the authentic text is the English original.")

    # Chen has the same page open, and a signed-out reader too; Bruno replaces the copied original with French, and
    # both see it arrive (the reader without the editor, as the text's events).
    second = new_page()
    sign_in(second, live, chen)
    open_editor(second, f"{version_page}/translations/fr")
    expect(second.locator("#editor .cm-content")).to_have_text(ORIGINAL)
    guest = new_page()
    guest.goto(f"{version_page}/translations/fr")
    expect(guest.locator("#connection")).to_have_attribute("data-state", "connected", timeout=WAIT_MS)
    first.click("#editor .cm-content")
    first.keyboard.press("Control+A")
    first.keyboard.type(FRENCH)
    expect(second.locator("#editor .cm-content")).to_have_text(FRENCH, timeout=WAIT_MS)
    expect(guest.locator("#norm-text")).to_have_text(FRENCH, timeout=WAIT_MS)
    expect(guest.locator("#editor .cm-content, #plain-edit, [contenteditable=true]")).to_have_count(0)
    expect(second.locator("#presence")).to_contain_text("Bruno Tr", timeout=WAIT_MS)
    _wait_for_translation(live, norm, FRENCH)
    # The norm itself is untouched: the translation is a document of its own.
    assert live.text_of(norm) == ORIGINAL
    shoot(first, "translation-live-member")

    # Amina, a convener, marks it reviewed; the page says by whom.
    convener = new_page()
    sign_in(convener, live, amina)
    convener.goto(f"{version_page}/translations/fr")
    expect(convener.locator("#review-state")).to_contain_text("Not reviewed yet")
    convener.get_by_role("button", name="Mark reviewed").click()
    convener.wait_for_url(f"{version_page}/translations/fr")
    expect(convener.locator("#review-state")).to_contain_text("Reviewed by Amina Tr")
    violations = axe_violations(convener)
    assert not violations, f"translation page: {describe(violations)}"
    convener.goto(version_page)
    expect(convener.locator("#translations li")).to_contain_text("French")
    expect(convener.locator("#translations li")).to_contain_text("Reviewed by Amina Tr")
    violations = axe_violations(convener)
    assert not violations, f"version page: {describe(violations)}"

    # Adopted and published: the entry's language picker offers the French translation, labelled.
    _adopt(live, people, norm, 1)
    entry = _published(live, slug, 1)[1]
    reader = new_page()
    reader.goto(entry["permalink"])
    picker = reader.locator("#text-languages")
    expect(picker).to_contain_text("English")
    picker.get_by_role("link", name="Français").click()
    reader.wait_for_url(f"{entry['permalink']}?lang=fr")
    expect(reader.locator("#translation-label")).to_contain_text("Traduction")
    expect(reader.locator('.norm-text[lang="fr"]')).to_have_text(FRENCH)
    shoot(reader, "entry-translation-fr")
