"""Callback safety: http(s) only, no private addresses unless allowed, one overall timeout, 64 KiB read at most."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.clearinghouse.callbacks import MAX_RESPONSE_BYTES, CallbackClient, CallbackRefused, address_problem, check_url
from tests.clearinghouse.subscriber import Serving


@pytest.mark.parametrize(
    "address, problem",
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.8", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("fc00::1", "unique local"),
        ("::ffff:127.0.0.1", "IPv4-mapped, embedding 127.0.0.1: loopback"),
        ("0.0.0.0", "this network"),
        ("100.64.0.1", "shared (carrier-grade NAT)"),
        ("224.0.0.1", "multicast"),
        ("192.0.0.8", "IETF protocol assignments"),
        ("192.0.0.9", "IETF protocol assignments"),
        ("2002:7f00:1::1", "6to4, embedding 127.0.0.1: loopback"),
        ("2002:a00:1::1", "6to4, embedding 10.0.0.1: private"),
        ("2002:c000:8::1", "6to4, embedding 192.0.0.8: IETF protocol assignments"),
        ("2002:808:808::1", "6to4"),
        ("64:ff9b::7f00:1", "NAT64, embedding 127.0.0.1: loopback"),
        ("64:ff9b::a9fe:a9fe", "NAT64, embedding 169.254.169.254: link-local"),
        ("64:ff9b:1::a00:1", "NAT64 local-use"),
        ("::7f00:1", "IPv4-compatible, embedding 127.0.0.1: loopback"),
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "Teredo, embedding 127.0.0.1: loopback"),
        ("2001:0:808:808:8000:63bf:f7f7:f7f7", "Teredo"),
        ("2001:db8::1", "documentation"),
        ("fec0::1", "site-local"),
        ("93.184.215.14", None),
        ("2606:4700:4700::1111", None),
        # The IPv4-mapped and NAT64 forms of a public address reach that address.
        ("::ffff:93.184.215.14", None),
        ("64:ff9b::5db8:d70e", None),
    ],
)
def test_address_ranges(address, problem):
    assert address_problem(address) == problem


def _non_global_ipv4() -> st.SearchStrategy[ipaddress.IPv4Address]:
    # Python's own view of non-global, plus the IETF protocol block Python 3.11 calls global.
    python = st.ip_addresses(v=4).filter(lambda ip: not ip.is_global)
    ietf = st.integers(0, 255).map(lambda low: ipaddress.IPv4Address(f"192.0.0.{low}"))
    return st.one_of(python, ietf)


def _embeddings(ipv4: ipaddress.IPv4Address, data) -> list[ipaddress.IPv6Address]:
    v4, rest = int(ipv4), data.draw(st.integers(0, 2**80 - 1))
    server = int(data.draw(st.ip_addresses(v=4)))
    flags_port = data.draw(st.integers(0, 2**32 - 1))
    return [
        ipaddress.IPv6Address((0xFFFF << 32) | v4),  # IPv4-mapped
        ipaddress.IPv6Address((0x64FF9B << 96) | v4),  # NAT64 well-known prefix
        ipaddress.IPv6Address((0x2002 << 112) | (v4 << 80) | rest),  # 6to4
        ipaddress.IPv6Address((0x20010000 << 96) | (server << 64) | (flags_port << 32) | (v4 ^ 0xFFFFFFFF)),  # Teredo client
        ipaddress.IPv6Address((0x20010000 << 96) | (v4 << 64) | (flags_port << 32) | server),  # Teredo server
        ipaddress.IPv6Address(v4),  # IPv4-compatible (deprecated)
    ]


@given(_non_global_ipv4(), st.data())
def test_an_address_embedding_a_non_global_ipv4_is_refused(ipv4, data):
    assert address_problem(str(ipv4)) is not None
    for address in _embeddings(ipv4, data):
        assert address_problem(str(address)) is not None, address


@given(st.ip_addresses(v=4))
def test_the_ipv4_mapped_and_nat64_forms_of_an_address_are_judged_as_that_address(ipv4):
    for form in (ipaddress.IPv6Address((0xFFFF << 32) | int(ipv4)), ipaddress.IPv6Address((0x64FF9B << 96) | int(ipv4))):
        assert (address_problem(str(form)) is None) == (address_problem(str(ipv4)) is None), form


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "/relative",
        "http://",
        "http://user:pw@example.org/",
        "http://example.org/#frag",
        "http://example.org:99999/",
        "https://example.org/" + "a" * 2000,
    ],
)
def test_only_plain_http_and_https_urls(url):
    with pytest.raises(CallbackRefused):
        check_url(url)


async def test_refused_addresses_are_refused_at_connection_time_too():
    client = CallbackClient(allow_private=False, timeout=2)
    try:
        reply = await client.request("POST", "http://127.0.0.1:9/cb", content=b"x")
        assert reply.status_code is None and "loopback" in reply.error
        reply = await client.request("GET", "http://localhost:9/cb")
        assert "loopback" in reply.error
    finally:
        await client.aclose()


async def test_responses_are_read_up_to_64_kib_and_exchanges_time_out():
    async def app(scope, receive, send):
        if scope["path"] == "/slow":
            await asyncio.sleep(5)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(100):  # 100 × 16 KiB, far past the cap
            await send({"type": "http.response.body", "body": b"x" * 16384, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    client = CallbackClient(allow_private=True, timeout=1)
    try:
        async with Serving(app) as base:
            big = await client.request("GET", f"{base}/big")
            assert big.status_code == 200 and len(big.body) == MAX_RESPONSE_BYTES
            slow = await client.request("GET", f"{base}/slow")
            assert slow.status_code is None and slow.error == "no answer within 1 s"
            redirect_free = await client.request("GET", "http://127.0.0.1:9/closed")
            assert redirect_free.status_code is None and "ConnectError" in redirect_free.error
    finally:
        await client.aclose()
