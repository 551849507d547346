"""Registration, sign-in, tokens and their revocation, as a client of the HTTP API sees them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from tests.fixtures.accounts import PASSWORD
from tests.fixtures.app import TEST_SECRET


async def test_register_sign_in_and_read_me(client):
    created = await client.post(
        "/api/v1/auth/register", json={"email": "Ama@Example.org", "password": PASSWORD, "display_name": "Ama Mensah"}
    )
    assert created.status_code == 202
    assert created.json()["email"] == "ama@example.org"
    assert "password" not in created.text.lower().replace("the password you chose", "").replace("own password", "")

    token = await client.post("/api/v1/auth/token", data={"username": "ama@example.org", "password": PASSWORD})
    assert token.status_code == 200
    assert token.json()["token_type"] == "bearer"
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"})
    assert me.status_code == 200
    assert (me.json()["display_name"], me.json()["role"]) == ("Ama Mensah", "participant")


async def test_a_taken_address_gets_the_same_answer_as_a_new_one_and_changes_nothing(client, sign_up, monkeypatch):
    from services.accounts import security

    owner = await sign_up("Owner", email="dup@example.org")
    hashed: list[str] = []
    real_hash = security.hash_password
    monkeypatch.setattr(security, "hash_password", lambda password: hashed.append(password) or real_hash(password))

    taken = await client.post(
        "/api/v1/auth/register", json={"email": "DUP@example.org", "password": "another long password", "display_name": "Other"}
    )
    new = await client.post(
        "/api/v1/auth/register", json={"email": "fresh@example.org", "password": "another long password", "display_name": "Other"}
    )

    assert taken.status_code == new.status_code == 202
    assert taken.json() == new.json() | {"email": "dup@example.org"}
    assert taken.headers.keys() == new.headers.keys()
    assert len(hashed) == 2  # the taken address cost its password hash too
    # The existing account is untouched: its password still works, the newcomer's does not.
    assert (await client.post("/api/v1/auth/token", data={"username": "dup@example.org", "password": PASSWORD})).status_code == 200
    assert (
        await client.post("/api/v1/auth/token", data={"username": "dup@example.org", "password": "another long password"})
    ).status_code == 401
    me = await client.get("/api/v1/me", headers=owner["headers"])
    assert me.json()["display_name"] == "Owner"


async def test_wrong_password_and_unknown_email_get_the_same_401(client, sign_up):
    await sign_up(email="known@example.org")
    wrong_password = await client.post("/api/v1/auth/token", data={"username": "known@example.org", "password": "not the password"})
    unknown_email = await client.post("/api/v1/auth/token", data={"username": "nobody@example.org", "password": PASSWORD})
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.json() == unknown_email.json() == {"detail": "Incorrect email or password.", "code": "invalid_credentials"}


async def test_short_password_and_bad_email_are_422_with_field_names(client):
    response = await client.post("/api/v1/auth/register", json={"email": "not-an-email", "password": "short", "display_name": ""})
    assert response.status_code == 422
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {"email", "password", "display_name"}
    assert "password" in response.json()["detail"]


@pytest.mark.parametrize(
    "password, says",
    [
        ("abcdefghijk", "at least 12 characters"),  # 11
        ("qwerty123456", "most commonly used"),
        ("  QWERTY123456 ", "most commonly used"),  # the list is compared without case or surrounding spaces
        ("1q2w3e4r5t6y", "most commonly used"),
        ("x" * 257, "at most 256 characters"),
    ],
)
async def test_weak_passwords_are_refused_at_sign_up_with_a_reason(client, password, says):
    response = await client.post("/api/v1/auth/register", json={"email": "weak@example.org", "password": password, "display_name": "Weak"})
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "password" and says in error["message"]
    assert (await client.post("/api/v1/auth/token", data={"username": "weak@example.org", "password": password})).status_code == 401


async def test_logout_revokes_every_outstanding_token_at_once(client, sign_up):
    participant = await sign_up()
    second = await client.post("/api/v1/auth/token", data={"username": participant["email"], "password": PASSWORD})
    second_headers = {"Authorization": f"Bearer {second.json()['access_token']}"}
    assert (await client.get("/api/v1/me", headers=second_headers)).status_code == 200

    assert (await client.post("/api/v1/auth/logout", headers=participant["headers"])).status_code == 204

    for headers in (participant["headers"], second_headers):
        refused = await client.get("/api/v1/me", headers=headers)
        assert refused.status_code == 401
        assert refused.json()["code"] == "invalid_token"
    fresh = await client.post("/api/v1/auth/token", data={"username": participant["email"], "password": PASSWORD})
    assert (await client.get("/api/v1/me", headers={"Authorization": f"Bearer {fresh.json()['access_token']}"})).status_code == 200


async def test_expired_malformed_and_foreign_tokens_are_401(client, sign_up):
    participant = await sign_up()
    now = datetime.now(UTC)
    expired = jwt.encode(
        {"sub": participant["id"], "ver": 0, "typ": "access", "iat": now - timedelta(hours=2), "exp": now - timedelta(hours=1)},
        TEST_SECRET,
        algorithm="HS256",
    )
    forged = jwt.encode(
        {"sub": participant["id"], "ver": 0, "typ": "access", "exp": now + timedelta(hours=1)}, "another-secret" * 4, algorithm="HS256"
    )
    unsigned = jwt.encode({"sub": participant["id"], "ver": 0, "typ": "access", "exp": now + timedelta(hours=1)}, None, algorithm="none")
    for token in (expired, forged, unsigned, "garbage", "a.b.c", ""):
        response = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, token
        assert response.headers["www-authenticate"] == "Bearer"
    assert (await client.get("/api/v1/me")).status_code == 401
