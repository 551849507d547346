"""The registrar's queue in Chromium: a registrar finds the affiliations waiting, with their evidence, approves one
with a public note and declines another with a reason; both people are told, both acts are in the audit log, and
a declined affiliation comes back only once the person changes it. Nobody else may see the page. And a person
verified by their work address: the link mailed to it (read from the live server's Maildir) proves it once."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.fixtures.accounts import make_registrar_at
from tests.fixtures.web import axe_violations, describe, mailed_link, shoot, sign_in

pytestmark = pytest.mark.browser


def _inbox(live, person: dict) -> list[str]:
    response = live.api.get("/api/v1/me/notifications", headers=person["headers"])
    assert response.status_code == 200, response.text
    return [item["title"] for item in response.json()["items"] if item["kind"] == "affiliation_verified"]


def test_a_registrar_approves_and_declines_from_the_queue(live_server, new_page):
    live = live_server
    tag = uuid.uuid4().hex[:6]  # the live server is shared: the test finds its own people by name
    rita = live.person(f"Rita Registrar {tag}", group="technical_academic", country="JP")
    make_registrar_at(live.settings.database_url, rita["email"])
    rita = live.enrol_two_factor(rita)
    ana = live.person(f"Ana Queue {tag}", group="government", country="BR", organisation="Anatel")
    eva = live.person(f"Eva Queue {tag}", group="civil_society", country="KE")  # an independent expert

    # Someone who is not a registrar is refused the page.
    page = new_page()
    sign_in(page, live, ana)
    refused = page.goto(f"{live.url}/registrar")
    assert refused is not None and refused.status == 403
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Registrar queue")).to_have_count(0)

    page = new_page()
    sign_in(page, live, rita)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Registrar queue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Registrar queue")
    page.get_by_label("Find by name").fill(f"Queue {tag}")
    page.get_by_role("button", name="Find").click()
    ana_card = page.locator(f"#request-{ana['id']}")
    eva_card = page.locator(f"#request-{eva['id']}")
    expect(ana_card).to_contain_text("Anatel")
    expect(ana_card).to_contain_text("Government")
    expect(ana_card).to_contain_text("Brazil")
    expect(ana_card).to_contain_text("No vouches yet (2 needed)")
    expect(ana_card).to_contain_text("Signs in with a proven address at example.org")
    expect(ana_card).to_contain_text("The organisation has no proven domain")
    expect(eva_card).to_contain_text("Independent expert")
    expect(eva_card).to_contain_text("Kenya")
    shoot(page, "registrar-queue")
    assert axe_violations(page) == [], describe(axe_violations(page))
    page.set_viewport_size({"width": 360, "height": 740})
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1"), "the queue scrolls sideways at 360 px"
    shoot(page, "registrar-queue-360")
    page.set_viewport_size({"width": 1200, "height": 900})

    # A blank note is refused beside its field, with what was typed kept; the person is not verified.
    ana_card.get_by_label("Public note: on what the verification rests").fill("   ")
    ana_card.get_by_role("button", name=f"Verify Ana Queue {tag}").click()
    expect(page.locator(f"#approve-{ana['id']}-note-error")).to_contain_text("note")
    expect(page.get_by_role("alert")).to_be_visible()
    assert axe_violations(page) == [], describe(axe_violations(page))

    page.locator(f"#approve-{ana['id']}-note").fill("Anatel staff list, December 2026")
    ana_card.get_by_role("button", name=f"Verify Ana Queue {tag}").click()
    expect(page.get_by_role("status")).to_contain_text(f"Verified: Ana Queue {tag}'s affiliation")
    expect(page.locator(f"#request-{ana['id']}")).to_have_count(0)
    expect(page.get_by_label("Find by name")).to_have_value(f"Queue {tag}")  # the search is kept

    eva_card.get_by_label("Public reason for declining").fill("Not on any accreditation list we hold")
    eva_card.get_by_role("button", name=f"Decline Eva Queue {tag}").click()
    expect(page.get_by_role("status")).to_contain_text(f"Declined: Eva Queue {tag} is told")
    expect(page.get_by_role("main")).to_contain_text("Nobody by that name is waiting.")

    # Each decision is the API's own: public evidence, the audit log, the person told.
    verification = live.api.get(f"/api/v1/participants/{ana['id']}/verification").json()["verification"]
    assert verification["words"] == f"verified by registrar Rita Registrar {tag}"
    assert verification["note"] == "Anatel staff list, December 2026"
    assert _inbox(live, ana) == [f"Your affiliation is now verified (verified by registrar Rita Registrar {tag})"]
    assert _inbox(live, eva) == ["A registrar revoked the verification of your affiliation: Not on any accreditation list we hold"]
    audit = live.api.get("/api/v1/audit", params={"limit": 200}).json()["items"]
    acts = {(event["action"], event["target_id"]) for event in audit}
    assert {("affiliation.registrar_verified", ana["id"]), ("affiliation.registrar_revoked", eva["id"])} <= acts

    # A declined affiliation waits again once its person changes it.
    changed = live.api.put(
        "/api/v1/me/affiliation",
        json={"stakeholder_group": "civil_society", "country": "KE", "organisation": "KICTANet"},
        headers=eva["headers"],
    )
    assert changed.status_code == 200, changed.text
    page.goto(f"{live.url}/registrar?q=Queue+{tag}")
    expect(page.locator(f"#request-{eva['id']}")).to_contain_text("KICTANet")


def test_a_person_proves_their_work_address_by_the_mailed_link(live_server, new_page):
    live = live_server
    tag = uuid.uuid4().hex[:6]
    domain = f"agency{tag}.example"
    rita = live.person(f"Rita Registrar {tag}", group="technical_academic", country="JP")
    make_registrar_at(live.settings.database_url, rita["email"])
    rita = live.enrol_two_factor(rita)
    ana = live.person(f"Ana Agency {tag}", group="government", country="BR", organisation=f"Agency {tag}")
    [organisation] = live.api.get("/api/v1/organisations", params={"q": f"Agency {tag}"}).json()
    slug = organisation["slug"]
    assert live.api.post(f"/api/v1/organisations/{slug}/domains", json={"domain": domain}, headers=ana["headers"]).status_code == 201
    confirmed = live.api.post(
        f"/api/v1/organisations/{slug}/domains/{domain}/confirm", json={"note": "Published contacts"}, headers=rita["headers"]
    )
    assert confirmed.status_code == 200, confirmed.text

    page = new_page()
    sign_in(page, live, ana)
    page.goto(f"{live.url}/verification")
    expect(page.locator("#my-verification")).to_contain_text("unverified")
    work = f"ana@{domain}"
    page.get_by_label(f"Your address at {domain}").fill(work)
    page.get_by_role("button", name="Mail me a link").click()
    expect(page.get_by_role("status")).to_contain_text(f"A link is on its way to {work}")
    assert axe_violations(page) == [], describe(axe_violations(page))

    link = mailed_link(live, work, "/prove-address")  # from the live server's Maildir
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Prove your organisation's address")
    assert axe_violations(page) == [], describe(axe_violations(page))
    page.get_by_role("button", name="Prove this address").click()
    expect(page.get_by_role("status")).to_contain_text(f"Your affiliation is verified by domain {domain}")
    expect(page.locator("#my-verification")).to_contain_text(f"verified by domain {domain}")
    shoot(page, "verification-by-address")

    # The link works once: opened again, a page says so and where to ask for a new one.
    used = page.goto(link)
    assert used is not None and used.status == 410
    expect(page.get_by_role("main")).to_contain_text("Ask for a new link on Verify my affiliation")
    assert axe_violations(page) == [], describe(axe_violations(page))
