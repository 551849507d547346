"""Rate limits: sign-in and sign-up per address, writes per participant (else per address); 429 with
Retry-After in the API's error body; counters shared through Redis, and never an outage when Redis is away."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
import redis.asyncio as redis
from pydantic import ValidationError

from services.api.app import create_app
from services.settings import Settings
from tests.fixtures.accounts import PASSWORD
from tests.fixtures.app import TEST_SECRET
from tests.fixtures.databases import ON_SQLITE
from tests.fixtures.environment import service_unavailable
from tests.fixtures.ops import assert_rate_limited, from_address

REDIS_URL = os.environ.get("COGOV_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
SETTINGS = {"rate_limit_auth": "4/minute", "rate_limit_writes": "3/minute"}
AFFILIATION = {"stakeholder_group": "civil_society", "country": "KE", "organisation": "Digital Rights Kenya"}


async def register(app, address: str) -> dict:
    """A participant signed up and in from `address` (two sign-in/sign-up attempts)."""
    email = f"p-{uuid.uuid4().hex[:10]}@example.org"
    async with from_address(app, address) as http:
        created = await http.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD, "display_name": "Pat"})
        assert created.status_code == 202, created.text
        token = await http.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
        assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


async def write(app, address: str, headers: dict | None = None):
    async with from_address(app, address) as http:
        return await http.put("/api/v1/me/affiliation", json=AFFILIATION, headers=headers or {})


@ON_SQLITE
async def test_sign_ups_and_sign_ins_are_limited_per_address(app):
    await register(app, "198.51.100.1")
    await register(app, "198.51.100.1")
    async with from_address(app, "198.51.100.1") as http:
        refused = await http.post("/api/v1/auth/register", json={"email": "late@example.org", "password": PASSWORD, "display_name": "Late"})
        assert_rate_limited(refused)
        assert_rate_limited(await http.post("/api/v1/auth/token", data={"username": "late@example.org", "password": PASSWORD}))
        assert (await http.get("/api/v1/networks")).status_code == 200  # reading is not limited
    await register(app, "198.51.100.2")  # another address is not held back


@ON_SQLITE
async def test_writes_are_limited_per_participant_not_per_address(app):
    amina, bruno = await register(app, "203.0.113.1"), await register(app, "203.0.113.2")
    for _ in range(3):
        assert (await write(app, "203.0.113.1", amina)).status_code == 200
    assert_rate_limited(await write(app, "203.0.113.1", amina))
    assert_rate_limited(await write(app, "203.0.113.77", amina))  # moving elsewhere does not help
    assert (await write(app, "203.0.113.1", bruno)).status_code == 200  # the same address, another participant
    async with from_address(app, "203.0.113.1") as http:
        for _ in range(5):
            assert (await http.get("/api/v1/me", headers=amina)).status_code == 200


@ON_SQLITE
async def test_anonymous_writes_and_forged_tokens_count_against_the_address(app):
    forged = [{"Authorization": f"Bearer {uuid.uuid4().hex}.{uuid.uuid4().hex}.x"}, {"Authorization": "Bearer " + "A" * 10_000}, {}]
    for headers in forged:
        assert (await write(app, "192.0.2.9", headers)).status_code == 401
    assert_rate_limited(await write(app, "192.0.2.9", {"Authorization": "Bearer another-made-up-token"}))
    async with from_address(app, "192.0.2.9") as http:
        assert_rate_limited(await http.post("/websub", data={"hub.mode": "subscribe"}))
    assert (await write(app, "192.0.2.10")).status_code == 401  # another address is still heard


@ON_SQLITE
async def test_limits_can_be_turned_off(settings):
    app = create_app(settings.model_copy(update={"rate_limits_enabled": False}))
    try:
        for _ in range(8):
            assert (await write(app, "192.0.2.20")).status_code == 401
    finally:
        await app.state.engine.dispose()


@pytest.mark.parametrize("value", ["lots", "10/fortnight", "-1/minute", "", "10 per"])
def test_a_malformed_limit_stops_the_server_from_starting(value, tmp_path):
    with pytest.raises(ValidationError, match="rate_limit_writes"):
        Settings(secret_key=TEST_SECRET, data_dir=tmp_path, rate_limit_writes=value, _env_file=None)


@pytest.fixture
async def redis_available():
    client = redis.from_url(REDIS_URL)
    try:
        await asyncio.wait_for(client.ping(), 3)
    except Exception as exc:
        service_unavailable(f"Redis at {REDIS_URL} ({exc!r})")
    finally:
        await client.aclose()


@ON_SQLITE
@pytest.mark.redis
async def test_instances_sharing_redis_share_the_counters(settings, redis_available):
    first, second = (create_app(settings.model_copy(update={"redis_url": REDIS_URL})) for _ in range(2))
    try:
        pat = await register(first, "198.51.100.30")
        assert (await write(first, "198.51.100.30", pat)).status_code == 200
        assert (await write(second, "198.51.100.30", pat)).status_code == 200
        assert (await write(first, "198.51.100.30", pat)).status_code == 200
        assert_rate_limited(await write(second, "198.51.100.30", pat))
    finally:
        for app in (first, second):
            await app.state.sync_hub.stop()
            await app.state.engine.dispose()


@ON_SQLITE
async def test_a_redis_that_does_not_answer_neither_blocks_requests_nor_lifts_the_limits(settings):
    app = create_app(settings.model_copy(update={"redis_url": "redis://127.0.0.1:9/0"}))  # nothing listens on port 9
    try:
        pat = await register(app, "198.51.100.40")
        for _ in range(3):
            assert (await write(app, "198.51.100.40", pat)).status_code == 200
        assert_rate_limited(await write(app, "198.51.100.40", pat))
    finally:
        await app.state.sync_hub.stop()
        await app.state.engine.dispose()
