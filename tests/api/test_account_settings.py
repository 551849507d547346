"""Account settings through the API: name, password, sessions one can see and end, signing out everywhere."""

from __future__ import annotations

import uuid

from tests.fixtures.accounts import PASSWORD

NEW_PASSWORD = "a different long passphrase"


async def _token(client, email: str, password: str = PASSWORD, user_agent: str = "test-client") -> dict:
    answer = await client.post("/api/v1/auth/token", data={"username": email, "password": password}, headers={"User-Agent": user_agent})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


async def test_a_participant_renames_themselves_and_the_audit_log_says_so(client, sign_up, audit_events):
    ada = await sign_up("Ada")
    renamed = await client.patch("/api/v1/me", json={"display_name": "  Ada Lovelace  "}, headers=ada["headers"])
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["display_name"] == "Ada Lovelace"
    assert (await client.get("/api/v1/me", headers=ada["headers"])).json()["display_name"] == "Ada Lovelace"
    [event] = await audit_events(action="participant.renamed")
    assert event["payload"] == {"display_name": "Ada Lovelace"} and event["actor"]["id"] == ada["id"]


async def test_a_name_with_a_line_break_or_too_long_is_refused_and_nothing_changes(client, sign_up):
    ada = await sign_up("Ada")
    for name, field_message in (
        ("Ada\r\nBcc: everyone@example.org", "one line"),
        ("Ada\nLovelace", "one line"),
        ("x" * 121, "at most 120"),
        ("   ", "at least 1"),
    ):
        refused = await client.patch("/api/v1/me", json={"display_name": name}, headers=ada["headers"])
        assert refused.status_code == 422, name
        [error] = refused.json()["errors"]
        assert error["field"] == "display_name" and field_message in error["message"], error
    signed_up = await client.post(
        "/api/v1/auth/register", json={"email": "eve@example.org", "password": PASSWORD, "display_name": "Eve\r\nX-Header: 1"}
    )
    assert signed_up.status_code == 422
    assert (await client.get("/api/v1/me", headers=ada["headers"])).json()["display_name"] == "Ada"


async def test_changing_the_password_needs_the_current_one_and_signs_out_every_other_session(client, sign_up, audit_events):
    ada = await sign_up("Ada")
    laptop = await _token(client, ada["email"], user_agent="laptop")

    wrong = await client.put(
        "/api/v1/me/password", json={"current_password": "not my password", "new_password": NEW_PASSWORD}, headers=ada["headers"]
    )
    assert wrong.status_code == 401 and wrong.json()["code"] == "wrong_password"
    assert wrong.json()["errors"] == [{"field": "current_password", "message": "Your current password is not right."}]
    weak = await client.put(
        "/api/v1/me/password", json={"current_password": PASSWORD, "new_password": "password1234"}, headers=ada["headers"]
    )
    assert weak.status_code == 422 and weak.json()["errors"][0]["field"] == "new_password"
    assert (await client.get("/api/v1/me", headers=laptop)).status_code == 200  # nothing changed yet

    changed = await client.put(
        "/api/v1/me/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}, headers=ada["headers"]
    )
    assert changed.status_code == 204, changed.text
    assert (await client.get("/api/v1/me", headers=ada["headers"])).status_code == 200  # this session stays
    assert (await client.get("/api/v1/me", headers=laptop)).status_code == 401
    old = await client.post("/api/v1/auth/token", data={"username": ada["email"], "password": PASSWORD})
    assert old.status_code == 401
    await _token(client, ada["email"], NEW_PASSWORD)
    [event] = await audit_events(action="participant.password_changed")
    assert event["payload"] == {}  # no secret in the public record


async def test_sessions_are_listed_and_one_can_be_revoked_alone(client, sign_up, audit_events):
    ada, bea = await sign_up("Ada"), await sign_up("Bea")
    laptop = await _token(client, ada["email"], user_agent="Laptop Browser 1.0")
    listed = await client.get("/api/v1/me/sessions", headers=ada["headers"])
    assert listed.status_code == 200
    rows = listed.json()
    assert len(rows) == 2
    [mine] = [row for row in rows if row["current"]]
    [other] = [row for row in rows if not row["current"]]
    assert other["user_agent"] == "Laptop Browser 1.0" and other["kind"] == "api" and other["two_factor"] is False

    # Someone else's session, an unknown one, or a malformed id: never ended.
    [beas] = (await client.get("/api/v1/me/sessions", headers=bea["headers"])).json()
    assert (await client.delete(f"/api/v1/me/sessions/{beas['id']}", headers=ada["headers"])).status_code == 404
    assert (await client.delete(f"/api/v1/me/sessions/{uuid.uuid4()}", headers=ada["headers"])).status_code == 404
    assert (await client.delete("/api/v1/me/sessions/not-an-id", headers=ada["headers"])).status_code == 422
    assert (await client.get("/api/v1/me", headers=bea["headers"])).status_code == 200

    assert (await client.delete(f"/api/v1/me/sessions/{other['id']}", headers=ada["headers"])).status_code == 204
    assert (await client.get("/api/v1/me", headers=laptop)).status_code == 401
    assert (await client.get("/api/v1/me", headers=ada["headers"])).status_code == 200
    assert [row["id"] for row in (await client.get("/api/v1/me/sessions", headers=ada["headers"])).json()] == [mine["id"]]
    [event] = await audit_events(action="participant.session_revoked")
    assert event["actor"]["id"] == ada["id"] and event["payload"] == {} and "Laptop" not in str(event)


async def test_signing_out_everywhere_ends_every_session_and_is_audited(client, sign_up, audit_events):
    ada = await sign_up("Ada")
    laptop = await _token(client, ada["email"])
    assert (await client.post("/api/v1/auth/logout", headers=laptop)).status_code == 204
    assert (await client.get("/api/v1/me", headers=laptop)).status_code == 401
    assert (await client.get("/api/v1/me", headers=ada["headers"])).status_code == 401
    assert [event["actor"]["id"] for event in await audit_events(action="participant.signed_out_everywhere")] == [ada["id"]]


async def test_expired_sessions_are_not_listed_and_go_at_the_next_sign_in(client, app, sign_up):
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import func, select, update

    from services.accounts.models import AccountSession

    ada = await sign_up("Ada")
    laptop = await _token(client, ada["email"], user_agent="old laptop")
    async with app.state.sessionmaker() as session:
        await session.execute(
            update(AccountSession)
            .where(AccountSession.user_agent == "old laptop")
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
        await session.commit()
    listed = (await client.get("/api/v1/me/sessions", headers=ada["headers"])).json()
    assert len(listed) == 1 and listed[0]["current"]
    assert (await client.get("/api/v1/me", headers=laptop)).status_code == 401  # the session's end is the token's
    await _token(client, ada["email"])
    async with app.state.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(AccountSession).where(AccountSession.user_agent == "old laptop")) == 0
