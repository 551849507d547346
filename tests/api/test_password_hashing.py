"""Password hashing holds no request but its own: while argon2 works on a sign-in or a sign-up, the server
answers everything else; and when more passwords wait than it is configured to hold, it says 503 with
Retry-After at once rather than queueing without end."""

from __future__ import annotations

import asyncio
import threading
import uuid

import httpx
import pytest

from services.api.app import create_app
from tests.fixtures.accounts import PASSWORD
from tests.web.test_pages import _token

# A safety net only: a hash held on the event loop (the defect) lets the test go on after this long.
HOLD_SECONDS = 10


class HeldHasher:
    """The configured argon2 hasher, except that every call waits until the test lets it go."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.started = threading.Event()
        self.release = threading.Event()
        self.held_too_long = False

    def _hold(self) -> None:
        self.started.set()
        if not self.release.wait(HOLD_SECONDS):
            self.held_too_long = True

    def hash(self, password: str) -> str:
        self._hold()
        return self.inner.hash(password)

    def verify(self, password: str, password_hash: str) -> bool:
        self._hold()
        return self.inner.verify(password, password_hash)


@pytest.fixture
def held(monkeypatch) -> HeldHasher:
    from services.accounts import security

    hasher = HeldHasher(security._hasher)
    monkeypatch.setattr(security, "_hasher", hasher)
    # Unknown addresses verify against this hash; it must be one the held hasher can read.
    monkeypatch.setattr(security, "_DUMMY_HASH", hasher.inner.hash("not anyone's password"))
    return hasher


def _signing_in(client: httpx.AsyncClient, email: str) -> asyncio.Task:
    return asyncio.create_task(client.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD}))


def _signing_up(client: httpx.AsyncClient, email: str) -> asyncio.Task:
    body = {"email": email, "password": PASSWORD, "display_name": "New Person"}
    return asyncio.create_task(client.post("/api/v1/auth/register", json=body))


@pytest.mark.parametrize("action", [_signing_in, _signing_up])
async def test_health_answers_while_a_password_is_hashed(client, sign_up, held, monkeypatch, action):
    held.release.set()
    person = await sign_up() if action is _signing_in else {"email": f"new-{uuid.uuid4().hex[:8]}@example.org"}
    held.release.clear()
    held.started.clear()
    busy = action(client, person["email"])
    await asyncio.to_thread(held.started.wait, HOLD_SECONDS)

    health = await client.get("/healthz")

    assert health.status_code == 200
    assert not held.held_too_long, "/healthz waited for the password hash"
    held.release.set()
    assert (await busy).status_code < 300


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_more_passwords_than_the_server_holds_get_503_with_retry_after(settings, held):
    app = create_app(settings.model_copy(update={"password_hash_workers": 1, "password_hash_waiting": 1}))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            held.release.set()
            csrf = await _token(client)
            email = f"p-{uuid.uuid4().hex[:8]}@example.org"
            assert (await _signing_up(client, email)).status_code < 300
            held.release.clear()
            held.started.clear()
            # One hash runs, one waits for it: the server holds no more.
            first, second = _signing_in(client, email), _signing_in(client, email)
            await asyncio.to_thread(held.started.wait, HOLD_SECONDS)
            while app.state.password_hashing.admitted < 2:
                await asyncio.sleep(0.01)

            refused = await client.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
            page = await client.post("/signin", data={"csrf_token": csrf, "email": email, "password": PASSWORD})

            assert refused.status_code == 503
            assert refused.json()["code"] == "busy"
            assert int(refused.headers["retry-after"]) >= 1
            assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
            assert int(page.headers["retry-after"]) >= 1
            held.release.set()
            assert [(await first).status_code, (await second).status_code] == [200, 200]
            # Once the queue drains, the same sign-in is served.
            assert (await client.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})).status_code == 200
    finally:
        await app.state.engine.dispose()
