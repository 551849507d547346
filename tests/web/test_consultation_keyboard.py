"""Choosing a consultation's passage without a mouse, in a real Chromium: from the keyboard alone (a line of the
text takes focus and Enter chooses it), and without JavaScript (the words typed in the Passage field are found)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.fixtures.web import shoot, sign_in

pytestmark = pytest.mark.browser

TEXT = "1. Scope\nOperators sign their route origins.\n\n2. Validation\nInvalid routes are dropped."
LINE = "Operators sign their route origins."


def _consultation(live) -> tuple[str, dict]:
    convener = live.person("Kara Convener", group="civil_society", country="KE", organisation="Net Rights Africa")
    member = live.person("Milo Member", group="private_sector", country="BR", organisation="Rede Aberta")
    network = live.network(convener, member)
    norm = live.norm(convener, network, "Route origins, by keyboard", TEXT)
    assert live.api.post(f"/api/v1/norms/{norm['id']}/versions", json={"label": "v1"}, headers=convener["headers"]).status_code == 201
    opened = live.api.post(
        f"/api/v1/norms/{norm['id']}/consultations",
        json={"version": 1, "closes_at": (datetime.now(UTC) + timedelta(days=14)).isoformat(), "question": "Clear enough?"},
        headers=convener["headers"],
    )
    assert opened.status_code == 201, opened.text
    commenter = live.person("Kim Keyboard", group="government", country="FR", organisation="Ministère")
    return f"{live.url}/consultations/{opened.json()['id']}", commenter


def _comments(live, url: str) -> list[dict]:
    return live.api.get(f"/api/v1/consultations/{url.rsplit('/', 1)[1]}/comments").json()


def test_a_keyboard_user_chooses_a_line_of_the_text_as_the_passage(live_server, new_page):
    url, commenter = _consultation(live_server)
    page = new_page()
    sign_in(page, live_server, commenter)
    page.goto(url)
    expect(page.locator("#select-hint")).to_be_visible()

    # Tab until the line is focused: nothing but the keyboard.
    for _ in range(150):  # past the header (search, languages, notifications) and the page's links
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.textContent.trim()") == LINE:
            break
    focused = page.locator(":focus")
    expect(focused).to_have_text(LINE)
    expect(focused).to_have_attribute("role", "button")
    page.keyboard.press("Enter")
    expect(page.locator("#anchor-quote")).to_have_value(LINE)

    page.keyboard.press("Tab")  # on to the form: the Passage field, then the comment
    while page.evaluate("() => document.activeElement.id") != "comment-body":
        page.keyboard.press("Tab")
    page.keyboard.type("Which origins: all of them, or only new ones?")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").first).to_contain_text("Your comment is published")
    shoot(page, "consultation-keyboard")
    [comment] = _comments(live_server, url)
    start = TEXT.index(LINE)
    assert comment["anchor"] == {"start": start, "end": start + len(LINE), "quote": LINE}


def test_without_javascript_the_hint_is_hidden_and_typed_words_are_the_passage(live_server, new_page):
    url, commenter = _consultation(live_server)
    page = new_page(java_script_enabled=False)
    sign_in(page, live_server, commenter)
    page.goto(url)
    expect(page.locator("#select-hint")).to_be_hidden()
    page.get_by_label("Passage").fill("Invalid routes")
    page.get_by_label("Your comment").fill("Dropped by whom?")
    page.get_by_role("button", name="Publish comment").click()
    expect(page.get_by_role("status").first).to_contain_text("Your comment is published")
    expect(page.locator("mark.anchored")).to_have_text("Invalid routes")
    [comment] = _comments(live_server, url)
    assert comment["anchor"]["quote"] == "Invalid routes"
