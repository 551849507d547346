"""The norm page in a real Chromium: what it says about the norm follows changes without a reload."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.fixtures.web import WAIT_MS, open_editor, sign_in

pytestmark = pytest.mark.browser


def test_the_change_count_follows_changes_made_elsewhere(live_server, new_page):
    author = live_server.person("Cleo Counter", group="government", country="FR", organisation="Ministry")
    slug = live_server.network(author)
    norm = live_server.norm(author, slug, "Counted changes", "A first sentence.")
    page = new_page()
    sign_in(page, live_server, author)  # a member's page: the editor (readers get the light view)
    open_editor(page, norm["page"])
    before = live_server.api.get(f"/api/v1/norms/{norm['id']}").json()["change_count"]
    expect(page.locator("#change-count")).to_have_text(f"{before} {'change' if before == 1 else 'changes'}")
    page.evaluate("() => { window.stillHere = true; }")  # gone if the page reloads

    edited = live_server.api.post(
        f"/api/v1/norms/{norm['id']}/edits", json={"splices": [{"index": 0, "insert": "Now: "}]}, headers=author["headers"]
    )
    assert edited.status_code == 200, edited.text
    after = live_server.api.get(f"/api/v1/norms/{norm['id']}").json()["change_count"]
    assert after == before + 1
    expect(page.locator("#change-count")).to_have_text(f"{after} changes", timeout=WAIT_MS)
    assert page.evaluate("() => window.stillHere") is True
