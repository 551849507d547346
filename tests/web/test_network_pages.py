"""A network's pages in a real Chromium: leaving asks first (a page of its own, so without JavaScript too), and a
convener amends the charter on a page, seeing a refusal beside the field with what they typed kept."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.fixtures.web import shoot, sign_in

pytestmark = pytest.mark.browser


def test_leaving_a_network_asks_for_confirmation_first(live_server, new_page):
    founder = live_server.person("Ines Founder", group="government", country="FR", organisation="Ministry")
    member = live_server.person("Leo Leaving", group="civil_society", country="KE", organisation="Open Net")
    slug = live_server.network(founder, member)
    page = new_page(java_script_enabled=False)
    sign_in(page, live_server, member)
    page.goto(f"{live_server.url}/networks/{slug}")
    page.get_by_role("link", name="Leave the network…").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Leave")

    # Changing one's mind changes nothing.
    page.get_by_role("link", name="Stay a member").click()
    expect(page.locator("#membership")).to_contain_text("You are a member of this network.")

    page.get_by_role("link", name="Leave the network…").click()
    shoot(page, "network-leave")
    page.get_by_role("button", name="Leave the network").click()
    expect(page.get_by_role("status").first).to_contain_text("You have left this network.")
    expect(page.locator("#membership")).not_to_contain_text("You are a member")


def test_a_convener_amends_the_charter_on_its_page(live_server, new_page):
    founder = live_server.person("Carla Convener", group="government", country="FR", organisation="Ministry")
    member = live_server.person("Mo Member", group="civil_society", country="KE", organisation="Open Net")
    slug = live_server.network(founder, member)

    reader = new_page()
    sign_in(reader, live_server, member)
    reader.goto(f"{live_server.url}/networks/{slug}/charter")
    expect(reader.locator("#charter-in-force")).to_contain_text("1/2")
    expect(reader.get_by_role("button", name="Adopt charter v2")).to_have_count(0)  # members read, conveners amend

    page = new_page()
    sign_in(page, live_server, founder)
    page.goto(f"{live_server.url}/networks/{slug}")
    page.get_by_role("link", name="Amend the charter").click()
    page.get_by_label("Support threshold").fill("2/5")
    page.get_by_label("Ballots open at least (hours)").fill("72")
    page.get_by_role("button", name="Adopt charter v2").click()

    # Refused: the message is beside the field and in the summary, and what was typed is still there.
    threshold = page.get_by_label("Support threshold")
    expect(threshold).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#threshold-error")).to_be_visible()
    expect(page.locator(".error-summary")).to_contain_text(page.locator("#threshold-error").inner_text())
    expect(threshold).to_have_value("2/5")
    expect(page.get_by_label("Ballots open at least (hours)")).to_have_value("72")
    shoot(page, "network-charter-refused")

    threshold.fill("2/3")
    page.get_by_role("button", name="Adopt charter v2").click()
    expect(page.get_by_role("status").first).to_contain_text("Charter v2 is in force")
    expect(page.locator("#charter-in-force")).to_contain_text("at least 2/3")
    expect(page.locator("#charter-in-force")).to_contain_text("72 hours")
    charter = live_server.api.get(f"/api/v1/networks/{slug}").json()["charter"]
    assert (charter["version"], charter["signoff"]["threshold"], charter["signoff"]["min_ballot_hours"]) == (2, "2/3", 72)
