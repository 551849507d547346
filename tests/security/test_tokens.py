"""Bearer tokens and sync tickets: expired, tampered, unsigned (`alg=none`) and revoked ones are refused over
HTTP (401) and over sync (4401 at the handshake); signing out closes open sockets within 5 s; the
expiry of the ticket that opened a socket does not cut it mid-edit (a ticket is checked once, at the
handshake; only revocation or leaving the network closes a live socket)."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from services.accounts.security import issue_token
from services.realtime import tickets
from services.realtime.client import SyncClient, SyncError
from tests.fixtures.databases import ON_SQLITE

pytestmark = ON_SQLITE


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return f"{header}.{payload}.{flipped}"


def _unsigned(token: str) -> str:
    """The same claims, re-encoded with `alg: none` and no signature."""
    return jwt.encode(_claims(token), key=None, algorithm="none")


def _raised_privileges(token: str) -> str:
    """The claims changed (another participant), signature kept: a forgery without the key."""
    header, _payload, signature = token.split(".")
    claims = _claims(token) | {"sub": str(uuid.uuid4())}
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"{header}.{payload}.{signature}"


async def test_bad_bearer_tokens_get_401(client, app, sign_up):
    person = await sign_up("Amina")
    good = person["headers"]["Authorization"].removeprefix("Bearer ")
    key = app.state.settings.signing_key
    participant_id = uuid.UUID(person["id"])
    expired, _ = issue_token(participant_id, 0, key, timedelta(seconds=-5))
    other_key, _ = issue_token(participant_id, 0, "another-server-secret-" + "y" * 30, timedelta(minutes=5))
    bad = {
        "expired": expired,
        "tampered signature": _tampered(good),
        "alg=none": _unsigned(good),
        "claims changed": _raised_privileges(good),
        "signed by another key": other_key,
        "not a JWT": "not-a-token",
        "sync ticket as bearer": tickets.issue(participant_id, 0, key, timedelta(seconds=60))[0],
    }
    assert (await client.get("/api/v1/me", headers=person["headers"])).status_code == 200
    for name, token in bad.items():
        for method, path in (("GET", "/api/v1/me"), ("POST", "/api/v1/sync/tickets")):
            response = await client.request(method, path, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 401, (name, path, response.text)
            assert response.headers["www-authenticate"].startswith("Bearer")


async def test_logout_revokes_every_token_and_cookie(client, sign_up):
    person = await sign_up("Amina")
    second = await client.post("/api/v1/auth/token", data={"username": person["email"], "password": "correct horse battery"})
    other_device = {"Authorization": f"Bearer {second.json()['access_token']}"}
    assert (await client.post("/api/v1/auth/logout", headers=person["headers"])).status_code == 204
    for headers in (person["headers"], other_device):
        assert (await client.get("/api/v1/me", headers=headers)).status_code == 401
        assert (await client.post("/api/v1/sync/tickets", headers=headers)).status_code == 401
    client.cookies.set("cogov_session", other_device["Authorization"].removeprefix("Bearer "))
    page = await client.get("/me/affiliation")  # a page for signed-in participants: the revoked cookie counts for nobody
    assert page.status_code == 303 and "/signin" in page.headers["location"]


async def _refused(live: str, ticket: str) -> str:
    with pytest.raises(SyncError) as refused:
        await SyncClient.connect(live, ticket=ticket, timeout=10)
    return str(refused.value)


async def test_bad_tickets_are_refused_at_the_handshake(client, app, network, norm, live, ticket_for):
    amina = network["members"][0]
    key = app.state.settings.signing_key
    participant_id = uuid.UUID(amina["id"])
    good = await ticket_for(amina)
    bad = {
        "expired": tickets.issue(participant_id, 0, key, timedelta(seconds=-5))[0],
        "tampered signature": _tampered(await ticket_for(amina)),
        "alg=none": _unsigned(await ticket_for(amina)),
        "claims changed": _raised_privileges(await ticket_for(amina)),
        "bearer token as ticket": amina["headers"]["Authorization"].removeprefix("Bearer "),
        "garbage": "x" * 5000,
    }
    for name, ticket in bad.items():
        assert "4401" in await _refused(live, ticket), name
    # The good one works once.
    peer = await SyncClient.connect(live, ticket=good)
    await peer.close()
    assert "already used" in await _refused(live, good)
    # Signed out after asking for a ticket: the ticket is dead too.
    unused = await ticket_for(amina)
    assert (await client.post("/api/v1/auth/logout", headers=amina["headers"])).status_code == 204
    assert "revoked" in await _refused(live, unused)


async def test_signing_out_closes_the_open_socket_within_5_s(client, network, norm, connect):
    amina, bruno = network["members"][0], network["members"][1]
    amina_peer = await connect(amina)
    handle = await amina_peer.open(norm["url"])
    bruno_peer = await connect(bruno)
    await bruno_peer.open(norm["url"])
    await handle.splice(0, 0, "Before. ")
    await handle.wait_synced()

    assert (await client.post("/api/v1/auth/logout", headers=amina["headers"])).status_code == 204
    async with asyncio.timeout(5):
        code, reason = await amina_peer.closed
    assert code == 4401 and "revoked" in reason
    assert not bruno_peer.closed.done(), "only the signed-out participant's socket closes"
    text = (await client.get(f"/api/v1/norms/{norm['id']}")).json()["text"]
    assert text.startswith("Before. ")


async def test_an_expired_ticket_does_not_cut_a_live_socket(client, app, network, norm, live):
    amina = network["members"][0]
    app.state.settings.sync_revalidate_seconds = 0.2  # the watchdog looks often; expiry alone must not trip it
    ticket, expires_at = tickets.issue(uuid.UUID(amina["id"]), 0, app.state.settings.signing_key, timedelta(seconds=3))
    peer = await SyncClient.connect(live, ticket=ticket)
    try:
        handle = await peer.open(norm["url"])
        await asyncio.sleep(max(0.0, (expires_at - datetime.now(UTC)).total_seconds()) + 1.0)
        await handle.splice(0, 0, "After expiry. ")
        await handle.wait_synced()
        assert not peer.closed.done()
    finally:
        await peer.close()
    assert (await client.get(f"/api/v1/norms/{norm['id']}")).json()["text"].startswith("After expiry. ")
