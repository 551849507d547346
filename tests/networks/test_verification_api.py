"""Verified affiliations through the API: a domain proven by DNS (a real DNS server), vouching with every refusal,
a registrar's decision, and a network under verified_only that turns active only when its members are verified."""

from __future__ import annotations

import pytest

from services.accounts import service as accounts
from services.accounts.models import Role
from services.kit.db import transaction
from tests.fixtures.accounts import enrol_two_factor
from tests.networks.dns_server import DnsServer


@pytest.fixture(scope="module")
def dns_server():
    server = DnsServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings_overrides(dns_server) -> dict:
    return {"dns_nameservers": [dns_server.nameserver], "dns_timeout_seconds": 1.0}


async def person(client, sign_up, name, email, group, country, organisation=None) -> dict:
    who = await sign_up(name, email=email)
    body = {"stakeholder_group": group, "country": country, "organisation": organisation}
    response = await client.put("/api/v1/me/affiliation", json=body, headers=who["headers"])
    assert response.status_code == 200, response.text
    return who | {"organisation_slug": None}


async def prove_domain(client, dns_server, who, slug, domain) -> dict:
    claimed = await client.post(f"/api/v1/organisations/{slug}/domains", json={"domain": domain}, headers=who["headers"])
    assert claimed.status_code == 201, claimed.text
    dns_server.zone.txt[claimed.json()["idna"]] = [claimed.json()["txt_record"]]
    checked = await client.post(f"/api/v1/organisations/{slug}/domains/{domain}/check", headers=who["headers"])
    assert checked.status_code == 200, checked.text
    return checked.json()


async def badge(client, who) -> str:
    return (await client.get(f"/api/v1/participants/{who['id']}/verification")).json()["verification"]["words"]


async def test_verification_by_domain_vouching_and_registrar_drives_formation(client, sign_up, app, dns_server):
    ana = await person(client, sign_up, "Ana", "ana@anatel.gov.br", "government", "BR", "Anatel")
    dan = await person(client, sign_up, "Dan", "dan@acme.example", "private_sector", "DE", "Acme GmbH")
    bia = await person(client, sign_up, "Bia", "bia@nupef.org.br", "civil_society", "BR", "Nupef")
    caio = await person(client, sign_up, "Caio", "caio@idec.org.br", "civil_society", "BR", "Idec")
    eva = await person(client, sign_up, "Eva", "eva@example.org", "civil_society", "KE")  # an independent expert

    # Webmail, IP literals and malformed names are refused; DNS not answering verifies nothing.
    for bad in ("gmail.com", "192.0.2.7", "not a domain"):
        refused = await client.post("/api/v1/organisations/anatel/domains", json={"domain": bad}, headers=ana["headers"])
        assert refused.status_code == 422 and refused.json()["code"] == "domain_invalid", refused.text
    claimed = await client.post("/api/v1/organisations/anatel/domains", json={"domain": "anatel.gov.br"}, headers=ana["headers"])
    dns_server.zone.failing.add("anatel.gov.br")
    not_yet = await client.post("/api/v1/organisations/anatel/domains/anatel.gov.br/check", headers=ana["headers"])
    assert not_yet.json()["status"] == "pending" and "could not check yet" in not_yet.json()["check_result"]
    dns_server.zone.failing.discard("anatel.gov.br")
    assert claimed.json()["txt_record"].startswith("cogov-verification=")
    assert await badge(client, ana) == "unverified"

    for who, slug, domain in (
        (ana, "anatel", "anatel.gov.br"),
        (dan, "acme-gmbh", "acme.example"),
        (bia, "nupef", "nupef.org.br"),
        (caio, "idec", "idec.org.br"),
    ):
        assert (await prove_domain(client, dns_server, who, slug, domain))["status"] == "verified"
    assert await badge(client, ana) == "verified by domain anatel.gov.br"

    # A network under verified_only (the default for new networks): Eva, unverified, does not count.
    founded = await client.post(
        "/api/v1/networks",
        json={
            "name": "Community networks",
            "issue": "Spectrum for community networks.",
            "aims": "A norm.",
            "intended_outcome": "A norm.",
            "charter": {"required_groups": ["government", "private_sector", "civil_society"], "min_regions": 3},
        },
        headers=ana["headers"],
    )
    assert founded.status_code == 201 and founded.json()["charter"]["verified_only"] is True
    slug = founded.json()["slug"]
    for who in (dan, eva):
        assert (await client.post(f"/api/v1/networks/{slug}/join", headers=who["headers"])).status_code == 201
    formation = (await client.get(f"/api/v1/networks/{slug}/formation")).json()
    assert formation["status"] == "forming" and formation["counted"] == 2 and formation["member_count"] == 3

    # Every way a vouch cannot count is refused with the reason.
    async def vouch(voucher, candidate):
        return await client.post(f"/api/v1/participants/{candidate['id']}/vouch", headers=voucher["headers"])

    assert (await vouch(eva, eva)).status_code == 403
    assert (await vouch(eva, dan)).json()["code"] == "verification_required"
    across = await vouch(ana, eva)
    assert across.status_code == 403 and "stakeholder group" in across.json()["detail"]
    asked = await client.post("/api/v1/me/vouch-requests", json={"asked": [bia["id"], caio["id"]]}, headers=eva["headers"])
    assert asked.status_code == 201, asked.text
    assert [r["name"] for r in (await client.get("/api/v1/me/vouch-requests", headers=bia["headers"])).json()] == ["Eva"]
    assert (await vouch(bia, eva)).status_code == 201
    assert (await vouch(bia, eva)).status_code == 409
    assert await badge(client, eva) == "unverified"  # one vouch of the two needed
    assert (await vouch(caio, eva)).status_code == 201
    assert await badge(client, eva) == "vouched by Bia and Caio"

    roster = (await client.get(f"/api/v1/networks/{slug}/members")).json()["items"]
    assert {m["name"]: m["verification"]["words"] for m in roster}["Eva"] == "vouched by Bia and Caio"
    assert (await client.get(f"/api/v1/networks/{slug}")).json()["status"] == "active"

    # Withdrawing a vouch lapses the verification, and the network drops back to forming.
    withdrawn = await client.delete(f"/api/v1/participants/{eva['id']}/vouch", headers=bia["headers"])
    assert withdrawn.status_code == 200 and withdrawn.json()["verification"]["words"] == "unverified"
    assert (await client.get(f"/api/v1/networks/{slug}")).json()["status"] == "forming"

    # A registrar: not over their own affiliation, a note required; their decision is public and audited.
    rita = await person(client, sign_up, "Rita", "rita@example.org", "technical_academic", "JP")
    async with transaction(app.state.sessionmaker) as session:
        await accounts.grant_role(
            session, app.state.password_hashing, email=rita["email"], role=Role.registrar, password=None, display_name=None
        )
    rita = await enrol_two_factor(client, rita, app.state.clock.now())
    own = await client.post(f"/api/v1/participants/{rita['id']}/registrar-verification", json={"note": "me"}, headers=rita["headers"])
    assert own.status_code == 403 and own.json()["code"] == "registrar_own_affiliation"
    blank = await client.post(f"/api/v1/participants/{eva['id']}/registrar-verification", json={"note": "  "}, headers=rita["headers"])
    assert blank.status_code == 422
    queue = (await client.get("/api/v1/registrar/queue", headers=rita["headers"])).json()
    assert "Eva" in [row["name"] for row in queue]
    done = await client.post(
        f"/api/v1/participants/{eva['id']}/registrar-verification",
        json={"note": "IGF MAG accreditation list 2026"},
        headers=rita["headers"],
    )
    assert done.status_code == 201 and done.json()["verification"]["words"] == "verified by registrar Rita"
    assert (await client.get(f"/api/v1/networks/{slug}")).json()["status"] == "active"
    revoked = await client.post(
        f"/api/v1/participants/{eva['id']}/revocation", json={"note": "not on the list after all"}, headers=rita["headers"]
    )
    assert revoked.json()["verification"]["words"] == "unverified"
    # Decided: the revoked (declined) affiliation leaves the registrar's queue.
    queue = (await client.get("/api/v1/registrar/queue", headers=rita["headers"])).json()
    assert "Eva" not in [row["name"] for row in queue]
    audit = (await client.get("/api/v1/audit", params={"limit": 200})).json()["items"]
    assert {"affiliation.registrar_verified", "affiliation.registrar_revoked", "affiliation.vouched", "affiliation.vouch_withdrawn"} <= {
        event["action"] for event in audit
    }
    # Anyone but a registrar is refused the registrar's acts.
    assert (
        await client.post(f"/api/v1/participants/{eva['id']}/revocation", json={"note": "x"}, headers=bia["headers"])
    ).status_code == 403


