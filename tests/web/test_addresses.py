"""Mailed links in a real Chromium: confirming an address, and resetting a forgotten password, which signs
every other session out. The links come from the mails the live server wrote to its Maildir."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.fixtures.accounts import PASSWORD
from tests.fixtures.web import mailed_link, mails_to, shoot, sign_in

pytestmark = pytest.mark.browser

NEW_PASSWORD = "a brand new long passphrase"


def test_sign_up_then_open_the_mailed_link_and_the_address_is_confirmed(live_server, new_page):
    page = new_page()
    email = f"lena.{uuid.uuid4().hex[:6]}@example.org"
    page.goto(f"{live_server.url}/signup")
    page.fill("#display_name", "Lena Verify")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("status")).to_contain_text("We mailed a link")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.get_by_role("main").get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Confirm your address to take part")).to_be_visible()
    page.goto(f"{live_server.url}/settings/email")
    expect(page.get_by_text("not confirmed yet")).to_be_visible()

    page.goto(mailed_link(live_server, email, "/verify-email"))
    shoot(page, "verify-email")
    page.get_by_role("button", name="Confirm my address").click()
    expect(page.get_by_role("status")).to_contain_text(f"{email} is confirmed")
    page.goto(f"{live_server.url}/settings/email")
    expect(page.get_by_text("confirmed", exact=True)).to_be_visible()
    expect(page.get_by_text("Confirm your address to take part")).to_have_count(0)


def test_forgot_password_reset_signs_out_the_other_sessions(live_server, new_page):
    person = live_server.person("Reset Person")
    elsewhere = new_page()
    sign_in(elsewhere, live_server, person)
    expect(elsewhere.get_by_role("button", name="Sign out")).to_be_visible()

    page = new_page()
    page.goto(f"{live_server.url}/signin")
    page.get_by_role("link", name="Forgot your password?").click()
    page.fill("#email", person["email"])
    already = mails_to(live_server, person["email"])
    page.get_by_role("button", name="Mail me a link").click()
    expect(page.get_by_role("status")).to_contain_text("If an account uses this address")

    page.goto(mailed_link(live_server, person["email"], "/reset-password", after=already))
    shoot(page, "reset-password")
    page.fill("#password", NEW_PASSWORD)
    page.get_by_role("button", name="Set my new password").click()
    expect(page).to_have_url(re.compile(r"/signin$"))
    expect(page.get_by_role("status")).to_contain_text("signed out everywhere")

    elsewhere.reload()
    expect(elsewhere.get_by_role("link", name="Sign in")).to_be_visible()  # the other session is over
    page.fill("#email", person["email"])
    page.fill("#password", PASSWORD)
    page.get_by_role("main").get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_be_visible()  # the old password no longer works
    page.fill("#email", person["email"])
    page.fill("#password", NEW_PASSWORD)
    page.get_by_role("main").get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("status")).to_contain_text("Signed in as Reset Person")
