"""Verification in Chromium: an independent expert asks two verified colleagues to vouch, they vouch on their
pages, the roster's badge changes, and the network (counting only verified members) turns active."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.fixtures.accounts import make_registrar_at
from tests.fixtures.web import axe_violations, describe, shoot, sign_in

pytestmark = pytest.mark.browser


def test_an_independent_expert_is_vouched_for_and_the_network_turns_active(live_server, new_page):
    live = live_server
    rita = live.person("Rita Registrar", group="technical_academic", country="JP")
    make_registrar_at(live.settings.database_url, rita["email"])
    rita = live.enrol_two_factor(rita)
    ana = live.person("Ana Souza", group="government", country="FR", organisation="Ministère du Numérique")
    dan = live.person("Dan Ito", group="private_sector", country="JP", organisation="Kaigan Cloud")
    bia = live.person("Bia Lima", group="civil_society", country="BR", organisation="Nupef")
    caio = live.person("Caio Rey", group="civil_society", country="AR", organisation="Idec")
    eva = live.person("Eva Wanjiru", group="civil_society", country="KE")  # an independent expert
    for who in (ana, dan, bia, caio):
        done = live.api.post(
            f"/api/v1/participants/{who['id']}/registrar-verification", json={"note": "Accreditation list 2026"}, headers=rita["headers"]
        )
        assert done.status_code == 201, done.text
    created = live.api.post(
        "/api/v1/networks",
        json={
            "name": "Community spectrum",
            "issue": "Spectrum for community networks.",
            "aims": "A norm.",
            "intended_outcome": "A norm.",
            "charter": {"required_groups": ["government", "private_sector", "civil_society"], "min_regions": 3},
        },
        headers=ana["headers"],
    )
    assert created.status_code == 201, created.text
    slug = created.json()["slug"]
    for who in (dan, eva):
        assert live.api.post(f"/api/v1/networks/{slug}/join", headers=who["headers"]).status_code == 201

    page = new_page()
    page.goto(f"{live.url}/networks/{slug}")
    expect(page.locator("#formation-status")).to_contain_text("Forming")
    expect(page.locator("#verified-policy")).to_contain_text("Only members with verified affiliations count")
    expect(page.get_by_role("row", name="Eva Wanjiru")).to_contain_text("Unverified")

    # Eva asks two verified colleagues of her group.
    sign_in(page, live, eva)
    page.goto(f"{live.url}/verification")
    expect(page.locator("#my-verification")).to_contain_text("unverified")
    shoot(page, "verification-ask")
    assert axe_violations(page) == [], describe(axe_violations(page))
    page.get_by_label("Bia Lima (Nupef)").check()
    page.get_by_label("Caio Rey (Idec)").check()
    page.get_by_role("button", name="Ask them").click()
    expect(page.get_by_role("status")).to_contain_text("Asked to vouch for you: Bia Lima, Caio Rey")

    # Each sees the request on their page and vouches (without JavaScript: plain forms).
    for colleague in (bia, caio):
        theirs = new_page(java_script_enabled=False)
        sign_in(theirs, live, colleague)
        theirs.goto(f"{live.url}/verification")
        theirs.get_by_role("button", name="Vouch for Eva Wanjiru").click()
        expect(theirs.get_by_role("status")).to_contain_text("You vouch for them now")

    page.goto(f"{live.url}/networks/{slug}")
    expect(page.get_by_role("row", name="Eva Wanjiru")).to_contain_text("Vouched by Bia Lima and Caio Rey")
    expect(page.locator("#formation-status")).to_contain_text("Active")
    shoot(page, "verification-roster")
    assert axe_violations(page) == [], describe(axe_violations(page))
