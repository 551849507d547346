"""A newcomer's journey and a norm's versions, through the pages in a real Chromium."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.fixtures.accounts import PASSWORD
from tests.fixtures.web import WAIT_MS, mailed_link, open_editor, shoot, sign_in

pytestmark = pytest.mark.browser


def _sign_up(page, live, name: str) -> str:
    url = live.url
    email = f"{name.split()[0].lower()}.{uuid.uuid4().hex[:6]}@example.org"
    page.goto(f"{url}/signup")
    page.fill("#display_name", name)
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Create account").click()
    # The same answer whether or not the address had an account: on to signing in with the new password.
    expect(page).to_have_url(re.compile(r"/signin\?next=/me/affiliation$"))
    expect(page.get_by_role("status")).to_contain_text("Sign-up received")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.get_by_role("main").get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/me/affiliation$"))
    expect(page.get_by_role("status")).to_contain_text(f"Signed in as {name}")
    # Until the address is proven: reading only. The link is in the mail the server wrote to its Maildir.
    expect(page.get_by_text("Confirm your address to take part")).to_be_visible()
    page.goto(mailed_link(live, email, "/verify-email"))
    page.get_by_role("button", name="Confirm my address").click()
    expect(page.get_by_role("status")).to_contain_text(f"{email} is confirmed")
    page.goto(f"{url}/me/affiliation")
    return email


def _set_affiliation(page, group_label: str, country: str, organisation: str) -> None:
    page.select_option("#stakeholder_group", label=group_label)
    page.select_option("#country", label=country)
    page.fill("#organisation", organisation)
    page.get_by_role("button", name="Save affiliation").click()
    expect(page.get_by_role("status")).to_contain_text("Your affiliation is saved")


def _sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_contain_text("You are signed out")


def test_sign_up_found_a_network_see_it_become_active_and_start_a_norm(live_server, new_page):
    url = live_server.url
    page = new_page()
    _sign_up(page, live_server, "Grace Founder")
    shoot(page, "affiliation")
    _set_affiliation(page, "Government", "France", "Ministry for Digital Affairs")

    page.goto(f"{url}/networks/new")
    name = f"Routing Security {uuid.uuid4().hex[:4]}"
    page.fill("#name", name)
    page.fill("#issue", "Route hijacks and leaks still take services down.")
    page.fill("#aims", "A baseline every operator can meet.")
    page.fill("#intended_outcome", "A norm on routing security.")
    # None of these people has verified an affiliation yet: the network counts every member (its page says so).
    page.get_by_label("Every member, verified or not").check()
    shoot(page, "network-new")
    page.get_by_role("button", name="Found the network").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    network_url = page.url

    expect(page.locator("#verified-policy")).to_contain_text("This network counts every member, verified or not")
    status = page.locator("#formation-status")
    expect(status).to_contain_text("Forming")
    expect(status).to_contain_text("Missing stakeholder groups: Private sector, Civil society, Technical and academic community")
    expect(page.locator('#formation-matrix tr[data-group="private_sector"]')).to_contain_text("missing, required")
    expect(page.locator('#formation-matrix tr[data-group="government"] td[data-region="western_europe_others"]')).to_contain_text("1")
    shoot(page, "network-forming")

    # Three experts from other groups and regions sign up, set their affiliation and join.
    other = new_page()
    for person, group, country in (
        ("Kenji Private", "Private sector", "Japan"),
        ("Amina Civil", "Civil society", "Senegal"),
        ("Joao Technical", "Technical and academic community", "Brazil"),
    ):
        _sign_up(other, live_server, person)
        _set_affiliation(other, group, country, f"{person.split()[1]} organisation")
        other.goto(network_url)
        other.get_by_role("button", name="Join the network").click()
        expect(other.get_by_role("status")).to_contain_text("You are now a member")
        _sign_out(other)

    page.reload()
    expect(status).to_contain_text("Active.")
    expect(status).to_contain_text("All required groups present")
    expect(page.locator("#formation-matrix tr.missing")).to_have_count(0)
    expect(page.locator("#member-count")).to_have_text("4 members")
    for group, region in (
        ("private_sector", "asia_pacific"),
        ("civil_society", "africa"),
        ("technical_academic", "latin_america_caribbean"),
    ):
        expect(page.locator(f'#formation-matrix tr[data-group="{group}"] td[data-region="{region}"]')).to_contain_text("1")
    shoot(page, "network-active")

    if not page.locator("#norm-title").is_visible():  # the form is open while the network has no norm
        page.get_by_text("Start a norm").click()
    page.fill("#norm-title", "Baseline for routing security")
    page.fill("#norm-text", "1. Operators sign their route origins.")
    page.get_by_role("button", name="Create the norm").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Baseline for routing security")
    expect(page.get_by_role("status").first).to_contain_text("The norm is created")
    page.wait_for_selector("#editor[data-live=true] .cm-content", timeout=WAIT_MS)
    expect(page.locator("#editor .cm-content")).to_have_text("1. Operators sign their route origins.")
    shoot(page, "norm-new")


def test_versions_tagged_in_the_ui_and_the_diff_page_marks_inserted_and_deleted_words(live_server, new_page):
    ana = live_server.person("Version Author", group="civil_society", country="KE")
    network = live_server.network(ana)
    norm = live_server.norm(ana, network, "Versioned", "Operators should validate routes.")
    page = new_page()
    sign_in(page, live_server, ana)
    open_editor(page, norm["page"])

    if not page.locator("#version-label").is_visible():  # open while no version is tagged
        page.get_by_text("Tag the current text as v1").click()
    page.fill("#version-label", "First draft")
    page.get_by_role("button", name="Tag version").click()
    expect(page.get_by_role("status").first).to_contain_text("Version v1 “First draft” is tagged")

    # Replace "should" with "must" and add a sentence, in the live editor.
    page.wait_for_selector("#editor[data-live=true] .cm-content", timeout=WAIT_MS)
    page.click("#editor .cm-content")
    page.keyboard.press("Control+Home")
    page.keyboard.press("Control+ArrowRight")  # after "Operators"
    page.keyboard.press("Shift+Control+ArrowRight")  # select " should"
    page.keyboard.type(" must")
    page.keyboard.press("Control+End")
    page.keyboard.type(" Invalid routes are dropped.")
    live_server.wait_for_text(norm, "Operators must validate routes. Invalid routes are dropped.")

    page.get_by_text("Tag the current text as v2").click()
    page.fill("#version-label", "Second draft")
    page.fill("#version-note", "Stronger wording.")
    page.get_by_role("button", name="Tag version").click()
    expect(page.get_by_role("status").first).to_contain_text("Version v2 “Second draft” is tagged")
    shoot(page, "norm-versions")

    page.get_by_role("link", name="changes from v1").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Changes in Versioned")
    diff = page.locator("#diff")
    expect(diff.locator("del")).to_have_text(["[deleted: should]"])
    expect(diff.locator("ins")).to_contain_text(["must", "Invalid routes are dropped."])
    expect(page.locator("#diff-stats")).to_contain_text("from v1 to v2".replace("from", "From"))
    # Not colour alone: insertions are underlined, deletions struck through.
    assert "underline" in diff.locator("ins").first.evaluate("e => getComputedStyle(e).textDecorationLine")
    assert "line-through" in diff.locator("del").first.evaluate("e => getComputedStyle(e).textDecorationLine")
    shoot(page, "diff")

    page.goto(norm["page"] + "/versions/1")
    expect(page.locator(".norm-text")).to_have_text("Operators should validate routes.")
