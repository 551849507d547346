"""Checking a domain's TXT record asks DNS with no transaction open: while a slow DNS server has not answered,
other members' writes go through (on SQLite the check would otherwise hold the database's only write lock)."""

from __future__ import annotations

import asyncio

import pytest

from tests.networks.dns_server import DnsServer, Held
from tests.networks.test_verification_api import badge, person


@pytest.fixture(scope="module")
def dns_server():
    server = DnsServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings_overrides(dns_server) -> dict:
    # Long enough that the held answer arrives before the resolver gives up, once the test lets it go.
    return {"dns_nameservers": [dns_server.nameserver], "dns_timeout_seconds": 10.0}


async def test_other_members_write_while_a_domain_check_waits_for_dns(client, sign_up, dns_server):
    ana = await person(client, sign_up, "Ana", "ana@anatel.gov.br", "government", "BR", "Anatel")
    bia = await person(client, sign_up, "Bia", "bia@nupef.org.br", "civil_society", "BR", "Nupef")
    claimed = await client.post("/api/v1/organisations/anatel/domains", json={"domain": "anatel.gov.br"}, headers=ana["headers"])
    assert claimed.status_code == 201, claimed.text
    dns_server.zone.txt["anatel.gov.br"] = [claimed.json()["txt_record"]]
    held = dns_server.zone.held["anatel.gov.br"] = Held()

    check = asyncio.create_task(client.post("/api/v1/organisations/anatel/domains/anatel.gov.br/check", headers=ana["headers"]))
    assert await asyncio.to_thread(held.asked.wait, 60), "the check never asked DNS"
    # DNS has been asked and has not answered: another member writes meanwhile.
    write = asyncio.create_task(client.post("/api/v1/organisations/nupef/domains", json={"domain": "nupef.org.br"}, headers=bia["headers"]))
    done, _ = await asyncio.wait({check, write}, return_when=asyncio.FIRST_COMPLETED)
    assert write in done and check not in done, "the member's write waited for the domain check's DNS answer"
    assert write.result().status_code == 201, write.result().text

    held.answer.set()
    checked = await check
    assert checked.status_code == 200, checked.text
    assert checked.json()["status"] == "verified"
    assert await badge(client, ana) == "verified by domain anatel.gov.br"
