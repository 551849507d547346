"""Password guessing over real sockets, behind a proxy as `cogov serve` runs: 10 failed sign-ins a minute
per account or per client address, then 429 with Retry-After. A guesser cannot dodge the address
count by writing its own X-Forwarded-For: a trusted proxy appends the real address, and an
untrusted peer's header is ignored. (tests/ops/test_login_throttle.py covers the counting itself.)"""

from __future__ import annotations

import contextlib

import httpx
import pytest

from tests.fixtures.accounts import PASSWORD
from tests.fixtures.app import served as on_a_socket
from tests.fixtures.databases import ON_SQLITE

pytestmark = ON_SQLITE


@pytest.fixture(autouse=True)
def cheap_unknown_account_check(monkeypatch):
    """Sign-ins for unknown emails verify against a dummy hash of production cost; these tests make many."""
    from services.accounts import security

    monkeypatch.setattr(security, "_DUMMY_HASH", security._hasher.hash("not anyone's password"))


@contextlib.asynccontextmanager
async def served(app, forwarded_allow_ips: str):
    """The app on 127.0.0.1 as `cogov serve` runs it (proxy headers from `forwarded_allow_ips` only)."""
    async with on_a_socket(app, proxy_headers=True, forwarded_allow_ips=forwarded_allow_ips) as port:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            yield http


async def _sign_in(http: httpx.AsyncClient, email: str, password: str, forwarded: str | None = None) -> httpx.Response:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return await http.post("/api/v1/auth/token", data={"username": email, "password": password}, headers=headers)


def _throttled(response: httpx.Response) -> int:
    assert response.status_code == 429, response.text
    wait = int(response.headers["retry-after"])
    assert 1 <= wait <= 60 and response.json()["code"] == "rate_limited"
    return wait


async def test_a_guesser_behind_the_proxy_cannot_spoof_its_address(app, sign_up):
    owner = await sign_up("Owner")
    async with served(app, forwarded_allow_ips="127.0.0.1") as proxy:
        # The proxy (127.0.0.1, trusted) appends the guesser's real address to whatever it claimed.
        for n in range(10):
            refused = await _sign_in(proxy, f"target{n}@example.org", "guess", forwarded=f"192.0.2.{n + 1}, 198.51.100.7")
            assert refused.status_code == 401, refused.text
        _throttled(await _sign_in(proxy, owner["email"], PASSWORD, forwarded="192.0.2.77, 198.51.100.7"))
        # Another client behind the same proxy signs in.
        assert (await _sign_in(proxy, owner["email"], PASSWORD, forwarded="203.0.113.9")).status_code == 200


async def test_an_untrusted_peer_is_counted_by_its_socket_address(app, sign_up):
    owner = await sign_up("Owner")
    async with served(app, forwarded_allow_ips="10.255.255.1") as direct:  # 127.0.0.1 is no trusted proxy here
        for n in range(10):
            refused = await _sign_in(direct, f"target{n}@example.org", "guess", forwarded=f"192.0.2.{n + 1}")
            assert refused.status_code == 401, refused.text
        _throttled(await _sign_in(direct, owner["email"], PASSWORD, forwarded="198.51.100.200"))


async def test_one_account_guessed_from_many_addresses_is_locked(app, sign_up):
    victim, bystander = await sign_up("Victim"), await sign_up("Bystander")
    async with served(app, forwarded_allow_ips="127.0.0.1") as proxy:
        for n in range(10):
            refused = await _sign_in(proxy, victim["email"], f"guess {n}", forwarded=f"198.51.100.{n + 1}")
            assert refused.status_code == 401, refused.text
        wait = _throttled(await _sign_in(proxy, victim["email"], PASSWORD, forwarded="203.0.113.10"))
        page = await proxy.post(
            "/signin", data={"email": victim["email"], "password": PASSWORD}, headers={"X-Forwarded-For": "203.0.113.11"}
        )
        assert page.status_code in (403, 429)  # the page wants its CSRF token first; it never signs the victim in
        assert "cogov_session" not in page.headers.get("set-cookie", "")
        assert (await _sign_in(proxy, bystander["email"], PASSWORD, forwarded="203.0.113.10")).status_code == 200
    assert wait <= 60
