"""Refused forms in a real Chromium: the form stays open with what was typed, the message is beside the field and
in a summary at the top, times are in words in the reader's zone, no API address is shown, and a link leads to
where the person can put it right."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.fixtures.norms import COUNCIL, COUNCIL_CHARTER
from tests.fixtures.web import axe_violations, describe, shoot, sign_in

pytestmark = pytest.mark.browser

PARIS = ZoneInfo("Europe/Paris")
ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def _council(live) -> tuple[list[dict], dict]:
    """An active network of four whose charter keeps ballots open at least 48 hours; its norm, tagged v1."""
    people = [live.person(name, group=group, country=country, organisation=org) for name, group, country, org in COUNCIL]
    charter = COUNCIL_CHARTER | {"signoff": COUNCIL_CHARTER["signoff"] | {"min_ballot_hours": 48}}
    body = {"name": f"Forms Council {uuid.uuid4().hex[:6]}", "issue": "An issue.", "aims": "Aims.", "intended_outcome": "A norm."}
    created = live.api.post("/api/v1/networks", json=body | {"charter": charter}, headers=people[0]["headers"])
    assert created.status_code == 201, created.text
    slug = created.json()["slug"]
    for person in people[1:]:
        assert live.api.post(f"/api/v1/networks/{slug}/join", headers=person["headers"]).status_code == 201
    norm = live.norm(people[0], slug, "Ranking criteria", "Platforms publish their ranking criteria.")
    assert live.api.post(f"/api/v1/norms/{norm['id']}/versions", json={"label": "v1"}, headers=people[0]["headers"]).status_code == 201
    return people, norm


def test_a_ballot_closing_too_soon_keeps_the_form_open_with_the_time_in_words_in_the_reader_s_zone(live_server, new_page):
    people, norm = _council(live_server)
    page = new_page(timezone_id="Europe/Paris")
    sign_in(page, live_server, people[0])
    page.goto(norm["page"])
    page.get_by_text("Open a ballot on a version").click()
    expect(page.locator("#open-ballot")).to_contain_text("Europe/Paris time")
    too_soon = (datetime.now(PARIS) + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
    page.fill("#ballot-closes", too_soon)
    page.get_by_role("button", name="Open the ballot").click()

    field = page.locator("#ballot-closes")
    expect(page.locator("#open-ballot")).to_have_attribute("open", "")
    expect(field).to_have_value(too_soon)
    expect(field).to_have_attribute("aria-invalid", "true")
    beside = page.locator("#ballot-closes-error")
    expect(beside).to_contain_text("at least 48 hours")
    expect(beside).to_contain_text("(Europe/Paris)")
    summary = page.locator(".error-summary")
    expect(summary).to_contain_text("at least 48 hours")
    expect(summary.get_by_role("link")).to_have_attribute("href", "#ballot-closes")
    said = beside.inner_text()
    assert not ISO_MOMENT.search(said) and "/api/" not in said and "closes_at" not in said
    earliest = datetime.now(PARIS) + timedelta(hours=48)
    assert f"{earliest:%B %Y}" in said
    shoot(page, "form-error-ballot")

    # Corrected in the same form, read in the reader's zone: the ballot closes when they said, Paris time.
    later = (datetime.now(PARIS) + timedelta(days=3)).replace(second=0, microsecond=0)
    field.fill(later.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Open the ballot").click()
    expect(page.get_by_role("status").first).to_contain_text("The ballot on v1 is open")
    [ballot] = live_server.api.get(f"/api/v1/norms/{norm['id']}/ballots").json()
    assert datetime.fromisoformat(ballot["closes_at"]) == later.astimezone(UTC)


def test_a_comment_from_someone_without_an_affiliation_is_kept_and_links_to_the_affiliation_page(live_server, new_page):
    people, norm = _council(live_server)
    closes = (datetime.now(UTC) + timedelta(days=14)).isoformat()
    opened = live_server.api.post(
        f"/api/v1/norms/{norm['id']}/consultations",
        json={"version": 1, "closes_at": closes, "question": "Clear enough?"},
        headers=people[0]["headers"],
    )
    assert opened.status_code == 201, opened.text
    url = f"{live_server.url}/consultations/{opened.json()['id']}"
    newcomer = live_server.person("Nadia Newcomer")  # no affiliation
    page = new_page()
    sign_in(page, live_server, newcomer)
    page.goto(url)
    page.get_by_label("Passage").fill("ranking criteria")
    page.get_by_label("Your comment").fill("Which criteria, and how often updated?")
    page.get_by_role("button", name="Publish comment").click()

    expect(page.get_by_label("Your comment")).to_have_value("Which criteria, and how often updated?")
    expect(page.get_by_label("Passage")).to_have_value("ranking criteria")
    message = page.locator("#comment-form-error")
    expect(message).to_contain_text("You need an affiliation to comment on a consultation")
    expect(page.locator(".error-summary")).to_contain_text("You need an affiliation")
    assert "/api/" not in page.locator("main").inner_text()
    shoot(page, "form-error-comment")

    message.get_by_role("link", name="Set your affiliation").click()
    expect(page).to_have_url(re.compile(r"/me/affiliation\?next="))
    page.select_option("#stakeholder_group", "government")
    page.select_option("#country", "FR")
    page.get_by_role("button", name=re.compile("Save")).click()
    expect(page).to_have_url(url)
    expect(page.get_by_role("status").first).to_contain_text("Your affiliation is saved")


def test_an_application_with_a_too_long_motivation_keeps_it_beside_its_message(live_server, new_page):
    founder = live_server.person("Clara Convener", group="government", country="FR", organisation="Ministère")
    body = {"name": f"Closed Circle {uuid.uuid4().hex[:6]}", "issue": "An issue.", "aims": "Aims.", "intended_outcome": "A norm."}
    created = live_server.api.post("/api/v1/networks", json=body | {"membership_policy": "by_application"}, headers=founder["headers"])
    assert created.status_code == 201, created.text
    applicant = live_server.person("Ana Applicant", group="civil_society", country="BR", organisation="Nupef")
    page = new_page()
    sign_in(page, live_server, applicant)
    page.goto(f"{live_server.url}/networks/{created.json()['slug']}")
    motivation = "I run route filtering at an IXP and want to help. " * 82  # over the 4000 characters allowed
    field = page.get_by_label("Why you want to join")
    # As a browser without `maxlength` (or a paste into an older one) would send it.
    field.evaluate("(area, text) => { area.removeAttribute('maxlength'); area.value = text; }", motivation)
    page.get_by_role("button", name="Apply to join").click()

    field = page.get_by_label("Why you want to join")
    expect(field).to_have_value(motivation)
    expect(field).to_have_attribute("aria-invalid", "true")
    beside = page.locator("#motivation-error")
    expect(beside).to_contain_text("4000")
    summary = page.locator(".error-summary")
    expect(summary.get_by_role("link")).to_have_attribute("href", "#motivation")
    assert "/api/" not in page.locator("main").inner_text()
    assert live_server.api.get(f"/api/v1/networks/{created.json()['slug']}").json()["member_count"] == 1
    violations = axe_violations(page)
    assert not violations, describe(violations)
    shoot(page, "form-error-apply")
