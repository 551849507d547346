"""Page security in a real Chromium: text that looks like markup never breaks a page, and every kind of page
works under its Content-Security-Policy (no violation reported, no console error), the live editor included."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.fixtures.norms import COUNCIL, COUNCIL_CHARTER
from tests.fixtures.web import WAIT_MS, open_editor, sign_in

pytestmark = pytest.mark.browser

# Each closes or opens a script element, or enters the script data states that keep `</script>` from closing one.
MARKUP = "</script><!--<script>"

# Recorded before any page script runs: CSP violations (as the browser reports them) and uncaught errors.
WATCH = """
window.__cogovProblems = [];
document.addEventListener("securitypolicyviolation", event => window.__cogovProblems.push(
    `CSP ${event.effectiveDirective} blocked ${event.blockedURI || "inline"}`
    + ` at ${event.sourceFile}:${event.lineNumber} (${event.sample})`));
addEventListener("error", event => window.__cogovProblems.push(`error ${event.message}`));
addEventListener("unhandledrejection", event => window.__cogovProblems.push(`unhandled ${event.reason}`));
"""


class Watched:
    """A page whose console errors and warnings, page errors and CSP violations are collected, to be asserted empty."""

    def __init__(self, page) -> None:
        self.page = page
        self.console: list[str] = []
        page.add_init_script(WATCH)
        # Warnings too: Chromium warns of a header it cannot apply (an unknown Permissions-Policy feature).
        page.on("console", lambda message: message.type in ("error", "warning") and self.console.append(f"{page.url}: {message.text}"))
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
    opened = live.api.post(
        f"/api/v1/norms/{norm['id']}/consultations",
        json={"version": 1, "closes_at": closes, "question": f"Is {MARKUP} clear?"},
        headers=headers,
    )
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


def _assert_page_headers(response) -> None:
    """The security headers of a page, as the browser received them."""
    headers = response.headers
    policy = dict(part.strip().split(" ", 1) for part in headers["content-security-policy"].split(";"))
    assert policy["default-src"] == "'none'"
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
    assert "'unsafe-inline'" not in policy["style-src"]
    assert policy["frame-ancestors"] == "'none'"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert f"{feature}=()" in headers["permissions-policy"]
    assert headers["x-content-type-options"] == "nosniff"


def _community(live) -> dict:
    """An active network with an adopted norm (published in the clearing house), a norm under an open ballot,
    and a consultation with an anchored comment: every kind of page has something to show."""
    people = [live.person(f"{name} Policy", group=group, country=country, organisation=org) for name, group, country, org in COUNCIL]
    headers = people[0]["headers"]
    body = {
        "name": f"Policy Council {uuid.uuid4().hex[:6]}",
        "issue": "A specific problem.",
        "aims": "Some aims.",
        "intended_outcome": "A norm.",
        "charter": COUNCIL_CHARTER,
    }
    created = live.api.post("/api/v1/networks", json=body, headers=headers)
    assert created.status_code == 201, created.text
    slug = created.json()["slug"]
    for person in people[1:]:
        assert live.api.post(f"/api/v1/networks/{slug}/join", headers=person["headers"]).status_code == 201
    closes = (datetime.now(UTC) + timedelta(days=2)).isoformat()

    adopted = live.norm(people[0], slug, "Route origin validation", "Operators sign their route origins.")
    assert live.api.post(f"/api/v1/norms/{adopted['id']}/versions", json={"label": "For sign-off"}, headers=headers).status_code == 201
    live.api.post(f"/api/v1/norms/{adopted['id']}/edits", json={"splices": [{"index": 0, "insert": "All "}]}, headers=headers)
    assert live.api.post(f"/api/v1/norms/{adopted['id']}/versions", json={"label": "Wider"}, headers=headers).status_code == 201
    ballot = live.api.post(f"/api/v1/norms/{adopted['id']}/ballots", json={"version": 1, "closes_at": closes}, headers=headers)
    assert ballot.status_code == 201, ballot.text
    for person in people:
        voted = live.api.put(f"/api/v1/ballots/{ballot.json()['id']}/vote", json={"position": "approve"}, headers=person["headers"])
        assert voted.status_code == 200, voted.text
    consultation = live.api.post(
        f"/api/v1/norms/{adopted['id']}/consultations",
        json={"version": 2, "closes_at": closes, "question": "Is it feasible?"},
        headers=headers,
    )
    assert consultation.status_code == 201, consultation.text
    commented = live.api.post(
        f"/api/v1/consultations/{consultation.json()['id']}/comments",
        json={"body": "Small operators need tooling.", "anchor": {"start": 4, "end": 13, "quote": "Operators"}},
        headers=people[1]["headers"],
    )
    assert commented.status_code == 201, commented.text

    pending = live.norm(people[0], slug, "Incident contacts", "Operators publish a contact.")
    assert live.api.post(f"/api/v1/norms/{pending['id']}/versions", json={"label": "For sign-off"}, headers=headers).status_code == 201
    open_ballot = live.api.post(f"/api/v1/norms/{pending['id']}/ballots", json={"version": 1, "closes_at": closes}, headers=headers)
    assert open_ballot.status_code == 201, open_ballot.text

    deadline = time.monotonic() + WAIT_MS / 1000
    while not (entries := live.api.get("/api/v1/clearinghouse/entries", params={"network": slug}).json()["items"]):
        assert time.monotonic() < deadline, "the adopted norm was never published"
        time.sleep(0.1)
    return {
        "people": people,
        "slug": slug,
        "adopted": adopted,
        "ballot": f"{adopted['page']}/ballots/{ballot.json()['id']}",
        "open_ballot": f"{pending['page']}/ballots/{open_ballot.json()['id']}",
        "consultation": f"/consultations/{consultation.json()['id']}",
        "entry": entries[0]["permalink"],
    }


def test_every_page_works_under_its_security_headers(live_server, new_page):
    live = live_server
    community = _community(live)
    norm_path = community["adopted"]["page"].removeprefix(live.url)
    public = [
        "/",
        "/networks",
        f"/networks/{community['slug']}",
        norm_path,
        f"{norm_path}/versions/1",
        f"{norm_path}/diff?from=1&to=2",
        f"{norm_path}/history",
        community["ballot"].removeprefix(live.url),
        community["open_ballot"].removeprefix(live.url),
        community["consultation"],
        "/clearinghouse",
        community["entry"].removeprefix(live.url),
        "/clearinghouse/topics",
        "/clearinghouse/subscribe",
        "/audit",
        "/signin",
        "/signup",
    ]
    reader = new_page()
    watched = Watched(reader)
    for path in public:
        response = reader.goto(live.url + path, wait_until="networkidle")
        assert response.status == 200, path
        _assert_page_headers(response)
        assert watched.problems() == [], path
    missing = reader.goto(f"{live.url}/networks/no-such-network", wait_until="networkidle")
    assert missing.status == 404
    _assert_page_headers(missing)
    assert watched.problems() == [f"{missing.url}: Failed to load resource: the server responded with a status of 404 (Not Found)"]
    watched.console.clear()

    # A member's pages, and the norm page's live editor: what she types reaches the server and a reader's page.
    member = new_page()
    watched_member = Watched(member)
    sign_in(member, live, community["people"][0])
    for path in ("/", "/me/affiliation", "/networks/new", f"/networks/{community['slug']}"):
        _assert_page_headers(member.goto(live.url + path, wait_until="networkidle"))
        assert watched_member.problems() == [], path
    open_editor(member, community["adopted"]["page"])
    open_editor(reader, community["adopted"]["page"])
    member.click("#editor .cm-content")
    member.keyboard.press("Control+End")
    member.keyboard.type(" Under a policy.")
    expected = "All Operators sign their route origins. Under a policy."
    live.wait_for_text(community["adopted"], expected)
    expect(reader.locator("#editor .cm-content")).to_contain_text(expected, timeout=WAIT_MS)
    expect(reader.locator("#presence")).to_contain_text("Amina Policy", timeout=WAIT_MS)
    assert watched_member.problems() == []
    assert watched.problems() == []
