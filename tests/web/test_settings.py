"""The settings pages without JavaScript: plain forms that keep what was typed and show errors beside the field."""

from __future__ import annotations

import html
import re
import uuid

import pyotp
from sqlalchemy import update

from services.accounts.models import Participant, Role
from tests.fixtures.accounts import PASSWORD
from tests.web.test_pages import _csrf, _sign_up, _token


def _error_beside(page: str, field: str) -> str:
    """The message shown under `field` (its `<p id="FIELD-error">`), unescaped."""
    found = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', page)
    assert found, f"no error beside {field}"
    return html.unescape(found.group(1))


async def _bearer(client, email: str) -> dict:
    token = await client.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


async def test_the_settings_page_is_linked_from_the_header_and_lists_this_browser(client):
    await _sign_up(client, "Ada Page")
    home = await client.get("/")
    assert '<a href="/settings">Settings</a>' in home.text
    assert (await client.get("/me")).headers["location"] == "/settings"
    page = await client.get("/settings")
    assert page.status_code == 200
    assert 'value="Ada Page"' in page.text and 'href="/settings/email"' in page.text
    assert page.text.count("<strong>This browser</strong>") == 1
    client.cookies.delete("cogov_session")
    assert (await client.get("/settings")).headers["location"] == "/signin?next=/settings"


async def test_a_bad_name_is_refused_beside_the_field_and_kept_in_it(client):
    email = await _sign_up(client, "Ada Page")
    for typed, says in (("Ada\r\nBcc: all@example.org", "one line"), ("x" * 121, "at most 120")):
        answer = await client.post("/settings/name", data={"csrf_token": await _token(client, "/settings"), "display_name": typed})
        assert answer.status_code == 422
        assert says in _error_beside(answer.text, "display_name")
        assert f'value="{html.escape(typed)}"' in answer.text  # what was typed, kept in the field
    saved = await client.post("/settings/name", data={"csrf_token": await _token(client, "/settings"), "display_name": "Ada Lovelace"})
    assert saved.status_code == 303
    assert (await client.get("/api/v1/me", headers=await _bearer(client, email))).json()["display_name"] == "Ada Lovelace"


async def test_changing_the_password_on_the_page_signs_out_other_sessions_and_keeps_this_one(client):
    email = await _sign_up(client, "Ada Page")
    elsewhere = await _bearer(client, email)
    wrong = await client.post(
        "/settings/password",
        data={
            "csrf_token": await _token(client, "/settings"),
            "current_password": "not it at all",
            "new_password": "a fresh long passphrase",
        },
    )
    assert wrong.status_code == 422
    assert _error_beside(wrong.text, "current_password") == "Your current password is not right."
    weak = await client.post(
        "/settings/password", data={"csrf_token": await _token(client, "/settings"), "current_password": PASSWORD, "new_password": "short"}
    )
    assert weak.status_code == 422 and "at least 12" in _error_beside(weak.text, "new_password")
    assert (await client.get("/api/v1/me", headers=elsewhere)).status_code == 200

    changed = await client.post(
        "/settings/password",
        data={"csrf_token": await _token(client, "/settings"), "current_password": PASSWORD, "new_password": "a fresh long passphrase"},
    )
    assert changed.status_code == 303
    assert (await client.get("/api/v1/me", headers=elsewhere)).status_code == 401
    assert (await client.get("/settings")).status_code == 200


async def test_revoking_a_session_and_signing_out_everywhere_from_the_page(client):
    email = await _sign_up(client, "Ada Page")
    phone, laptop = await _bearer(client, email), await _bearer(client, email)
    page = (await client.get("/settings")).text
    forms = re.findall(r'action="/settings/sessions/([0-9a-f-]+)/revoke"', page)
    assert len(forms) == 2
    phone_id = (await client.get("/api/v1/me/sessions", headers=phone)).json()
    [phone_session] = [row["id"] for row in phone_id if row["current"]]
    revoked = await client.post(f"/settings/sessions/{phone_session}/revoke", data={"csrf_token": _csrf(page)})
    assert revoked.status_code == 303
    assert (await client.get("/api/v1/me", headers=phone)).status_code == 401
    assert (await client.get("/api/v1/me", headers=laptop)).status_code == 200
    unknown = await client.post(f"/settings/sessions/{uuid.uuid4()}/revoke", data={"csrf_token": _csrf(page)})
    assert unknown.status_code == 303  # with an error message, nothing ended
    assert (await client.get("/api/v1/me", headers=laptop)).status_code == 200

    everywhere = await client.post("/settings/sign-out-everywhere", data={"csrf_token": await _token(client, "/settings")})
    assert everywhere.status_code == 303 and everywhere.headers["location"] == "/signin"
    assert (await client.get("/api/v1/me", headers=laptop)).status_code == 401
    assert (await client.get("/settings")).status_code == 303


