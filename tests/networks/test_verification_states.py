"""Stored verification: what checks read (each participant's stored verification) is what the rule gives from the
evidence, after every act that can change it, including for those whose verification rests on another's by a
chain of vouches; and the states are kept with the act's commit."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from networks import evidence
from networks.models import VerificationRun, VerificationState
from services.accounts import service as accounts
from services.accounts.models import Role
from services.kit.db import transaction
from tests.fixtures.accounts import enrol_two_factor
from tests.networks.dns_server import DnsServer
from tests.networks.test_verification_api import badge, person, prove_domain


@pytest.fixture(scope="module")
def dns_server():
    server = DnsServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings_overrides(dns_server) -> dict:
    return {"dns_nameservers": [dns_server.nameserver], "dns_timeout_seconds": 1.0}


async def stored_words(app, people: dict[str, dict]) -> dict[str, str]:
    """Everyone's verification in the stored words a ballot freezes, after checking that it is stored and equals the
    rule's answer, in the words the rule's answer gives with everyone's names now."""
    async with app.state.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(VerificationRun)) == 1
        stored = await evidence.verdicts(session, None)
        computed = await evidence.computed(session, None)
        assert stored.evidence == computed.evidence
        words = dict((await session.execute(select(VerificationState.participant_id, VerificationState.words))).tuples().all())
        assert words == {participant: computed.words(participant) for participant in computed.evidence}
        return {name: words.get(uuid.UUID(who["id"]), "unverified") for name, who in people.items()}


async def test_stored_verification_follows_every_act_down_the_vouch_chains(client, sign_up, app, dns_server):
    ana = await person(client, sign_up, "Ana", "ana@nupef.org.br", "civil_society", "BR", "Nupef")
    bia = await person(client, sign_up, "Bia", "bia@idec.org.br", "civil_society", "BR", "Idec")
    eva = await person(client, sign_up, "Eva", "eva@example.org", "civil_society", "KE")  # an independent expert
    zoe = await person(client, sign_up, "Zoe", "zoe@kictanet.example", "civil_society", "KE", "KICTANet")
    people = {"Ana": ana, "Bia": bia, "Eva": eva, "Zoe": zoe}
    assert await badge(client, eva) == "unverified"  # the first check stores everyone's verification
    assert (await prove_domain(client, dns_server, ana, "nupef", "nupef.org.br"))["status"] == "verified"
    assert (await prove_domain(client, dns_server, bia, "idec", "idec.org.br"))["status"] == "verified"
    assert await stored_words(app, people) == {
        "Ana": "verified by domain nupef.org.br",
        "Bia": "verified by domain idec.org.br",
        "Eva": "unverified",
        "Zoe": "unverified",
    }

    async def vouch(voucher, candidate):
        done = await client.post(f"/api/v1/participants/{candidate['id']}/vouch", headers=voucher["headers"])
        assert done.status_code == 201, done.text

    # A chain: Ana and Bia vouch for Eva; Eva (now verified) and Ana vouch for Zoe.
    await vouch(ana, eva)
    await vouch(bia, eva)
    await vouch(eva, zoe)
    await vouch(ana, zoe)
    assert (await stored_words(app, people))["Zoe"] == "vouched by Eva and Ana"

    # A voucher renamed: the words that name her follow.
    renamed = await client.patch("/api/v1/me", json={"display_name": "Eva Wanjiru"}, headers=eva["headers"])
    assert renamed.status_code == 200, renamed.text
    assert (await stored_words(app, people))["Zoe"] == "vouched by Eva Wanjiru and Ana"

    # Bia withdraws: Eva lapses, and so does Zoe, whose verification rested on Eva's.
    withdrawn = await client.delete(f"/api/v1/participants/{eva['id']}/vouch", headers=bia["headers"])
    assert withdrawn.status_code == 200, withdrawn.text
    words = await stored_words(app, people)
    assert (words["Eva"], words["Zoe"]) == ("unverified", "unverified")

    # A registrar verifies Eva: Zoe is verified again by the same vouches; a revocation undoes both.
    rita = await person(client, sign_up, "Rita", "rita@example.org", "technical_academic", "JP")
    async with transaction(app.state.sessionmaker) as session:
        await accounts.grant_role(
            session, app.state.password_hashing, email=rita["email"], role=Role.registrar, password=None, display_name=None
        )
    rita = await enrol_two_factor(client, rita, app.state.clock.now())
    done = await client.post(f"/api/v1/participants/{eva['id']}/registrar-verification", json={"note": "MAG list"}, headers=rita["headers"])
    assert done.status_code == 201, done.text
    words = await stored_words(app, people)
    assert (words["Eva"], words["Zoe"]) == ("verified by registrar Rita", "vouched by Eva Wanjiru and Ana")
    renamed = await client.patch("/api/v1/me", json={"display_name": "Rita Sato"}, headers=rita["headers"])
    assert renamed.status_code == 200, renamed.text
    assert (await stored_words(app, people))["Eva"] == "verified by registrar Rita Sato"
    revoked = await client.post(f"/api/v1/participants/{eva['id']}/revocation", json={"note": "not listed"}, headers=rita["headers"])
    assert revoked.status_code == 201, revoked.text
    words = await stored_words(app, people)
    assert (words["Eva"], words["Zoe"]) == ("unverified", "unverified")

    # Ana moves to Idec, whose domain her address is not at: she is unverified, and her vouch for Zoe counts no more.
    await vouch(bia, zoe)
    assert (await stored_words(app, people))["Zoe"] == "vouched by Ana and Bia"
    moved = await client.put(
        "/api/v1/me/affiliation",
        json={"stakeholder_group": "civil_society", "country": "BR", "organisation": "Idec"},
        headers=ana["headers"],
    )
    assert moved.status_code == 200, moved.text
    words = await stored_words(app, people)
    assert (words["Ana"], words["Zoe"]) == ("unverified", "unverified")
