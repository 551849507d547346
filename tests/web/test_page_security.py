"""Page security in a real Chromium: text that looks like markup never breaks a page, and every kind of page
works under its Content-Security-Policy (no violation reported, no console error), the live editor included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.web.conftest import open_editor, sign_in

pytestmark = pytest.mark.browser

# Each closes or opens a script element, or enters the script data states that keep `</script>` from closing one.
MARKUP = "</script><!--<script>"

# Recorded before any page script runs: CSP violations (as the browser reports them) and uncaught errors.
WATCH = """
window.__cogovProblems = [];
document.addEventListener("securitypolicyviolation", event => window.__cogovProblems.push(
    `CSP ${event.effectiveDirective} blocked ${event.blockedURI || "inline"} at ${event.sourceFile}:${event.lineNumber} (${event.sample})`));
addEventListener("error", event => window.__cogovProblems.push(`error ${event.message}`));
addEventListener("unhandledrejection", event => window.__cogovProblems.push(`unhandled ${event.reason}`));
"""


class Watched:
    """A page whose console errors, page errors and CSP violations are collected, to be asserted empty."""

    def __init__(self, page) -> None:
        self.page = page
        self.console: list[str] = []
        page.add_init_script(WATCH)
        page.on("console", lambda message: message.type == "error" and self.console.append(f"{page.url}: {message.text}"))
        page.on("pageerror", lambda error: self.console.append(f"{page.url}: {error}"))

    def problems(self) -> list[str]:
        """Everything reported so far on the current document and in the console."""
        found = self.page.evaluate("() => window.__cogovProblems || []")
        return [f"{self.page.url}: {problem}" for problem in found] + self.console


def test_a_comment_quoting_markup_leaves_the_norm_page_working(live_server, new_page):
    live = live_server
    convener = live.person("Cora Markup", group="civil_society", country="KE", organisation="Net Rights Africa")
    member = live.person("Mateo Markup", group="private_sector", country="BR", organisation="Rede Aberta")
    outsider = live.person("Gustave Markup", group="government", country="FR", organisation="Ministère du Numérique")
    network = live.network(convener, member)
    text = f"Operators never run {MARKUP} from strangers."
    norm = live.norm(convener, network, f"Scripts {MARKUP} policy", text)
    headers = convener["headers"]
    assert live.api.post(f"/api/v1/norms/{norm['id']}/versions", json={"label": "v1"}, headers=headers).status_code == 201
    closes = (datetime.now(UTC) + timedelta(days=14)).isoformat()
    opened = live.api.post(f"/api/v1/norms/{norm['id']}/consultations",
                           json={"version": 1, "closes_at": closes, "question": f"Is {MARKUP} clear?"}, headers=headers)
    assert opened.status_code == 201, opened.text
    start = text.index(MARKUP)
    commented = live.api.post(
        f"/api/v1/consultations/{opened.json()['id']}/comments",
        json={"body": f"Quote {MARKUP} here", "anchor": {"start": start, "end": start + len(MARKUP), "quote": MARKUP}},
        headers=outsider["headers"],
    )
    assert commented.status_code == 201, commented.text

    page = new_page()
    watched = Watched(page)
    sign_in(page, live, member)
    open_editor(page, norm["page"])
    expect(page.locator("#editor .cm-content")).to_contain_text(text)
    expect(page.locator("#comment-sidebar")).to_contain_text(f"Quote {MARKUP} here")
    expect(page.locator("footer.site-footer")).to_be_visible()  # the rest of the page was not swallowed by a script element
    assert watched.problems() == []