async def test_enrolling_and_signing_in_with_a_code_without_javascript(client, clock):
    email = await _sign_up(client, "Ada Page")
    page = await client.get("/settings/two-factor")
    assert "<svg" in page.text
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', page.text).group(1)
    enrolment = re.search(r'name="enrolment" value="([^"]+)"', page.text).group(1)
    totp = pyotp.TOTP(secret)

    wrong = await client.post("/settings/two-factor", data={"csrf_token": _csrf(page.text), "enrolment": enrolment, "code": "000000"})
    assert wrong.status_code == 422 and "wrong" in _error_beside(wrong.text, "code")
    assert f'<code id="totp-secret">{secret}</code>' in wrong.text and 'value="000000"' in wrong.text  # the same secret, the code kept
    enabled = await client.post(
        "/settings/two-factor", data={"csrf_token": _csrf(page.text), "enrolment": enrolment, "code": totp.at(clock.now())}
    )
    assert enabled.status_code == 200
    codes = re.findall(r"<li><code>([a-z2-7-]{19})</code></li>", enabled.text)
    assert len(codes) == 10

    client.cookies.delete("cogov_session")
    first = await client.post("/signin", data={"csrf_token": await _token(client), "email": email, "password": PASSWORD})
    assert first.status_code == 200 and 'action="/signin/code"' in first.text
    assert not any(cookie.startswith("cogov_session=") for cookie in first.headers.get_list("set-cookie"))
    challenge = re.search(r'name="challenge" value="([^"]+)"', first.text).group(1)
    reused = await client.post("/signin/code", data={"csrf_token": _csrf(first.text), "challenge": challenge, "code": totp.at(clock.now())})
    assert reused.status_code == 401 and "already used" in _error_beside(reused.text, "code")
    clock.advance(seconds=30)
    signed_in = await client.post(
        "/signin/code", data={"csrf_token": _csrf(first.text), "challenge": challenge, "code": totp.at(clock.now())}
    )
    assert signed_in.status_code == 303
    assert (await client.get("/settings")).status_code == 200
    assert "On: signing in asks for a code" in (await client.get("/settings")).text


async def test_staff_pages_lead_to_enrolment_until_two_factor_is_on(client, app):
    email = await _sign_up(client, "Clara Page")
    async with app.state.sessionmaker() as session:
        await session.execute(update(Participant).where(Participant.email == email).values(role=Role.staff))
        await session.commit()
    answer = await client.get("/clearinghouse/staff")
    assert answer.status_code == 303 and answer.headers["location"] == "/settings/two-factor?next=/clearinghouse/staff"
    page = await client.get(answer.headers["location"])
    assert "Staff and administrators must turn on two-factor sign-in" in page.text
    assert 'name="next" value="/clearinghouse/staff"' in page.text


async def test_deleting_the_account_on_the_page_needs_the_password(client):
    email = await _sign_up(client, "Ada Page")
    page = await client.get("/settings/delete")
    assert "Former participant" in page.text
    wrong = await client.post("/settings/delete", data={"csrf_token": _csrf(page.text), "password": "not it at all"})
    assert wrong.status_code == 422 and _error_beside(wrong.text, "password") == "Your current password is not right."
    empty = await client.post("/settings/delete", data={"csrf_token": _csrf(page.text), "password": ""})
    assert empty.status_code == 422
    deleted = await client.post("/settings/delete", data={"csrf_token": _csrf(page.text), "password": PASSWORD})
    assert deleted.status_code == 303 and deleted.headers["location"] == "/"
    assert (await client.get("/settings")).status_code == 303
    assert (await client.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})).status_code == 401


async def test_the_download_on_the_page_is_the_same_json(client):
    email = await _sign_up(client, "Ada Page")
    page = await client.get("/settings/export")
    assert page.status_code == 200 and page.headers["content-disposition"].startswith("attachment")
    assert page.json()["account"]["email"] == email
