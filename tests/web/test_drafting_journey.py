"""The drafting journey in a real Chromium: during a consultation a non-member suggests a rewording, a member sees
it marked inline and accepts it, a co-editor's open editor shows the change live and "Who wrote what" credits the
suggester; then two members of different groups answer a sense check and its page says what a ballot still misses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.fixtures.web import WAIT_MS, axe_violations, describe, open_editor, shoot, sign_in

pytestmark = pytest.mark.browser

TEXT = "Operators sign their route origins. Invalid routes are dropped."


def test_drafting_journey(live_server, new_page):
    live = live_server
    convener = live.person("Cora Convener", group="civil_society", country="KE", organisation="Net Rights Africa")
    member = live.person("Mateo Member", group="private_sector", country="BR", organisation="Rede Aberta")
    scholar = live.person("Sun Scholar", group="technical_academic", country="SG", organisation="NUS")
    outsider = live.person("Gustave Gov", group="government", country="FR", organisation="Ministère du Numérique")
    network = live.network(convener, member, scholar)
    norm = live.norm(convener, network, "Route origins", TEXT)
    assert live.api.post(f"/api/v1/norms/{norm['id']}/versions", json={"label": "Draft"}, headers=convener["headers"]).status_code == 201
    opened = live.api.post(
        f"/api/v1/norms/{norm['id']}/consultations",
        json={"version": 1, "closes_at": (datetime.now(UTC) + timedelta(days=14)).isoformat(), "question": "Clear?"},
        headers=convener["headers"],
    )
    assert opened.status_code == 201, opened.text

    # A co-editor has the live editor open.
    editor = new_page()
    sign_in(editor, live, member)
    open_editor(editor, norm["page"])

    # Someone outside the network, during the consultation, suggests a rewording.
    visitor = new_page()
    sign_in(visitor, live, outsider)
    visitor.goto(norm["page"])
    visitor.fill("#suggest-quote", "route origins")
    visitor.fill("#suggest-replacement", "route origin authorisations")
    visitor.get_by_role("button", name="Suggest", exact=True).click()
    expect(visitor.get_by_role("status").first).to_contain_text("Your suggestion is waiting")

    # The convener sees it marked inline and accepts it.
    page = new_page()
    sign_in(page, live, convener)
    page.goto(norm["page"])
    suggestion = page.locator("#suggestions .suggestion").first
    expect(suggestion.locator("ins")).to_contain_text("authorisations")
    expect(suggestion).to_contain_text("Gustave Gov suggests")
    shoot(page, "suggestion-inline")
    violations = axe_violations(page)
    assert violations == [], describe(violations)
    suggestion.get_by_role("button", name="Accept").click()
    expect(page.get_by_role("status").first).to_contain_text("Accepted")
    expect(page.locator("#suggestions .suggestion-status").first).to_have_text("Accepted by Cora Convener")

    # The co-editor's editor shows it without a reload; "Who wrote what" credits the suggester.
    expect(editor.locator("#editor .cm-content")).to_contain_text("route origin authorisations", timeout=WAIT_MS)
    expect(page.locator('#authorship mark[title="Gustave Gov"]')).to_contain_text("authorisations")

    # A sense check: two members of different groups agree; the page says what a ballot still misses.
    page.get_by_text("Ask the members a sense check").click()
    page.get_by_role("button", name="Ask", exact=True).click()
    expect(page.locator("#sense-status")).to_have_text("Open")
    check_url = page.url
    page.get_by_role("radio", name="Agree", exact=True).check()
    page.get_by_role("button", name="Answer").click()
    editor.goto(check_url)
    editor.get_by_role("radio", name="Agree", exact=True).check()
    editor.get_by_role("button", name="Answer").click()
    expect(editor.locator("#turnout-text")).to_have_text("2 of 3 members have answered.")
    expect(editor.locator("#outcome-text")).to_contain_text("would not pass now")
    expect(editor.locator("#missing")).to_contain_text("Technical")
    shoot(editor, "sense-check")
    violations = axe_violations(editor)
    assert violations == [], describe(violations)
