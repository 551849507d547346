"""Privileged roles: made by the CLI or an administrator, enforced on staff and admin endpoints."""

from __future__ import annotations

import pytest

from tests.cli import run_cogov
from tests.fixtures.accounts import PASSWORD, enrol_two_factor


def _said(stderr: str) -> str:
    """The CLI's message as one line (rich draws a box around errors and wraps them to the terminal)."""
    return " ".join(stderr.replace("│", " ").split())


async def _sign_in(client, email: str) -> dict:
    token = await client.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


async def test_create_staff_creates_an_account_that_reaches_staff_endpoints(client, database_url, sign_up, tmp_path):
    participant = await sign_up()
    result = run_cogov("create-staff", "curator@example.org", "--name", "Curator", database_url=database_url, stdin=PASSWORD + "\n")
    assert result.returncode == 0, result.stderr
    assert "Two-factor sign-in is required for staff actions" in _said(result.stderr)
    assert "/settings/two-factor" in _said(result.stderr) and "POST /api/v1/me/two-factor/setup" in _said(result.stderr)
    staff = await _sign_in(client, "curator@example.org")

    # Not enrolled yet: staff actions wait for two-factor sign-in, and say where to turn it on.
    unenrolled = await client.get("/api/v1/participants", headers=staff)
    assert unenrolled.status_code == 403 and unenrolled.json()["code"] == "two_factor_required"
    assert "/settings/two-factor" in unenrolled.json()["detail"]
    await enrol_two_factor(client, {"headers": staff})
    listing = await client.get("/api/v1/participants", headers=staff)
    assert listing.status_code == 200
    assert {item["email"]: item["role"] for item in listing.json()["items"]}["curator@example.org"] == "staff"

    refused = await client.get("/api/v1/participants", headers=participant["headers"])
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"


async def test_create_admin_promotes_an_existing_account_and_admins_grant_roles(client, database_url, sign_up):
    admin = await sign_up(email="admin@example.org")
    other = await sign_up()
    assert (
        await client.put(f"/api/v1/participants/{other['id']}/role", json={"role": "staff"}, headers=admin["headers"])
    ).status_code == 403

    result = run_cogov("create-admin", "admin@example.org", database_url=database_url)
    assert result.returncode == 0, result.stderr
    assert "admin@example.org is now admin" in result.stderr
    await enrol_two_factor(client, admin)

    granted = await client.put(f"/api/v1/participants/{other['id']}/role", json={"role": "staff"}, headers=admin["headers"])
    assert granted.status_code == 200
    assert granted.json()["role"] == "staff"
    assert (await client.get("/api/v1/participants", headers=other["headers"])).status_code == 403  # until enrolled
    await enrol_two_factor(client, other)
    assert (await client.get("/api/v1/participants", headers=other["headers"])).status_code == 200

    bogus = await client.put(f"/api/v1/participants/{other['id']}/role", json={"role": "emperor"}, headers=admin["headers"])
    assert bogus.status_code == 422
    self_demotion = await client.put(f"/api/v1/participants/{admin['id']}/role", json={"role": "participant"}, headers=admin["headers"])
    assert self_demotion.status_code == 409

    events = (await client.get("/api/v1/audit", params={"action": "participant.role_changed"})).json()["items"]
    assert [(event["payload"]["from"], event["payload"]["to"]) for event in events] == [("participant", "staff"), ("participant", "admin")]


@pytest.mark.parametrize("command", ["create-staff", "create-admin"])
@pytest.mark.parametrize("password, says", [("short pass!", "at least 12 characters"), ("qwertyuiop123", "most commonly used")])
async def test_create_staff_and_admin_refuse_a_weak_password(client, database_url, command, password, says):
    result = run_cogov(command, "weak@example.org", database_url=database_url, stdin=f"{password}\n")
    assert result.returncode != 0
    assert says in _said(result.stderr)
    assert (await client.post("/api/v1/auth/token", data={"username": "weak@example.org", "password": password})).status_code == 401


async def test_create_staff_creates_an_account_with_a_strong_password(client, database_url):
    result = run_cogov("create-staff", "clara@example.org", database_url=database_url, stdin="a long and unusual passphrase\n")
    assert result.returncode == 0, result.stderr
    token = await client.post("/api/v1/auth/token", data={"username": "clara@example.org", "password": "a long and unusual passphrase"})
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"})
    assert me.json()["role"] == "staff"


async def test_the_demo_refuses_a_weak_password_before_seeding_anything(client, database_url):
    result = run_cogov("demo", "--password", "password1234", database_url=database_url)
    assert result.returncode != 0
    assert "most commonly used" in _said(result.stderr)
    assert (await client.get("/api/v1/networks")).json()["items"] == []
