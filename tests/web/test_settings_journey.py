"""Account settings in Chromium: two-factor enrolment and sign-in with a code and with a recovery code, a
password change signing out another browser, and deleting an account while the public record stays."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from playwright.sync_api import expect

from tests.cli import run_cogov
from tests.fixtures.accounts import PASSWORD
from tests.fixtures.web import WAIT_MS, axe_violations, describe, shoot, sign_in

pytestmark = pytest.mark.browser


def _sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").first.click()
    expect(page.get_by_role("status")).to_contain_text("You are signed out")


def _password_step(page, live, person) -> None:
    page.goto(f"{live.url}/signin")
    page.fill("#email", person["email"])
    page.fill("#password", PASSWORD)
    page.get_by_role("main").get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Two-factor sign-in")).to_be_visible()


def test_enrol_two_factor_then_sign_in_with_a_code_and_with_a_recovery_code_once(live_server, new_page):
    person = live_server.person("Tove Totp")
    page = new_page()
    sign_in(page, live_server, person)
    page.get_by_role("link", name="Settings").click()
    page.wait_for_url(f"{live_server.url}/settings")
    page.get_by_role("link", name="Turn on two-factor sign-in").click()
    expect(page.locator("figure.qr svg")).to_be_visible()
    shoot(page, "settings-two-factor-enrol")
    assert axe_violations(page) == [], describe(axe_violations(page))
    totp = pyotp.TOTP(page.locator("#totp-secret").inner_text())
    page.fill("#code", totp.now())
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    codes = page.locator("#recovery-codes code").all_inner_texts()
    assert len(codes) == 10 and all(re.fullmatch(r"[a-z2-7]{4}(-[a-z2-7]{4}){3}", code) for code in codes)
    shoot(page, "settings-recovery-codes")
    page.get_by_role("link", name="Done").click()
    expect(page.locator("#two-factor")).to_contain_text("On: signing in asks for a code")
    _sign_out(page)

    # With a code from the app (the next step's: the enrolment used this one).
    _password_step(page, live_server, person)
    shoot(page, "signin-code")
    page.fill("#code", totp.at(time.time() + 30))
    page.get_by_role("main").get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/")
    expect(page.get_by_role("status")).to_contain_text("Signed in as Tove Totp")
    _sign_out(page)

    # With a recovery code: once.
    for attempt in range(2):
        _password_step(page, live_server, person)
        page.get_by_text("Lost your phone? Use a recovery code").click()
        page.fill("#recovery_code", codes[0])
        page.get_by_role("main").get_by_role("button", name="Sign in").click()
        if attempt == 0:
            page.wait_for_url(f"{live_server.url}/")
            expect(page.get_by_role("status")).to_contain_text("That recovery code is now used up")
            _sign_out(page)
    expect(page.locator("#recovery_code-error")).to_contain_text("has been used")
    expect(page.locator("#recovery_code")).to_have_value(codes[0])


def test_signing_in_with_a_code_works_without_javascript(live_server, new_page):
    person = live_server.enrol_two_factor(live_server.person("Nora Noscript"))
    page = new_page(java_script_enabled=False)
    _password_step(page, live_server, person)
    page.fill("#code", "000000")
    page.get_by_role("main").get_by_role("button", name="Sign in").click()
    expect(page.locator("#code-error")).to_contain_text("wrong")
    page.fill("#code", person["totp"].at(time.time() + 30))
    page.get_by_role("main").get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/")
    expect(page.get_by_role("status")).to_contain_text("Signed in as Nora Noscript")


def test_changing_the_password_signs_out_another_browser(live_server, new_page):
    person = live_server.person("Petra Password")
    here, there = new_page(), new_page()
    sign_in(here, live_server, person)
    sign_in(there, live_server, person)
    here.goto(f"{live_server.url}/settings")
    expect(here.locator("#sessions tbody tr")).to_have_count(3)  # two browsers and the API token that made the person
    here.fill("#current_password", PASSWORD)
    here.fill("#new_password", "an entirely new passphrase")
    here.get_by_role("button", name="Change password").click()
    expect(here.get_by_role("status")).to_contain_text("every other session is signed out")
    expect(here.locator("#sessions tbody tr")).to_have_count(1)

    there.goto(f"{live_server.url}/settings")
    there.wait_for_url(re.compile(r"/signin\?next=/settings$"), timeout=WAIT_MS)
    expect(there.get_by_role("link", name="Sign in")).to_be_visible()


def test_deleting_the_account_leaves_a_pseudonym_in_the_public_record(live_server, new_page):
    founder = live_server.person("Fiona Founder", group="government", country="FR", organisation="Ministry")
    leaver = live_server.person("Lena Leaver", group="civil_society", country="KE", organisation="Digital Rights Kenya")
    slug = live_server.network(founder, leaver)
    norm = live_server.norm(leaver, slug, "A norm Lena started", "Lena wrote this line.")
    pseudonym = f"Former participant {leaver['id'].replace('-', '')[:4]}"

    page = new_page()
    sign_in(page, live_server, leaver)
    page.goto(f"{live_server.url}/settings")
    page.get_by_role("link", name="Delete my account").click()
    expect(page.get_by_role("main")).to_contain_text(pseudonym)
    page.fill("#password", "not my password")
    page.get_by_role("button", name="Delete my account").click()
    expect(page.locator("#password-error")).to_contain_text("not right")
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Delete my account").click()
    page.wait_for_url(f"{live_server.url}/")
    expect(page.get_by_role("status")).to_contain_text(f"Your public acts now show “{pseudonym}”")
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()

    page.goto(f"{live_server.url}/audit")
    expect(page.get_by_role("main")).to_contain_text(pseudonym)
    page.goto(norm["page"] + "/history")
    expect(page.get_by_role("main")).to_contain_text(pseudonym)
    expect(page.get_by_role("main")).not_to_contain_text("Lena Leaver")
    shoot(page, "deleted-account-history")

    verified = run_cogov("audit", "verify", database_url=live_server.settings.database_url)
    assert verified.returncode == 0, verified.stdout + verified.stderr