async def test_changing_the_affiliation_ends_its_verification(client, sign_up, dns_server):
    bia = await person(client, sign_up, "Bia", "bia@nupef.org.br", "civil_society", "BR", "Nupef")
    assert (await prove_domain(client, dns_server, bia, "nupef", "nupef.org.br"))["status"] == "verified"
    assert await badge(client, bia) == "verified by domain nupef.org.br"
    moved = await client.put("/api/v1/me/affiliation", json={"stakeholder_group": "civil_society", "country": "BR"}, headers=bia["headers"])
    assert moved.status_code == 200
    assert await badge(client, bia) == "unverified"


async def test_proposing_an_organisation_shows_near_duplicates_first(client, sign_up, dns_server):
    bia = await person(client, sign_up, "Bia", "bia@nupef.org.br", "civil_society", "BR", "Nupef")
    body = {"name": "ANATEL", "stakeholder_group": "government", "country": "BR", "domains": ["anatel.gov.br"]}
    unverified = await client.post("/api/v1/organisations", json=body, headers=bia["headers"])
    assert unverified.status_code == 403 and unverified.json()["code"] == "verification_required"
    await prove_domain(client, dns_server, bia, "nupef", "nupef.org.br")
    created = await client.post("/api/v1/organisations", json=body, headers=bia["headers"])
    assert created.status_code == 201, created.text
    same = await client.post("/api/v1/organisations", json=body | {"name": "Anatel.", "domains": []}, headers=bia["headers"])
    assert same.status_code == 409 and same.json()["code"] == "organisation_duplicate"
    shared = await client.post(
        "/api/v1/organisations", json=body | {"name": "Agência", "domains": ["anatel.gov.br"]}, headers=bia["headers"]
    )
    assert shared.status_code == 409
    similar = (await client.get("/api/v1/organisations/similar", params={"name": "Anatel Brazil"})).json()
    assert [item["name"] for item in similar] == ["ANATEL"]
    near = await client.post("/api/v1/organisations", json=body | {"name": "Anatel Brazil", "domains": []}, headers=bia["headers"])
    assert near.status_code == 409 and near.json()["code"] == "organisation_near_duplicates"
    distinct = await client.post(
        "/api/v1/organisations", json=body | {"name": "Anatel Brazil", "domains": [], "distinct": True}, headers=bia["headers"]
    )
    assert distinct.status_code == 201
