"""Organisation domains: what may be claimed (422 otherwise), IDNA storage, and the TXT check against a real DNS server."""

from __future__ import annotations

import pytest

from networks import domains
from networks.domains import CheckOutcome, DomainInvalid
from tests.networks.dns_server import DnsServer

REFUSED = domains.webmail_domains()


@pytest.fixture(scope="module")
def dns_server():
    server = DnsServer()
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize(
    ("raw", "stored"),
    [("anatel.gov.br", "anatel.gov.br"), ("  Anatel.GOV.br. ", "anatel.gov.br"), ("bücher.example", "xn--bcher-kva.example")],
)
def test_domains_are_stored_in_idna_form_and_shown_in_unicode(raw, stored):
    assert domains.parse_domain(raw, REFUSED) == stored
    assert domains.display(stored) == raw.strip().rstrip(".").lower()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("gmail.com", "webmail"),
        ("mail.yahoo.com", "webmail"),
        ("yopmail.com", "disposable"),
        ("192.0.2.1", "IP address"),
        ("[2001:db8::1]", "IP address"),
        ("localhost", "two parts"),
        ("bad_name.org", "not a valid domain"),
        ("-lead.org", "not a valid domain"),
        ("someone@anatel.gov.br", "not a domain"),
        ("a" * 64 + ".org", "not a valid domain"),
        (("abcdefghij." * 25) + "org", "at most 253"),
        ("", "A domain is needed"),
    ],
)
def test_unusable_domains_are_refused_with_the_reason(raw, reason):
    with pytest.raises(DomainInvalid) as refused:
        domains.parse_domain(raw, REFUSED)
    assert refused.value.status_code == 422
    assert reason in refused.value.detail


def test_the_list_can_be_replaced_by_a_file(tmp_path):
    listing = tmp_path / "webmail.txt"
    listing.write_text("# ours\nexample-mail.org\n")
    refused = domains.webmail_domains(listing)
    with pytest.raises(DomainInvalid):
        domains.parse_domain("example-mail.org", refused)
    assert domains.parse_domain("gmail.com", refused) == "gmail.com"


async def test_a_published_token_verifies(dns_server):
    dns_server.zone.txt["anatel.gov.br"] = ["v=spf1 -all", "cogov-verification=abc123"]
    check = await domains.check(domains.resolver([dns_server.nameserver], 2.0), "anatel.gov.br", "abc123")
    assert check.outcome is CheckOutcome.verified


async def test_an_idn_domain_is_asked_in_punycode(dns_server):
    dns_server.zone.txt["xn--bcher-kva.example"] = ["cogov-verification=t1"]
    check = await domains.check(domains.resolver([dns_server.nameserver], 2.0), "xn--bcher-kva.example", "t1")
    assert check.outcome is CheckOutcome.verified


async def test_no_record_or_another_token_does_not_verify(dns_server):
    dns_server.zone.txt["acme.example"] = ["v=spf1 -all"]
    dns_server.zone.txt["other.example"] = ["cogov-verification=someone-else"]
    resolver = domains.resolver([dns_server.nameserver], 2.0)
    absent = await domains.check(resolver, "acme.example", "mine")
    wrong = await domains.check(resolver, "other.example", "mine")
    missing = await domains.check(resolver, "nowhere.example", "mine")
    assert (absent.outcome, wrong.outcome, missing.outcome) == (CheckOutcome.absent, CheckOutcome.wrong_token, CheckOutcome.absent)
    assert "another token" in wrong.message


async def test_timeout_and_servfail_are_could_not_check_yet(dns_server):
    dns_server.zone.silent.add("slow.example")
    dns_server.zone.failing.add("broken.example")
    resolver = domains.resolver([dns_server.nameserver], 0.5)
    slow = await domains.check(resolver, "slow.example", "t")
    broken = await domains.check(resolver, "broken.example", "t")
    assert slow.outcome is CheckOutcome.not_yet and "could not check yet" in slow.message
    assert broken.outcome is CheckOutcome.not_yet
