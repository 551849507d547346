"""Callback safety: http(s) only, no private addresses unless allowed, one overall timeout, 64 KiB read at most."""

from __future__ import annotations

import asyncio

import pytest

from services.clearinghouse.callbacks import MAX_RESPONSE_BYTES, CallbackClient, CallbackRefused, address_problem, check_url
from tests.clearinghouse.subscriber import Serving


@pytest.mark.parametrize(
    "address, problem",
    [
        ("127.0.0.1", "loopback"), ("::1", "loopback"), ("10.0.0.8", "private"), ("172.16.5.4", "private"),
        ("192.168.1.1", "private"), ("169.254.169.254", "link-local"), ("fe80::1", "link-local"), ("fc00::1", "private"),
        ("::ffff:127.0.0.1", "loopback"), ("0.0.0.0", "private"), ("100.64.0.1", "non-public"), ("224.0.0.1", "non-public"),
        ("93.184.215.14", None), ("2606:4700:4700::1111", None),
    ],
)
def test_address_ranges(address, problem):
    assert address_problem(address) == problem


@pytest.mark.parametrize(
    "url", ["ftp://example.org/", "file:///etc/passwd", "javascript:alert(1)", "/relative", "http://", "http://user:pw@example.org/",
            "http://example.org/#frag", "http://example.org:99999/", "https://example.org/" + "a" * 2000],
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
