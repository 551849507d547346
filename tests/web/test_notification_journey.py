"""Notifications in a real Chromium: a ballot opened while an elector browses shows in the header's unread count
on their next page view, "Awaiting you" on their home page lists it until they vote, and the notification
centre (no serious or critical axe-core violation) marks everything read without JavaScript."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.fixtures.norms import COUNCIL, COUNCIL_CHARTER
from tests.fixtures.web import axe_violations, describe, shoot, sign_in

pytestmark = pytest.mark.browser


def test_an_elector_sees_the_ballot_counted_and_awaiting_until_they_vote(live_server, new_page):
    live = live_server
    people = [live.person(name, group=group, country=country, organisation=org) for name, group, country, org in COUNCIL]
    body = {"name": f"Notified Council {uuid.uuid4().hex[:6]}", "issue": "A problem.", "aims": "Aims.", "intended_outcome": "A norm."}
    created = live.api.post("/api/v1/networks", json=body | {"charter": COUNCIL_CHARTER}, headers=people[0]["headers"])
    assert created.status_code == 201, created.text
    slug = created.json()["slug"]
    for person in people[1:]:
        assert live.api.post(f"/api/v1/networks/{slug}/join", headers=person["headers"]).status_code == 201
    norm = live.norm(people[0], slug, "Recommender transparency", "Platforms publish their ranking criteria.")
    assert live.api.post(f"/api/v1/norms/{norm['id']}/versions", json={"label": "v1"}, headers=people[0]["headers"]).status_code == 201

    bruno = people[1]
    page = new_page()
    sign_in(page, live, bruno)
    page.goto(live.url + "/")
    unread = page.locator("#unread-count")
    before = int(unread.inner_text().split()[0]) if unread.count() else 0
    expect(page.locator("#awaiting")).to_have_count(0)

    closes = (datetime.now(UTC) + timedelta(hours=30)).isoformat()
    opened = live.api.post(f"/api/v1/norms/{norm['id']}/ballots", json={"version": 1, "closes_at": closes}, headers=people[0]["headers"])
    assert opened.status_code == 201, opened.text

    page.goto(live.url + "/networks")  # the next page view counts it
    expect(page.locator("#unread-count")).to_contain_text(str(before + 1))
    page.goto(live.url + "/")
    awaiting = page.locator("#awaiting")
    expect(awaiting).to_contain_text("Vote on Recommender transparency v1")
    expect(awaiting.locator("time")).to_have_count(1)  # with its closing time

    page.get_by_role("link", name="Vote on Recommender transparency v1").click()
    page.get_by_role("radio", name="Approve").check()
    page.get_by_role("button", name="Cast my vote").click()
    expect(page.get_by_role("status").first).to_contain_text("Your approval is counted")
    page.goto(live.url + "/")
    expect(page.locator("#awaiting")).to_have_count(0)

    page.get_by_role("link", name="Notifications").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Notifications")
    expect(page.locator(".notification-list")).to_contain_text("Ballot open on Recommender transparency v1")
    shoot(page, "notifications")
    violations = axe_violations(page)
    assert violations == [], describe(violations)
    page.get_by_role("button", name="Mark all read").click()
    expect(page.locator("#unread-count")).to_have_count(0)
