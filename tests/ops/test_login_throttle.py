"""Password guessing: 10 failed sign-ins a minute for one account, or from one address, and further attempts
answer 429 with Retry-After, a right password included, whatever else the guesser mixes in."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio as redis

from services.api.app import create_app
from tests.fixtures.accounts import PASSWORD
from tests.fixtures.databases import ON_SQLITE
from tests.fixtures.environment import service_unavailable
from tests.fixtures.ops import assert_rate_limited, from_address, sign_in
from tests.ops.test_rate_limits import REDIS_URL
from tests.web.test_pages import _token

pytestmark = ON_SQLITE


async def test_ten_failures_for_one_account_from_ten_addresses_lock_that_account_only(app, sign_up):
    victim, bystander = await sign_up("Victim"), await sign_up("Bystander")
    for n in range(10):
        refused = await sign_in(app, f"198.51.100.{n + 1}", victim["email"], f"guess number {n}")
        assert refused.status_code == 401 and refused.json()["code"] != "rate_limited"
    # The eleventh attempt, from yet another address and with the right password, waits too.
    wait = assert_rate_limited(await sign_in(app, "198.51.100.99", victim["email"], PASSWORD))
    assert wait <= 60
    # The account's email in another case is the same account.
    assert_rate_limited(await sign_in(app, "198.51.100.98", victim["email"].upper(), PASSWORD))
    assert (await sign_in(app, "198.51.100.99", bystander["email"], PASSWORD)).status_code == 200


async def test_ten_failures_from_one_address_across_accounts_lock_that_address_only(app, sign_up):
    known = await sign_up("Known Person")
    guesser = "203.0.113.50"
    emails = [f"nobody{n}@example.org" for n in range(4)] + [known["email"]] * 2
    for email in emails:
        assert (await sign_in(app, guesser, email, "wrong password!")).status_code == 401
    # A success in between (a password the guesser knows) resets nothing.
    assert (await sign_in(app, guesser, known["email"], PASSWORD)).status_code == 200
    for n in range(4):
        assert (await sign_in(app, guesser, f"other{n}@example.org", "wrong password!")).status_code == 401
    assert_rate_limited(await sign_in(app, guesser, known["email"], PASSWORD))
    assert_rate_limited(await sign_in(app, guesser, "fresh@example.org", "anything at all"))
    # The account itself has only 2 failures: from elsewhere its owner signs in.
    assert (await sign_in(app, "203.0.113.51", known["email"], PASSWORD)).status_code == 200


@pytest.mark.parametrize("email", ["", "x" * 20_000, "ünïcødé@exämple.org\x00", "' OR 1=1 --"])
async def test_hostile_emails_are_counted_like_any_other(app, email):
    for n in range(10):
        response = await sign_in(app, f"192.0.2.{n + 1}", email, "wrong password!")
        assert response.status_code in (401, 422), response.text
        if response.status_code == 422:
            return  # refused as malformed before any password check: nothing to guess
    assert_rate_limited(await sign_in(app, "192.0.2.200", email, "wrong password!"))


async def test_the_sign_in_page_is_throttled_too_and_says_so_in_html(app):
    async with from_address(app, "198.51.100.77") as browser:
        token = await _token(browser)
        for n in range(10):
            page = await browser.post("/signin", data={"csrf_token": token, "email": "page@example.org", "password": f"guess {n}"})
            assert page.status_code == 401
        page = await browser.post("/signin", data={"csrf_token": token, "email": "page@example.org", "password": "guess 10"})
    assert page.status_code == 429
    assert page.headers["content-type"].startswith("text/html")
    assert 1 <= int(page.headers["retry-after"]) <= 60
    assert "Too many failed sign-ins" in page.text
    # The page and the API share the counters: the API refuses this account now as well.
    assert_rate_limited(await sign_in(app, "198.51.100.78", "page@example.org", "guess 11"))


class CountingHasher:
    """The configured argon2 hasher, counting the passwords it is asked to verify."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.verified: list[str] = []

    def hash(self, password: str) -> str:
        return self.inner.hash(password)

    def verify(self, password: str, password_hash: str) -> bool:
        self.verified.append(password)
        return self.inner.verify(password, password_hash)


@pytest.fixture(params=["in_process", pytest.param("redis", marks=pytest.mark.redis)])
async def guarded(request, settings, monkeypatch):
    """An app whose sign-in counters live in this process or in Redis; and the hasher it verifies with."""
    from services.accounts import security

    if request.param == "redis":
        await redis_reachable()
        settings = settings.model_copy(update={"redis_url": REDIS_URL})
    app = create_app(settings)
    hasher = CountingHasher(security._hasher)
    monkeypatch.setattr(security, "_hasher", hasher)
    yield app, hasher
    await app.state.sync_hub.stop()
    await app.state.engine.dispose()


async def redis_reachable() -> None:
    client = redis.from_url(REDIS_URL)
    try:
        await asyncio.wait_for(client.ping(), 3)
    except Exception as exc:
        service_unavailable(f"Redis at {REDIS_URL} ({exc!r})")
    finally:
        await client.aclose()


@pytest.mark.parametrize("through", ["api", "page"])
async def test_parallel_wrong_passwords_are_checked_no_more_often_than_the_limit(guarded, through):
    app, hasher = guarded
    # Fresh names each run: counters in Redis outlive a test by up to a minute.
    email, address = f"victim-{uuid.uuid4().hex[:10]}@example.org", f"2001:db8::{uuid.uuid4().hex[:4]}"
    async with from_address(app, "192.0.2.250") as http:
        created = await http.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD, "display_name": "Victim"})
        assert created.status_code < 300, created.text
    hasher.verified.clear()

    async with from_address(app, address) as http:
        if through == "api":
            attempts = [http.post("/api/v1/auth/token", data={"username": email, "password": f"guess {n}"}) for n in range(50)]
        else:
            token = await _token(http)
            attempts = [http.post("/signin", data={"csrf_token": token, "email": email, "password": f"guess {n}"}) for n in range(50)]
        answers = await asyncio.gather(*attempts)

    assert len(hasher.verified) <= 10
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses.count(401) == len(hasher.verified) and statuses.count(429) == 50 - len(hasher.verified)
    # The account is held now, from any address and with the right password too: it is not even checked.
    assert_rate_limited(await sign_in(app, "192.0.2.251", email, PASSWORD))
    assert PASSWORD not in hasher.verified
