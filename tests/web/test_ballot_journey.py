"""A ballot in a real Chromium: two electors vote in two browser contexts, and each page's chart, votes and
outcome follow the other's vote without a reload. The ballot page has no serious or critical axe-core violation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.fixtures.norms import COUNCIL, COUNCIL_CHARTER
from tests.fixtures.web import WAIT_MS, axe_violations, describe, shoot, sign_in

pytestmark = pytest.mark.browser


def _ballot(live) -> tuple[list[dict], str]:
    """An active network of four (three groups, four regions), a norm tagged v1 and an open ballot on it; its page."""
    people = [live.person(name, group=group, country=country, organisation=org) for name, group, country, org in COUNCIL]
    body = {
        "name": f"Ballot Council {uuid.uuid4().hex[:6]}",
        "issue": "A specific problem.",
        "aims": "Some aims.",
        "intended_outcome": "A norm.",
        "charter": COUNCIL_CHARTER,
    }
    created = live.api.post("/api/v1/networks", json=body, headers=people[0]["headers"])
    assert created.status_code == 201, created.text
    slug = created.json()["slug"]
    for person in people[1:]:
        assert live.api.post(f"/api/v1/networks/{slug}/join", headers=person["headers"]).status_code == 201
    norm = live.norm(people[0], slug, "Recommender transparency", "Platforms publish their ranking criteria.")
    assert (
        live.api.post(f"/api/v1/norms/{norm['id']}/versions", json={"label": "For sign-off"}, headers=people[0]["headers"]).status_code
        == 201
    )
    closes = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    opened = live.api.post(f"/api/v1/norms/{norm['id']}/ballots", json={"version": 1, "closes_at": closes}, headers=people[0]["headers"])
    assert opened.status_code == 201, opened.text
    return people, f"{norm['page']}/ballots/{opened.json()['id']}"


def test_two_electors_vote_and_each_page_follows_without_reload(live_server, new_page):
    people, url = _ballot(live_server)
    amina, bruno = people[0], people[1]
    first, second = new_page(), new_page()
    sign_in(first, live_server, amina)
    sign_in(second, live_server, bruno)
    second.goto(url)
    second.evaluate("() => { window.stillHere = true; }")  # gone if the page reloads
    expect(second.locator("#outcome-text")).to_contain_text("this can still change")

    # Amina approves in her browser; Bruno's page shows her vote and the tallies it changes.
    first.goto(url)
    first.get_by_role("radio", name="Approve").check()
    first.get_by_role("button", name="Cast my vote").click()
    expect(first.get_by_role("status").first).to_contain_text("Your approval is counted")
    expect(second.locator("#votes tbody")).to_contain_text("Amina", timeout=WAIT_MS)
    expect(second.locator("#turnout-text")).to_have_text("1 of 4 electors have voted.")
    expect(second.locator('[data-tally="group:civil_society"] .verdict')).to_have_text("✓ Passes")

    # Bruno objects with a reason; Amina's page shows the objection, and the outcome can no longer change.
    first.evaluate("() => { window.stillHere = true; }")
    second.get_by_role("radio", name="Object").check()
    second.fill("#reason", "Ranking criteria are trade secrets.")
    second.get_by_role("button", name="Cast my vote").click()
    expect(second.get_by_role("status").first).to_contain_text("Your objection is counted")
    expect(first.locator("#objections")).to_contain_text("Ranking criteria are trade secrets.", timeout=WAIT_MS)
    expect(first.locator('[data-tally="group:private_sector"] .verdict')).to_have_text("✗ Does not pass")
    expect(first.locator("#outcome-text")).to_contain_text("not adopted — the electors yet to vote cannot change this")
    expect(first.locator("#missing")).to_contain_text("Private sector")
    assert first.evaluate("() => window.stillHere === true"), "the page reloaded instead of updating"
    shoot(first, "ballot")
    violations = axe_violations(first)
    assert violations == [], describe(violations)
