"""In a real Chromium, a reader finds the clearing house by browsing: from the site navigation and the home page, to an
adopted norm's entry, to the norm's page and back. The norm's page says which version is in force and that edits
make a new draft."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.fixtures.norms import COUNCIL, COUNCIL_CHARTER
from tests.fixtures.web import WAIT_MS, shoot, sign_in

pytestmark = pytest.mark.browser


def _adopted_with_a_later_draft(live, title: str) -> tuple[list[dict], dict]:
    """A council's norm: v1 adopted and published, then edited and tagged v2 (a draft)."""
    people = [live.person(f"{name} Nav", group=group, country=country, organisation=org) for name, group, country, org in COUNCIL]
    headers = people[0]["headers"]
    body = {"name": f"Nav Council {uuid.uuid4().hex[:6]}", "issue": "I.", "aims": "A.", "intended_outcome": "O."}
    body["charter"] = COUNCIL_CHARTER
    created = live.api.post("/api/v1/networks", json=body, headers=headers)
    assert created.status_code == 201, created.text
    slug = created.json()["slug"]
    for person in people[1:]:
        assert live.api.post(f"/api/v1/networks/{slug}/join", headers=person["headers"]).status_code == 201
    norm = live.norm(people[0], slug, title, "Operators sign their route origins.")
    assert live.api.post(f"/api/v1/norms/{norm['id']}/versions", json={"label": "For sign-off"}, headers=headers).status_code == 201
    closes = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    ballot = live.api.post(f"/api/v1/norms/{norm['id']}/ballots", json={"version": 1, "closes_at": closes}, headers=headers)
    assert ballot.status_code == 201, ballot.text
    for person in people:
        voted = live.api.put(f"/api/v1/ballots/{ballot.json()['id']}/vote", json={"position": "approve"}, headers=person["headers"])
        assert voted.status_code == 200, voted.text
    live.api.post(f"/api/v1/norms/{norm['id']}/edits", json={"splices": [{"index": 0, "insert": "All "}]}, headers=headers)
    assert live.api.post(f"/api/v1/norms/{norm['id']}/versions", json={"label": "Wider"}, headers=headers).status_code == 201
    deadline = time.monotonic() + WAIT_MS / 1000
    while not live.api.get("/api/v1/clearinghouse/entries", params={"network": slug}).json()["items"]:
        assert time.monotonic() < deadline, "the adopted norm was never published"
        time.sleep(0.1)
    return people, norm


def test_a_reader_reaches_the_clearing_house_and_moves_between_an_entry_and_its_norm(live_server, new_page):
    title = f"Route origins {uuid.uuid4().hex[:6]}"
    people, norm = _adopted_with_a_later_draft(live_server, title)
    page = new_page()
    page.goto(f"{live_server.url}/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Clearing house").click()
    page.wait_for_url(f"{live_server.url}/clearinghouse")

    page.goto(f"{live_server.url}/")
    adopted = page.locator("#adopted")
    adopted.get_by_role("link", name=f"{title} v1").click()
    page.wait_for_url(f"{live_server.url}/clearinghouse/**/v1")
    page.locator("#norm-link").get_by_role("link").click()
    page.wait_for_url(norm["page"])

    expect(page.locator("#in-force")).to_contain_text("Adopted: v1, in force since")
    expect(page.locator("main .page-head")).to_contain_text("latest version v2 is a draft")
    shoot(page, "norm-adopted-in-force")
    page.locator("#clearinghouse-entry").get_by_role("link", name="The adopted v1 in the clearing house").click()
    page.wait_for_url(f"{live_server.url}/clearinghouse/**/v1")

    member = new_page()
    sign_in(member, live_server, people[1])
    member.goto(norm["page"])
    expect(member.locator("#edit-mode")).to_contain_text("Edits make a new draft; the adopted text of v1 does not change")
