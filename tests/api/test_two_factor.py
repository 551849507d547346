"""Two-factor sign-in (TOTP) through the API: enrolment, the second step of a sign-in, recovery codes, replays,
the password-guessing throttle, and staff who must enrol."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pyotp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from services.accounts import twofactor
from services.accounts.models import Participant, Role
from services.api.ratelimit import LoginThrottle
from tests.fixtures.accounts import PASSWORD, enrol_two_factor

RECOVERY = re.compile(r"^[a-z2-7]{4}(-[a-z2-7]{4}){3}$")


async def _first_step(client, email: str, password: str = PASSWORD) -> str:
    answer = await client.post("/api/v1/auth/token", data={"username": email, "password": password})
    assert answer.status_code == 401, answer.text
    assert answer.json()["code"] == "totp_required"
    return answer.json()["challenge"]


async def _second_step(client, challenge: str, **secret):
    return await client.post("/api/v1/auth/token/totp", json={"challenge": challenge, **secret})


async def test_enrolment_needs_a_right_code_and_gives_ten_recovery_codes_once(client, sign_up, clock, audit_events):
    ada = await sign_up("Ada")
    setup = await client.post("/api/v1/me/two-factor/setup", headers=ada["headers"])
    assert setup.status_code == 200
    body = setup.json()
    assert body["otpauth_uri"].startswith("otpauth://totp/CoGov:") and f"secret={body['secret']}" in body["otpauth_uri"]
    assert body["qr_svg"].startswith("<svg") and "<script" not in body["qr_svg"]
    totp = pyotp.TOTP(body["secret"])

    wrong_code = str((int(totp.at(clock.now())) + 1) % 1_000_000).zfill(6)
    refused = await client.post("/api/v1/me/two-factor", json={"enrolment": body["enrolment"], "code": wrong_code}, headers=ada["headers"])
    assert refused.status_code == 401 and refused.json()["code"] == "invalid_code"
    forged = await client.post(
        "/api/v1/me/two-factor", json={"enrolment": body["enrolment"][:-4], "code": totp.at(clock.now())}, headers=ada["headers"]
    )
    assert forged.status_code == 422 and forged.json()["code"] == "enrolment_expired"
    assert (await client.get("/api/v1/me", headers=ada["headers"])).json()["two_factor"] is False

    enabled = await client.post(
        "/api/v1/me/two-factor", json={"enrolment": body["enrolment"], "code": totp.at(clock.now())}, headers=ada["headers"]
    )
    assert enabled.status_code == 201, enabled.text
    codes = enabled.json()["recovery_codes"]
    assert len(codes) == len(set(codes)) == 10 and all(RECOVERY.match(code) for code in codes)
    assert (await client.get("/api/v1/me", headers=ada["headers"])).json()["two_factor"] is True
    assert (await client.post("/api/v1/me/two-factor/setup", headers=ada["headers"])).status_code == 409
    [event] = await audit_events(action="participant.two_factor_enabled")
    assert event["payload"] == {} and body["secret"] not in str(event)


async def test_sign_in_takes_a_code_after_the_password_and_never_the_same_code_twice(client, sign_up, clock):
    ada = await enrol_two_factor(client, await sign_up("Ada"), clock.now())
    clock.advance(seconds=30)  # the enrolment's own code was used
    challenge = await _first_step(client, ada["email"])
    code = ada["totp"].at(clock.now())

    signed_in = await _second_step(client, challenge, code=code)
    assert signed_in.status_code == 200, signed_in.text
    headers = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
    assert (await client.get("/api/v1/me", headers=headers)).json()["id"] == ada["id"]
    [current] = [row for row in (await client.get("/api/v1/me/sessions", headers=headers)).json() if row["current"]]
    assert current["two_factor"] is True

    # The same code again, in the same 30 s window, even with a fresh challenge: refused.
    replay = await _second_step(client, await _first_step(client, ada["email"]), code=code)
    assert replay.status_code == 401 and replay.json()["code"] == "invalid_code"
    # The code of the step before: also refused now that a later one was used.
    earlier = await _second_step(client, await _first_step(client, ada["email"]), code=ada["totp"].at(clock.now() - timedelta(seconds=30)))
    assert earlier.status_code == 401
    # A challenge is no access token, and a forged or truncated one proves nothing.
    assert (await client.get("/api/v1/me", headers={"Authorization": f"Bearer {challenge}"})).status_code == 401
    stale = await _second_step(client, challenge[:-3], code=ada["totp"].at(clock.now() + timedelta(seconds=30)))
    assert stale.status_code == 401 and stale.json()["code"] == "invalid_token"
    both = await _second_step(client, challenge, code="123456", recovery_code=ada["recovery_codes"][0])
    assert both.status_code == 422
    clock.advance(seconds=30)
    assert (await _second_step(client, await _first_step(client, ada["email"]), code=ada["totp"].at(clock.now()))).status_code == 200


async def test_a_recovery_code_signs_in_once(client, sign_up, clock, audit_events):
    ada = await enrol_two_factor(client, await sign_up("Ada"), clock.now())
    code = ada["recovery_codes"][3]
    first = await _second_step(client, await _first_step(client, ada["email"]), recovery_code=f"  {code.upper()} ")
    assert first.status_code == 200, first.text
    again = await _second_step(client, await _first_step(client, ada["email"]), recovery_code=code)
    assert again.status_code == 401 and again.json()["code"] == "invalid_code"
    other = await _second_step(client, await _first_step(client, ada["email"]), recovery_code=ada["recovery_codes"][4])
    assert other.status_code == 200
    assert len(await audit_events(action="participant.recovery_code_used")) == 2


async def test_oversized_or_malformed_codes_and_challenges_are_422_and_change_nothing(client, sign_up, clock):
    ada = await enrol_two_factor(client, await sign_up("Ada"), clock.now())
    challenge = await _first_step(client, ada["email"])
    for body in (
        {"challenge": challenge, "code": "1" * 41},
        {"challenge": challenge, "code": "12345\r\n"},
        {"challenge": "x" * 2001, "code": "123456"},
        {"challenge": challenge, "recovery_code": "a" * 41},
        {"challenge": challenge, "code": "123456", "extra": 1},
    ):
        answer = await client.post("/api/v1/auth/token/totp", json=body)
        assert answer.status_code == 422, body
    clock.advance(seconds=30)
    assert (await _second_step(client, challenge, code=ada["totp"].at(clock.now()))).status_code == 200


async def test_wrong_codes_count_as_failed_sign_ins(client, app, sign_up, clock):
    app.state.login_throttle = LoginThrottle(app.state.rate_limiter, 3)
    ada = await enrol_two_factor(client, await sign_up("Ada"), clock.now())
    challenge = await _first_step(client, ada["email"])
    answers = [(await _second_step(client, challenge, code="000000")).status_code for _ in range(3)]
    assert answers == [401, 401, 401]
    right = await _second_step(client, challenge, code=ada["totp"].at(clock.now() + timedelta(seconds=30)))
    assert right.status_code == 429 and int(right.headers["Retry-After"]) >= 1
    # The password step of the same account is held back too: one throttle for every secret.
    assert (await client.post("/api/v1/auth/token", data={"username": ada["email"], "password": PASSWORD})).status_code == 429


async def test_new_recovery_codes_replace_the_old_and_turning_off_needs_the_password(client, sign_up, clock, audit_events):
    ada = await enrol_two_factor(client, await sign_up("Ada"), clock.now())
    clock.advance(seconds=30)
    renewed = await client.post("/api/v1/me/two-factor/recovery-codes", json={"code": ada["totp"].at(clock.now())}, headers=ada["headers"])
    assert renewed.status_code == 200
    old = await _second_step(client, await _first_step(client, ada["email"]), recovery_code=ada["recovery_codes"][0])
    assert old.status_code == 401
    assert (
        await _second_step(client, await _first_step(client, ada["email"]), recovery_code=renewed.json()["recovery_codes"][0])
    ).status_code == 200

    wrong = await client.request("DELETE", "/api/v1/me/two-factor", json={"password": "not the password"}, headers=ada["headers"])
    assert wrong.status_code == 401 and wrong.json()["errors"][0]["field"] == "password"
    off = await client.request("DELETE", "/api/v1/me/two-factor", json={"password": PASSWORD}, headers=ada["headers"])
    assert off.status_code == 204
    assert (await client.post("/api/v1/auth/token", data={"username": ada["email"], "password": PASSWORD})).status_code == 200
    assert [event["action"] for event in await audit_events(target_type="participant", target_id=ada["id"])][-3:] == [
        "participant.recovery_codes_replaced",
        "participant.recovery_code_used",
        "participant.two_factor_disabled",
    ]


async def test_staff_cannot_use_staff_actions_until_enrolled_nor_turn_two_factor_off(client, app, sign_up, clock):
    clara = await sign_up("Clara")
    async with app.state.sessionmaker() as session:
        await session.execute(update(Participant).where(Participant.id == uuid.UUID(clara["id"])).values(role=Role.staff))
        await session.commit()
    refused = await client.get("/api/v1/participants", headers=clara["headers"])
    assert refused.status_code == 403 and refused.json()["code"] == "two_factor_required"
    assert "/settings/two-factor" in refused.json()["detail"]

    await enrol_two_factor(client, clara, clock.now())
    assert (await client.get("/api/v1/participants", headers=clara["headers"])).status_code == 200
    off = await client.request("DELETE", "/api/v1/me/two-factor", json={"password": PASSWORD}, headers=clara["headers"])
    assert off.status_code == 409 and off.json()["code"] == "two_factor_required_for_role"

    # A session that proved no code (made before enrolment) cannot use staff actions either.
    async with app.state.sessionmaker() as session:
        from services.accounts import sessions

        participant = await session.get(Participant, uuid.UUID(clara["id"]))
        token, _ = await sessions.start(
            session, participant, kind=sessions.SessionKind.api, secret=app.state.settings.signing_key, lifetime=timedelta(minutes=5)
        )
        await session.commit()
    password_only = await client.get("/api/v1/participants", headers={"Authorization": f"Bearer {token}"})
    assert password_only.status_code == 403 and password_only.json()["code"] == "two_factor_required"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(uses=st.lists(st.one_of(st.integers(0, 9), st.text("abcdefghijklmnopqrstuvwxyz234567-", min_size=6, max_size=19)), max_size=14))
async def test_property_each_recovery_code_is_accepted_exactly_once(app, uses):
    """Whatever is typed, in whatever order: each of the ten codes passes once, and nothing else ever passes."""
    from services.accounts import service as accounts

    async with app.state.sessionmaker() as session:
        participant = await accounts.register(
            session, app.state.password_hashing, email=f"{uuid.uuid4().hex}@example.org", password=PASSWORD, display_name="P"
        )
        participant.totp_secret, participant.totp_enabled_at = pyotp.random_base32(), app.state.clock.now()
        codes = await twofactor._replace_recovery_codes(session, participant)
        accepted: list[str] = []
        for use in uses:
            typed = codes[use] if isinstance(use, int) else use
            try:
                await twofactor.use_recovery_code(session, participant, typed, app.state.clock.now())
                accepted.append(typed)
            except twofactor.InvalidCode:
                pass
        await session.rollback()
    expected = list(dict.fromkeys(codes[use] for use in uses if isinstance(use, int)))
    assert accepted == expected
