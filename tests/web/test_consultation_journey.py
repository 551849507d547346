"""The consultation journey in a real Chromium: a convener opens a consultation, a non-member comments on a
selected passage, the comment shows beside the edited text, a member marks it addressed by a new version, the summary counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.fixtures.web import axe_violations, describe, open_editor, shoot, sign_in

pytestmark = pytest.mark.browser

TEXT = "Operators sign their route origins. Invalid routes are dropped."


def test_consultation_journey(live_server, new_page):
    live = live_server
    convener = live.person("Cora Convener", group="civil_society", country="KE", organisation="Net Rights Africa")
    member = live.person("Mateo Member", group="private_sector", country="BR", organisation="Rede Aberta")
    outsider = live.person("Gustave Gov", group="government", country="FR", organisation="Ministère du Numérique")
    network = live.network(convener, member)
    norm = live.norm(convener, network, "Route origin validation", TEXT)
    tagged = live.api.post(f"/api/v1/norms/{norm['id']}/versions", json={"label": "For consultation"}, headers=convener["headers"])
    assert tagged.status_code == 201, tagged.text

    # The convener opens v1 for comment from the norm page.
    page = new_page()
    sign_in(page, live, convener)
    page.goto(norm["page"])
    page.get_by_text("Open a version for public comment").click()
    page.select_option("#consultation-version", "1")
    page.fill("#consultation-closes", (datetime.now(UTC) + timedelta(days=14)).date().isoformat())
    page.fill("#consultation-question", "Is route origin signing feasible for small operators?")
    page.get_by_role("button", name="Open the consultation").click()
    expect(page.get_by_role("status").first).to_contain_text("Version v1 is open for public comment")
    expect(page.locator("#consultation-status")).to_have_text("Open")
    consultation_url = page.url

    # Someone outside the network selects a passage and comments on it.
    visitor = new_page()
    sign_in(visitor, live, outsider)
    visitor.goto(consultation_url)
    visitor.evaluate(
        """() => {
            const host = document.getElementById('consultation-text');
            const node = host.querySelector('.line').firstChild, at = node.textContent.indexOf('route origins');
            const range = document.createRange();
            range.setStart(node, at); range.setEnd(node, at + 'route origins'.length);
            const selection = getSelection(); selection.removeAllRanges(); selection.addRange(range);
            host.dispatchEvent(new MouseEvent('mouseup', {bubbles: true}));
        }"""
    )
    expect(visitor.locator("#anchor-quote")).to_have_value("route origins")
    visitor.fill("#comment-body", "Small operators need tooling before signing their route origins.")
    visitor.get_by_role("button", name="Publish comment").click()
    expect(visitor.get_by_role("status").first).to_contain_text("Your comment is published")
    expect(visitor.locator("mark.anchored")).to_have_text("route origins")
    comment = visitor.locator("#comments .comment").first
    expect(comment).to_contain_text("Ministère du Numérique")
    expect(comment).to_contain_text("“route origins”")
    shoot(visitor, "consultation-commented")

    # The text is edited before the passage; the norm page still shows the comment beside the same words.
    edited = live.api.post(
        f"/api/v1/norms/{norm['id']}/edits", json={"splices": [{"index": 0, "insert": "All "}]}, headers=member["headers"]
    )
    assert edited.status_code == 200, edited.text
    editor = new_page()
    sign_in(editor, live, member)
    open_editor(editor, norm["page"])
    sidebar = editor.locator("#comment-sidebar")
    expect(sidebar).to_contain_text("Small operators need tooling")
    sidebar.get_by_role("button", name="Show passage").click()
    selected = editor.evaluate(
        "() => { const s = window.cogovEditor.view.state; const r = s.selection.main; return s.sliceDoc(r.from, r.to); }"
    )
    assert selected == "route origins"
    shoot(editor, "norm-comment-sidebar")

    # A member tags v2 and marks the comment addressed by it.
    editor.get_by_text("Tag the current text as v2").click()
    editor.fill("#version-label", "After consultation")
    editor.get_by_role("button", name="Tag version").click()
    expect(editor.get_by_role("status").first).to_contain_text("Version v2")
    editor.goto(consultation_url)
    editor.locator("#comments .comment").first.get_by_text("Answer or mark this comment").click()
    editor.locator("#comments .comment").first.locator("select[name=version]").select_option("2")
    editor.get_by_role("button", name="Mark addressed").click()
    expect(editor.get_by_role("status").first).to_contain_text("The comment is marked")
    expect(editor.locator("#comments .comment-status").first).to_have_text("addressed in v2")

    # The convener closes it; the summary counts the comment by group, region and status.
    page.goto(consultation_url)
    page.get_by_role("button", name="Close the consultation now").click()
    expect(page.locator("#consultation-status")).to_have_text("Closed")
    expect(page.locator("#summary-total")).to_have_text("1")
    expect(page.locator("#summary-addressed")).to_have_text("1")
    expect(page.locator("#summary-declined")).to_have_text("0")
    expect(page.locator("#summary-open")).to_have_text("0")
    expect(page.locator("#summary")).to_contain_text("Government")
    expect(page.locator("#summary")).to_contain_text("Western Europe")
    shoot(page, "consultation-summary")
    violations = axe_violations(page)
    assert violations == [], describe(violations)
