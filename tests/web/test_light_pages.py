"""Light pages in a real Chromium: a reader gets the norm's text from the server and follows members' edits
live without the editor or WebAssembly; every line of a text, and of the editor, takes its own direction;
the clearing house's hashes and addresses wrap on a 360 px screen."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from services.web import i18n
from tests.fixtures.web import WAIT_MS, axe_violations, describe, open_editor, shoot, sign_in
from tests.web.test_clearinghouse_navigation import _adopted_with_a_later_draft

pytestmark = pytest.mark.browser

# What a reader's norm page may cost on a cold cache, everything it loads included (issue 25).
READER_BUDGET = 40 * 1024
ARABIC = "(المادة 3، الفقرة 2)."


def _direction(locator) -> str:
    return locator.evaluate("element => getComputedStyle(element).direction")


def _member_and_norm(live, text: str) -> tuple[dict, dict]:
    member = live.person(f"Writer {uuid.uuid4().hex[:4]}", group="civil_society", country="EG")
    network = live.network(member)
    return member, live.norm(member, network, "Light norm", text)


def test_a_reader_follows_a_members_edits_live_on_a_light_page(live_server, new_page):
    member, norm = _member_and_norm(live_server, f"Article 3 applies.\n{ARABIC}")
    reader = new_page()
    responses = []
    reader.on("response", lambda response: responses.append(response))
    reader.goto(norm["page"], wait_until="load")

    text = reader.locator("#norm-text")
    expect(text).to_have_attribute("data-live", "reader")
    expect(reader.locator("#connection")).to_have_attribute("data-state", "connected", timeout=WAIT_MS)
    lines = text.locator(".line")
    expect(lines).to_have_count(2)
    assert (_direction(lines.nth(0)), _direction(lines.nth(1))) == ("ltr", "rtl")

    # The page is light: no editor, no WebAssembly, and small (the open event stream aside).
    loaded = [response for response in responses if "/text/events" not in response.url]
    assert not [r.url for r in loaded if "/static/build/" in r.url or r.url.endswith(".wasm")]
    transferred = sum(r.request.sizes()["responseBodySize"] + r.request.sizes()["responseHeadersSize"] for r in loaded)
    assert transferred < READER_BUDGET, f"the reader's page transferred {transferred} bytes"

    # A member edits (the REST edit API, as any client): the reader sees it within a second.
    for splice in ({"index": len(norm["text"]), "insert": "\nسطر جديد"}, {"index": 0, "delete": 7, "insert": "Clause"}):
        edited = live_server.api.post(f"/api/v1/norms/{norm['id']}/edits", json={"splices": [splice]}, headers=member["headers"])
        assert edited.status_code == 200, edited.text
    expect(lines.nth(2)).to_have_text("سطر جديد", timeout=1000)
    expect(lines.nth(0)).to_have_text("Clause 3 applies.\n", timeout=1000)
    assert _direction(lines.nth(2)) == "rtl"
    assert text.evaluate("element => element.textContent") == live_server.text_of(norm)

    violations = axe_violations(reader)
    assert not violations, describe(violations)
    shoot(reader, "norm-reader-live")


def _changes_in(code: str, count: int) -> str:
    """The page's words for `count` changes in a language, as its catalog has them."""
    return i18n.translations(code).ngettext("%(n)s change", "%(n)s changes", count) % {"n": count}


@pytest.mark.parametrize("code", ["en", "ar", "ru"])
def test_the_change_count_follows_edits_in_the_readers_language_for_readers_and_editors(live_server, new_page, code):
    member, norm = _member_and_norm(live_server, "Article 1.")
    reader = new_page(extra_http_headers={"Accept-Language": code})
    reader.goto(norm["page"])
    expect(reader.locator("#connection")).to_have_attribute("data-state", "connected", timeout=WAIT_MS)
    editor = new_page()
    sign_in(editor, live_server, member)
    editor.context.set_extra_http_headers({"Accept-Language": code})  # after signing in on the English page
    open_editor(editor, norm["page"])

    # Edits from elsewhere (the REST API): 2, 3, then 5 changes in all — one, few and many forms in Russian and Arabic.
    for words in (" A", " B", " C", " D"):
        edited = live_server.api.post(
            f"/api/v1/norms/{norm['id']}/edits", json={"splices": [{"index": 0, "insert": words}]}, headers=member["headers"]
        )
        assert edited.status_code == 200, edited.text
        count = live_server.api.get(f"/api/v1/norms/{norm['id']}").json()["change_count"]
        if count in (2, 3, 5):
            for page in (reader, editor):
                expect(page.locator("#change-count")).to_have_text(_changes_in(code, count), timeout=WAIT_MS)


def test_arabic_typed_into_the_editor_lays_out_right_to_left_beside_english(live_server, new_page):
    member, norm = _member_and_norm(live_server, "An English line.")
    page = new_page()
    sign_in(page, live_server, member)
    open_editor(page, norm["page"])
    page.click("#editor .cm-content")
    page.keyboard.press("Control+End")
    page.keyboard.press("Enter")
    page.keyboard.type(ARABIC)

    lines = page.locator("#editor .cm-line")
    expect(lines.nth(1)).to_have_text(ARABIC, timeout=WAIT_MS)
    assert (_direction(lines.nth(0)), _direction(lines.nth(1))) == ("ltr", "rtl")
    live_server.wait_for_text(norm, f"An English line.\n{ARABIC}")
    shoot(page, "editor-arabic-line")


def test_hashes_and_addresses_of_a_clearing_house_entry_wrap_at_360_px(live_server, new_page):
    _people, norm = _adopted_with_a_later_draft(live_server, f"Wrapped {uuid.uuid4().hex[:6]}")
    page = new_page(viewport={"width": 360, "height": 740})
    page.goto(norm["page"])
    page.locator("#clearinghouse-entry").get_by_role("link").click()
    page.wait_for_url(f"{live_server.url}/clearinghouse/**/v1")
    overflowing = page.evaluate(
        """() => [...document.querySelectorAll('main *')]
            .filter(element => element.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
            .map(element => element.tagName + '.' + element.className)"""
    )
    assert overflowing == [], f"wider than the screen: {overflowing[:5]}"
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    assert page.locator("code.hash").count() >= 3
    shoot(page, "clearinghouse-entry-360")
