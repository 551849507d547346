"""In a real Chromium: once v2 of a norm is adopted, v1's clearing-house page says it is superseded and links the version
in force, the norms-in-force page lists only v2, and staff are told that v1's curation carried over to v2 until they
mark it reviewed."""

from __future__ import annotations

import asyncio
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.fixtures.norms import COUNCIL, COUNCIL_CHARTER
from tests.fixtures.web import WAIT_MS, axe_violations, describe, shoot, sign_in
from tests.web.test_staff_take_no_part import _make_staff

pytestmark = pytest.mark.browser


def _adopt(live, people: list[dict], norm: dict, version: int) -> None:
    closes = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    ballot = live.api.post(
        f"/api/v1/norms/{norm['id']}/ballots", json={"version": version, "closes_at": closes}, headers=people[0]["headers"]
    )
    assert ballot.status_code == 201, ballot.text
    for person in people:
        voted = live.api.put(f"/api/v1/ballots/{ballot.json()['id']}/vote", json={"position": "approve"}, headers=person["headers"])
        assert voted.status_code == 200, voted.text


def _published(live, slug: str, count: int) -> dict[int, dict]:
    deadline = time.monotonic() + WAIT_MS / 1000
    while len(items := live.api.get("/api/v1/clearinghouse/entries", params={"network": slug}).json()["items"]) < count:
        assert time.monotonic() < deadline, "the adopted version was never published"
        time.sleep(0.1)
    return {item["version"]: item for item in items}


def test_a_superseded_entry_says_so_and_staff_review_the_carried_curation(live_server, new_page):
    live = live_server
    people = [live.person(f"{name} Sup", group=group, country=country, organisation=org) for name, group, country, org in COUNCIL]
    body = {"name": f"Sup Council {uuid.uuid4().hex[:6]}", "issue": "I.", "aims": "A.", "intended_outcome": "O."}
    created = live.api.post("/api/v1/networks", json=body | {"charter": COUNCIL_CHARTER}, headers=people[0]["headers"])
    assert created.status_code == 201, created.text
    slug = created.json()["slug"]
    for person in people[1:]:
        assert live.api.post(f"/api/v1/networks/{slug}/join", headers=person["headers"]).status_code == 201
    title = f"Ranking criteria {uuid.uuid4().hex[:6]}"
    norm = live.norm(people[0], slug, title, "Platforms publish their ranking criteria.")
    headers = people[0]["headers"]
    assert live.api.post(f"/api/v1/norms/{norm['id']}/versions", json={"label": "First"}, headers=headers).status_code == 201
    _adopt(live, people, norm, 1)
    v1 = _published(live, slug, 1)[1]

    staff = live.enrol_two_factor(live.person("Carla Staff"))  # as staff must
    with ThreadPoolExecutor(1) as aside:  # Playwright's sync API holds this thread's event loop
        aside.submit(asyncio.run, _make_staff(live.settings.database_url, staff["email"])).result()
    topic_slug = f"ranking-{uuid.uuid4().hex[:6]}"
    topic = live.api.post("/api/v1/clearinghouse/topics", json={"label": "Ranking", "slug": topic_slug}, headers=staff["headers"])
    assert topic.status_code == 201, topic.text
    curated = live.api.patch(
        f"/api/v1/clearinghouse/entries/{v1['id']}/curation",
        json={"summary": "How platforms rank.", "topics": [topic_slug]},
        headers=staff["headers"],
    )
    assert curated.status_code == 200, curated.text

    assert (
        live.api.post(f"/api/v1/norms/{norm['id']}/edits", json={"splices": [{"index": 0, "insert": "All "}]}, headers=headers).status_code
        == 200
    )
    assert live.api.post(f"/api/v1/norms/{norm['id']}/versions", json={"label": "Wider"}, headers=headers).status_code == 201
    _adopt(live, people, norm, 2)
    v2 = _published(live, slug, 2)[2]

    reader = new_page()
    reader.goto(v1["permalink"])
    banner = reader.locator("#superseded")
    expect(banner).to_contain_text("Superseded. This is v1; the network adopted v2")
    shoot(reader, "entry-superseded")
    violations = axe_violations(reader)
    assert violations == [], describe(violations)
    banner.get_by_role("link", name=f"{title} v2").click()
    reader.wait_for_url(v2["permalink"])
    expect(reader.locator("#superseded")).to_have_count(0)
    expect(reader.get_by_text("How platforms rank.")).to_be_visible()  # the summary carried over

    reader.goto(f"{live.url}/clearinghouse")
    reader.get_by_role("link", name="Norms in force").click()
    reader.wait_for_url(f"{live.url}/clearinghouse/in-force")
    expect(reader.get_by_role("link", name=title)).to_have_count(1)
    expect(reader.get_by_role("main")).to_contain_text(f"{title} v2")

    page = new_page()
    sign_in(page, live, staff)
    page.goto(f"{live.url}/clearinghouse/staff")
    notice = page.locator("#carried-over")
    expect(notice).to_contain_text(f"{title} v2")
    expect(notice).to_contain_text(f"topics {topic_slug}")
    notice.get_by_role("button", name=f"Reviewed {title} v2").click()
    expect(page.get_by_role("status").first).to_contain_text("Marked as reviewed")
    expect(page.locator("#carried-over").filter(has_text=title)).to_have_count(0)
