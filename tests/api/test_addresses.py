"""Proven addresses, password reset and change of address, through a real SMTP server (aiosmtpd): the tests
read the mails it received and follow their links through the app."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from services.mail.models import Mail, MailStatus
from tests.fixtures.accounts import PASSWORD, affiliate
from tests.fixtures.mail import link_of, path_of, token_of
from tests.fixtures.networks import NETWORK

NEW_PASSWORD = "a different long passphrase"


@pytest.fixture
def settings_overrides(smtp) -> dict:
    return {"smtp_url": smtp.url, "mail_from": "CoGov <cogov@example.org>", "base_url": "http://cogov.test"}


async def register(client, email: str, name: str = "Ama Mensah") -> dict:
    created = await client.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD, "display_name": name})
    assert created.status_code == 202, created.text
    return await signed_in(client, email)


async def signed_in(client, email: str, password: str = PASSWORD) -> dict:
    token = await client.post("/api/v1/auth/token", data={"username": email, "password": password})
    assert token.status_code == 200, token.text
    return {"email": email, "headers": {"Authorization": f"Bearer {token.json()['access_token']}"}}


async def me(client, person: dict) -> dict:
    response = await client.get("/api/v1/me", headers=person["headers"])
    assert response.status_code == 200, response.text
    return response.json()


async def outbox(app) -> list[Mail]:
    async with app.state.sessionmaker() as session:
        return list((await session.scalars(select(Mail).order_by(Mail.id))).all())


async def test_sign_up_mails_a_link_that_proves_the_address_and_lets_the_person_take_part(client, app, smtp, worker):
    person = await affiliate(client, await register(client, "ama@example.org"))
    assert (await me(client, person))["email_verified"] is False
    refused = await client.post("/api/v1/networks", json=NETWORK, headers=person["headers"])
    assert (refused.status_code, refused.json()["code"]) == (403, "email_unverified")

    assert await worker.send_mail() == 1
    [mail] = smtp.to("ama@example.org")
    assert mail["Subject"] == "Confirm your email address for CoGov"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["Message-ID"] and mail["Date"]
    assert mail["From"] == "CoGov <cogov@example.org>"
    assert [part.get_content_type() for part in mail.iter_parts()] == ["text/plain", "text/html"]
    assert smtp.envelopes == [("cogov@example.org", ["ama@example.org"])]
    link = link_of(mail)
    assert link.startswith("http://cogov.test/verify-email?token=")

    page = await client.get(path_of(link))  # opening the link changes nothing: its button does
    assert page.status_code == 200 and "Confirm my address" in page.text
    assert (await me(client, person))["email_verified"] is False
    verified = await client.post("/api/v1/auth/verify-email", json={"token": token_of(mail)})
    assert verified.status_code == 200, verified.text
    assert verified.json()["email_verified"] is True
    founded = await client.post("/api/v1/networks", json=NETWORK, headers=person["headers"])
    assert founded.status_code == 201, founded.text

    again = await client.post("/api/v1/auth/verify-email", json={"token": token_of(mail)})
    assert (again.status_code, again.json()["code"]) == (410, "link_used")


async def test_expired_forged_and_truncated_links_change_nothing(client, app, smtp, worker, clock):
    person = await register(client, "bo@example.org")
    await worker.send_mail()
    token = token_of(smtp.to("bo@example.org")[0])

    for bad in (token[:-6], token[:20], token[:-1] + ("A" if token[-1] != "A" else "B"), "not-a-token"):
        response = await client.post("/api/v1/auth/verify-email", json={"token": bad})
        assert (response.status_code, response.json()["code"]) == (400, "link_invalid"), bad
    page = await client.get(f"/verify-email?token={token[:-6]}")
    assert page.status_code == 400 and "Ask for a new link" in page.text

    clock.advance(timedelta(hours=48, seconds=1))
    expired = await client.post("/api/v1/auth/verify-email", json={"token": token})
    assert (expired.status_code, expired.json()["code"]) == (410, "link_expired")
    page = await client.get(f"/verify-email?token={token}")
    assert page.status_code == 410 and "Ask for a new link" in page.text
    assert (await me(client, person))["email_verified"] is False

    resent = await client.post("/api/v1/auth/verify-email/resend", headers=person["headers"])
    assert resent.status_code == 202, resent.text
    await worker.send_mail()
    fresh = smtp.to("bo@example.org")[-1]
    assert (await client.post("/api/v1/auth/verify-email", json={"token": token_of(fresh)})).status_code == 200
    assert (await me(client, person))["email_verified"] is True


async def test_resending_is_rate_limited(client, app, smtp):
    person = await register(client, "cy@example.org")
    answers = [(await client.post("/api/v1/auth/verify-email/resend", headers=person["headers"])).status_code for _ in range(6)]
    assert answers == [202] * 5 + [429]


async def test_signing_up_again_tells_the_owner_and_answers_as_for_a_new_address(client, app, smtp, worker):
    await register(client, "dee@example.org", name="Dee")
    again = await client.post("/api/v1/auth/register", json={"email": "DEE@example.org", "password": NEW_PASSWORD, "display_name": "X"})
    new = await client.post("/api/v1/auth/register", json={"email": "eve@example.org", "password": NEW_PASSWORD, "display_name": "Eve"})
    assert again.status_code == new.status_code == 202
    assert again.json()["detail"] == new.json()["detail"]
    await worker.send_mail()
    subjects = sorted(str(mail["Subject"]) for mail in smtp.to("dee@example.org"))  # sent in one round, in any order
    assert subjects == ["Confirm your email address for CoGov", "You already have a CoGov account"]
    await signed_in(client, "dee@example.org")  # the first password still applies


async def test_password_reset_signs_out_everywhere_and_a_newer_link_voids_the_older(client, app, smtp, worker, clock):
    person = await register(client, "fay@example.org")
    other_device = await signed_in(client, "fay@example.org")
    await worker.send_mail()  # the verification mail first: one mail per round keeps them in order
    for _ in range(2):
        answer = await client.post("/api/v1/auth/forgot-password", json={"email": "Fay@Example.org"})
        assert answer.status_code == 202
        await worker.send_mail()
    first, second = smtp.to("fay@example.org")[1:]
    assert first["Subject"] == second["Subject"] == "Reset your CoGov password"

    older = await client.post("/api/v1/auth/reset-password", json={"token": token_of(first), "password": NEW_PASSWORD})
    assert (older.status_code, older.json()["code"]) == (410, "link_used")
    weak = await client.post("/api/v1/auth/reset-password", json={"token": token_of(second), "password": "short"})
    assert weak.status_code == 422
    done = await client.post("/api/v1/auth/reset-password", json={"token": token_of(second), "password": NEW_PASSWORD})
    assert done.status_code == 204, done.text

    for device in (person, other_device):
        assert (await client.get("/api/v1/me", headers=device["headers"])).status_code == 401
    assert (await client.post("/api/v1/auth/token", data={"username": "fay@example.org", "password": PASSWORD})).status_code == 401
    renewed = await signed_in(client, "fay@example.org", NEW_PASSWORD)
    assert (await me(client, renewed))["email_verified"] is True  # the link went to the address: it is proven
    used = await client.post("/api/v1/auth/reset-password", json={"token": token_of(second), "password": "yet another long passphrase"})
    assert (used.status_code, used.json()["code"]) == (410, "link_used")

    await client.post("/api/v1/auth/forgot-password", json={"email": "fay@example.org"})
    await worker.send_mail()
    clock.advance(timedelta(hours=1, seconds=1))
    late = await client.post("/api/v1/auth/reset-password", json={"token": token_of(smtp.to("fay@example.org")[-1]), "password": PASSWORD})
    assert (late.status_code, late.json()["code"]) == (410, "link_expired")
    await signed_in(client, "fay@example.org", NEW_PASSWORD)


async def test_a_reset_for_an_unknown_address_answers_the_same(client, app, smtp, worker):
    await register(client, "gil@example.org")
    known = await client.post("/api/v1/auth/forgot-password", json={"email": "gil@example.org"})
    unknown = await client.post("/api/v1/auth/forgot-password", json={"email": "nobody@example.org"})
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
    await worker.send_mail()
    [told] = smtp.to("nobody@example.org")
    assert "no CoGov account uses this address" in told.get_body(("plain",)).get_content()
    assert "token=" not in told.get_body(("plain",)).get_content()


async def test_changing_address_needs_the_new_one_proven_and_tells_the_old(client, app, smtp, worker):
    person = await register(client, "hal@example.org", name="Hal")
    await register(client, "taken@example.org", name="Other")
    await worker.send_mail()
    before = len(smtp.received)

    taken = await client.put("/api/v1/me/email", json={"email": "Taken@example.org"}, headers=person["headers"])
    assert (taken.status_code, taken.json()["code"]) == (409, "email_taken")
    assert await worker.send_mail() == 0 and len(smtp.received) == before  # nothing mailed to anyone

    asked = await client.put("/api/v1/me/email", json={"email": "hal@new.example.org"}, headers=person["headers"])
    assert asked.status_code == 202, asked.text
    assert (await me(client, person))["email"] == "hal@example.org"  # not before the new address is proven
    await worker.send_mail()
    [told] = [mail for mail in smtp.to("hal@example.org") if "being changed" in str(mail["Subject"])]
    assert "hal@new.example.org" in told.get_body(("plain",)).get_content()
    [confirm] = smtp.to("hal@new.example.org")
    confirmed = await client.post("/api/v1/auth/confirm-email", json={"token": token_of(confirm)})
    assert confirmed.status_code == 200, confirmed.text
    assert (confirmed.json()["email"], confirmed.json()["email_verified"]) == ("hal@new.example.org", True)
    await signed_in(client, "hal@new.example.org")
    again = await client.post("/api/v1/auth/confirm-email", json={"token": token_of(confirm)})
    assert (again.status_code, again.json()["code"]) == (410, "link_used")


async def test_line_breaks_in_names_and_addresses_are_refused(client, app, smtp):
    from services.mail.message import HeaderInjection, compose

    for name in ("Ama\r\nBcc: victim@example.org", "Ama\nBcc: victim@example.org"):
        response = await client.post("/api/v1/auth/register", json={"email": "inj@example.org", "password": PASSWORD, "display_name": name})
        assert response.status_code == 422, response.text
    response = await client.post("/api/v1/auth/forgot-password", json={"email": "a@example.org\r\nBcc: victim@example.org"})
    assert response.status_code == 422
    assert await outbox(app) == []
    with pytest.raises(HeaderInjection):
        compose(
            kind="verify_email", recipient="a@example.org", name="A\r\nBcc: b@example.org", sender="c@example.org", context={}, now=None
        )


async def test_smtp_down_the_act_succeeds_and_the_mail_goes_once_when_it_is_back(client, app, smtp, worker, clock):
    smtp.stop()
    await register(client, "ivy@example.org")
    assert await worker.send_mail() == 1
    [waiting] = await outbox(app)
    assert waiting.status is MailStatus.pending and "cannot reach the SMTP server" in waiting.last_error
    smtp.start()
    assert await worker.send_mail() == 0  # not before its backoff
    clock.advance(timedelta(minutes=1))
    assert await worker.send_mail() == 1
    clock.advance(timedelta(hours=2))
    assert await worker.send_mail() == 0
    assert len(smtp.to("ivy@example.org")) == 1
    [sent] = await outbox(app)
    assert sent.status is MailStatus.sent


async def test_a_permanent_refusal_marks_the_address_bounced(client, app, smtp, worker):
    smtp.refused.add("gone@example.org")
    person = await register(client, "gone@example.org")
    await worker.send_mail()
    [bounced] = await outbox(app)
    assert bounced.status is MailStatus.bounced and "550" in bounced.last_error
    assert (await me(client, person))["email_bounced_at"] is not None
    assert smtp.received == []


async def test_each_act_is_audited_without_its_token(client, app, smtp, worker, audit_events):
    person = await register(client, "jo@example.org")
    await worker.send_mail()
    assert (await client.post("/api/v1/auth/verify-email/resend", headers=person["headers"])).status_code == 202
    await worker.send_mail()
    verify_token = token_of(smtp.to("jo@example.org")[0])
    await client.post("/api/v1/auth/verify-email", json={"token": verify_token})
    await client.post("/api/v1/auth/forgot-password", json={"email": "jo@example.org"})
    await worker.send_mail()
    await client.put("/api/v1/me/email", json={"email": "jo@new.example.org"}, headers=person["headers"])
    await worker.send_mail()
    reset_token = token_of(smtp.to("jo@example.org")[2])
    change_token = token_of(smtp.to("jo@new.example.org")[0])
    assert (await client.post("/api/v1/auth/reset-password", json={"token": reset_token, "password": NEW_PASSWORD})).status_code == 204
    assert (await client.post("/api/v1/auth/confirm-email", json={"token": change_token})).status_code == 200

    events = await audit_events(target_type="participant")
    actions = [event["action"] for event in events]
    for action in (
        "participant.registered",
        "participant.email_verification_resent",
        "participant.email_verified",
        "participant.password_reset_requested",
        "participant.email_change_requested",
        "participant.email_changed",
        "participant.password_reset",
    ):
        assert action in actions, actions
    text = str(events)
    for secret in (verify_token, reset_token, change_token, NEW_PASSWORD, PASSWORD):
        assert secret not in text
