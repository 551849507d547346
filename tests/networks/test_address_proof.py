"""Verification by an address at one's organisation, proven by a mailed link, through a real SMTP server (aiosmtpd):
a person who signs in with another address asks for a link to their work address, opens it, and is verified by
the organisation's domain. Forged links are 400, expired and used ones 410, each on a page saying so; an address
proves one account only, so one mailbox cannot verify a second account."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.accounts import service as accounts
from services.accounts.models import Role
from services.kit.db import transaction
from tests.fixtures.accounts import PASSWORD, enrol_two_factor
from tests.fixtures.mail import link_of, path_of, token_of
from tests.web.test_ballot_pages import _csrf, browser

WORK = "ana.souza@anatel.gov.br"


@pytest.fixture
def settings_overrides(smtp) -> dict:
    return {"smtp_url": smtp.url, "mail_from": "CoGov <cogov@example.org>", "base_url": "http://cogov.test"}


async def person(client, sign_up, name: str, email: str, group: str, country: str, organisation: str | None) -> dict:
    who = await sign_up(name, email=email)
    body = {"stakeholder_group": group, "country": country, "organisation": organisation}
    response = await client.put("/api/v1/me/affiliation", json=body, headers=who["headers"])
    assert response.status_code == 200, response.text
    return who


async def badge(client, who) -> str:
    return (await client.get(f"/api/v1/participants/{who['id']}/verification")).json()["verification"]["words"]


async def ask(client, who, email: str):
    return await client.post("/api/v1/me/address-proofs", json={"email": email}, headers=who["headers"])


async def confirm(client, token: str):
    return await client.post("/api/v1/address-proofs/confirm", json={"token": token})


@pytest.fixture
async def anatel(client, app, sign_up) -> dict:
    """Anatel with anatel.gov.br proven (a registrar confirmed it by hand); Ana of Anatel signs in with another address."""
    ana = await person(client, sign_up, "Ana", "ana@example.org", "government", "BR", "Anatel")
    claimed = await client.post("/api/v1/organisations/anatel/domains", json={"domain": "anatel.gov.br"}, headers=ana["headers"])
    assert claimed.status_code == 201, claimed.text
    rita = await person(client, sign_up, "Rita", "rita@example.org", "technical_academic", "JP", None)
    async with transaction(app.state.sessionmaker) as session:
        await accounts.grant_role(
            session, app.state.password_hashing, email=rita["email"], role=Role.registrar, password=None, display_name=None
        )
    rita = await enrol_two_factor(client, rita, app.state.clock.now())
    confirmed = await client.post(
        "/api/v1/organisations/anatel/domains/anatel.gov.br/confirm", json={"note": "Anatel's published contacts"}, headers=rita["headers"]
    )
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "verified", confirmed.text
    return ana | {"registrar": rita}


async def test_a_mailed_link_to_a_work_address_verifies_the_affiliation(client, app, sign_up, smtp, worker, anatel):
    ana = anatel
    assert await badge(client, ana) == "unverified"

    # Only an address at the organisation's proven domain can verify; independent experts have none.
    for wrong in ("ana@other.org", "ana@example.org", "ana@anatel.gov.br.evil.example"):
        refused = await ask(client, ana, wrong)
        assert (refused.status_code, refused.json()["code"]) == (422, "address_cannot_verify"), wrong
        assert "anatel.gov.br" in refused.json()["detail"]
    eva = await person(client, sign_up, "Eva", "eva@example.org", "civil_society", "KE", None)
    refused = await ask(client, eva, "eva@anatel.gov.br")
    assert (refused.status_code, refused.json()["code"]) == (422, "address_cannot_verify")
    await worker.send_mail()
    assert not [mail for mail in smtp.received if "anatel.gov.br" in str(mail["To"])]

    # The link goes to the work address, not the sign-in one; opening the page changes nothing.
    asked = await ask(client, ana, WORK.upper())
    assert asked.status_code == 202, asked.text
    await worker.send_mail()
    [mail] = smtp.to(WORK)
    assert mail["Subject"] == "Prove your organisation's address for CoGov"
    assert smtp.envelopes[-1] == ("cogov@example.org", [WORK])
    assert "Prove your organisation's address for CoGov" not in [str(sent["Subject"]) for sent in smtp.to("ana@example.org")]
    link = link_of(mail)
    assert link.startswith("http://cogov.test/prove-address?token=")
    page = await client.get(path_of(link))
    assert page.status_code == 200 and "Prove this address" in page.text and WORK in page.text
    assert await badge(client, ana) == "unverified"

    proven = await confirm(client, token_of(mail))
    assert proven.status_code == 200, proven.text
    assert proven.json()["verification"]["words"] == "verified by domain anatel.gov.br"
    audit = (await client.get("/api/v1/audit", params={"limit": 200})).json()["items"]
    assert {"participant.address_proof_requested", "participant.address_proven"} <= {event["action"] for event in audit}
    assert WORK not in str(audit)  # the address stays private, but is in the person's own export
    exported = (await client.get("/api/v1/me/export", headers=ana["headers"])).json()["account"]["proven_addresses"]
    assert [item["email"] for item in exported] == [WORK]

    # Used: 410, on the page too, with where to ask for a new one; nothing changes.
    again = await confirm(client, token_of(mail))
    assert (again.status_code, again.json()["code"]) == (410, "link_used")
    page = await client.get(path_of(link))
    assert page.status_code == 410 and 'href="/verification"' in page.text and "Nothing was changed" in page.text
    already = await ask(client, ana, WORK)
    assert (already.status_code, already.json()["code"]) == (409, "already_verified")


async def test_forged_and_expired_links_change_nothing(client, app, sign_up, smtp, worker, clock, anatel):
    ana = anatel
    assert (await ask(client, ana, WORK)).status_code == 202
    await worker.send_mail()
    token = token_of(smtp.to(WORK)[0])

    for bad in (token[:-6], token[:20], token[:-1] + ("A" if token[-1] != "A" else "B"), "not-a-token"):
        response = await confirm(client, bad)
        assert (response.status_code, response.json()["code"]) == (400, "link_invalid"), bad
    page = await client.get(f"/prove-address?token={token[:-6]}")
    assert page.status_code == 400 and 'href="/verification"' in page.text
    # A token of another kind of link (an address confirmation) is no proof of this address either.
    await client.put("/api/v1/me/email", json={"email": "ana.new@example.org"}, headers=ana["headers"])
    await worker.send_mail()
    other = token_of(smtp.to("ana.new@example.org")[0])
    assert (await confirm(client, other)).status_code == 400

    clock.advance(timedelta(hours=48, seconds=1))
    expired = await confirm(client, token)
    assert (expired.status_code, expired.json()["code"]) == (410, "link_expired")
    page = await client.get(f"/prove-address?token={token}")
    assert page.status_code == 410 and "This link no longer works" in page.text
    assert await badge(client, ana) == "unverified"


async def test_one_mailbox_verifies_one_account(client, app, sign_up, smtp, worker, anatel):
    ana = anatel
    assert (await ask(client, ana, WORK)).status_code == 202
    await worker.send_mail()
    assert (await confirm(client, token_of(smtp.to(WORK)[0]))).status_code == 200

    # A second account of Anatel cannot prove the same address, nor sign up with it.
    bob = await person(client, sign_up, "Bob", "bob@example.org", "government", "BR", "Anatel")
    taken = await ask(client, bob, WORK)
    assert (taken.status_code, taken.json()["code"]) == (409, "email_taken")
    signed_up = await client.post("/api/v1/auth/register", json={"email": WORK, "password": PASSWORD, "display_name": "Bob again"})
    assert signed_up.status_code == 202
    await worker.send_mail()
    assert str(smtp.to("ana@example.org")[-1]["Subject"]) == "You already have a CoGov account"  # its owner is told
    assert (await client.post("/api/v1/auth/token", data={"username": WORK, "password": PASSWORD})).status_code == 401
    assert await badge(client, bob) == "unverified"
    changed = await client.put("/api/v1/me/email", json={"email": WORK}, headers=bob["headers"])
    assert (changed.status_code, changed.json()["code"]) == (409, "email_taken")


async def test_the_verification_page_asks_for_the_link_and_the_link_page_proves_it(client, app, smtp, worker, anatel):
    ana = anatel
    async with browser(app, ana) as page:
        mine = await page.get("/verification")
        assert "Your address at anatel.gov.br" in mine.text
        sent = await page.post("/verification/address", data={"csrf_token": _csrf(mine.text), "email": WORK})
        assert sent.status_code == 303
        await worker.send_mail()
        link = link_of(smtp.to(WORK)[0])
        opened = await page.get(path_of(link))
        assert opened.status_code == 200
        proven = await page.post("/prove-address", data={"csrf_token": _csrf(opened.text), "token": token_of(smtp.to(WORK)[0])})
        assert (proven.status_code, proven.headers["location"]) == (303, "/verification")
        after = await page.get("/verification")
        assert "verified by domain anatel.gov.br" in after.text and WORK in after.text
        used = await page.post("/prove-address", data={"csrf_token": _csrf(opened.text), "token": token_of(smtp.to(WORK)[0])})
        assert used.status_code == 410 and 'href="/verification"' in used.text


async def test_a_proven_work_address_makes_a_network_active(client, app, sign_up, smtp, worker, anatel):
    ana, rita = anatel, anatel["registrar"]
    dan = await person(client, sign_up, "Dan", "dan@example.org", "private_sector", "DE", "Acme GmbH")
    kofi = await person(client, sign_up, "Kofi", "kofi@example.org", "civil_society", "GH", "Paradigm Initiative")
    for who in (dan, kofi):
        decided = await client.post(
            f"/api/v1/participants/{who['id']}/registrar-verification", json={"note": "Accreditation list"}, headers=rita["headers"]
        )
        assert decided.status_code == 201, decided.text
    founded = await client.post(
        "/api/v1/networks",
        json={
            "name": "Spectrum sharing",
            "issue": "Spectrum for community networks.",
            "aims": "A norm.",
            "intended_outcome": "A norm.",
            "charter": {"required_groups": ["government", "private_sector", "civil_society"], "min_regions": 3},
        },
        headers=ana["headers"],
    )
    assert founded.status_code == 201, founded.text
    slug = founded.json()["slug"]
    for who in (dan, kofi):
        assert (await client.post(f"/api/v1/networks/{slug}/join", headers=who["headers"])).status_code == 201
    assert (await client.get(f"/api/v1/networks/{slug}")).json()["status"] == "forming"  # Ana, unverified, does not count

    assert (await ask(client, ana, WORK)).status_code == 202
    await worker.send_mail()
    assert (await confirm(client, token_of(smtp.to(WORK)[0]))).status_code == 200
    assert (await client.get(f"/api/v1/networks/{slug}")).json()["status"] == "active"


async def test_the_registrar_s_queue_shows_each_one_s_evidence_so_far(client, sign_up, anatel):
    """The queue names, for each affiliation waiting, who vouched so far and its organisation's proven domains."""
    rita = anatel["registrar"]
    await person(client, sign_up, "Bruno", "bruno@example.org", "government", "BR", "Anatel")
    caio = await person(client, sign_up, "Caio", "caio@example.org", "civil_society", "KE", "KICTANet")
    eva = await person(client, sign_up, "Eva", "eva@example.org", "civil_society", "KE", None)
    verified = await client.post(
        f"/api/v1/participants/{caio['id']}/registrar-verification", json={"note": "KICTANet's board"}, headers=rita["headers"]
    )
    assert verified.status_code == 201, verified.text
    vouched = await client.post(f"/api/v1/participants/{eva['id']}/vouch", headers=caio["headers"])
    assert vouched.status_code == 201, vouched.text
    queue = await client.get("/api/v1/registrar/queue", headers=rita["headers"])
    assert queue.status_code == 200, queue.text
    waiting = {item["name"]: item for item in queue.json()}
    assert "Caio" not in waiting  # verified: no longer waiting
    assert waiting["Ana"]["organisation"] == "Anatel" and waiting["Ana"]["evidence"]["vouched_by"] == []
    assert waiting["Ana"]["evidence"]["organisation_domains"] == waiting["Bruno"]["evidence"]["organisation_domains"] == ["anatel.gov.br"]
    assert waiting["Eva"]["evidence"]["vouched_by"] == ["Caio"] and waiting["Eva"]["evidence"]["organisation_domains"] == []
