from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import JSONResponse
from fastapi.security import OAuth2PasswordRequestForm

from services.accounts import personal_data, service, sessions, twofactor
from services.accounts.models import Participant
from services.accounts.schemas import (
    CodeIn,
    ParticipantOut,
    PasswordChange,
    PasswordConfirmation,
    ProfileChange,
    RecoveryCodes,
    Registration,
    RoleChange,
    SessionOut,
    SignUpReceived,
    Token,
    TotpSignIn,
    TwoFactorEnable,
    TwoFactorSetup,
)
from services.accounts.security import issue_challenge, read_challenge
from services.api import ratelimit
from services.api.deps import (
    AdminParticipant,
    ClockDep,
    CurrentParticipant,
    CurrentSignIn,
    CursorQuery,
    LimitQuery,
    PasswordHashingDep,
    SessionDep,
    SettingsDep,
    StaffParticipant,
    WritingSessionDep,
)
from services.kit.errors import InvalidInput
from services.kit.pagination import Page, decode_cursor, encode_cursor
from services.settings import Settings

# How long the second step of a sign-in may wait for its code.
CHALLENGE_MINUTES = 5

router = APIRouter(prefix="/api/v1", tags=["accounts"])


@router.post(
    "/auth/register",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SignUpReceived,
    responses={503: {"description": "Too many passwords are being checked right now; `Retry-After` says when to try again"}},
)
async def register(session: SessionDep, hashing: PasswordHashingDep, settings: SettingsDep, clock: ClockDep, body: Registration):
    """Sign up. The answer is the same whether or not the address already has an account, so it tells
    nobody which addresses do: sign in next (`POST /auth/token`) with the address and password.

    A new account gets a link mailed to its address: until it is opened (`POST /auth/verify-email`), the account
    may read but not take part (403 `email_unverified`).

    A password needs at least 12 characters and must not be one of the 20,000 most common passwords (422).
    """
    await service.sign_up(
        session, hashing, settings, email=body.email, password=body.password, display_name=body.display_name, now=clock.now()
    )
    return SignUpReceived(email=service.normalise_email(body.email), detail=service.SIGN_UP_RECEIVED)


@router.post(
    "/auth/token",
    response_model=Token,
    responses={
        429: {"description": "Too many failed sign-ins for this account or from this address; `Retry-After` says when to try again"},
        503: {"description": "Too many passwords are being checked right now; `Retry-After` says when to try again"},
    },
)
async def token(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()], session: SessionDep, settings: SettingsDep):
    """Exchange email (as `username`) and password for a bearer token.

    With two-factor sign-in on, the answer is 401 `{"code": "totp_required", "challenge": ...}` instead: send the
    challenge with a code to `POST /api/v1/auth/token/totp`. After 10 failed attempts (wrong passwords or codes)
    in a minute for one account, or from one address, this answers 429 with Retry-After.
    """
    participant = await ratelimit.authenticate(request, session, form.username, form.password)
    if twofactor.enrolled(participant):
        challenge, expires_at = issue_challenge(
            participant.id, participant.token_version, settings.signing_key, timedelta(minutes=CHALLENGE_MINUTES)
        )
        raise twofactor.TotpRequired(challenge=challenge, expires_at=expires_at.isoformat())
    return await _start(request, session, settings, participant, two_factor=False)


async def _start(request: Request, session, settings: Settings, participant: Participant, *, two_factor: bool) -> Token:
    access_token, expires_at = await sessions.start(
        session,
        participant,
        kind=sessions.SessionKind.api,
        secret=settings.signing_key,
        lifetime=timedelta(minutes=settings.access_token_minutes),
        user_agent=request.headers.get("user-agent", ""),
        address=ratelimit.client_address(request.scope),
        two_factor=two_factor,
    )
    return Token(access_token=access_token, expires_at=expires_at)


async def second_factor(
    request: Request, session, settings: Settings, challenge: str, code: str | None, recovery_code: str | None
) -> Participant:
    """The participant a sign-in's second step proves, through the password-guessing throttle: `InvalidCode`
    (401) for a wrong, replayed or used code, `InvalidToken` (401) for a stale challenge."""
    found = read_challenge(challenge, settings.signing_key)
    participant = await session.get(Participant, found[0]) if found else None
    if found is None or participant is None or participant.token_version != found[1] or not twofactor.enrolled(participant):
        raise service.InvalidToken("This sign-in has expired; sign in again with your password")
    if (code is None) == (recovery_code is None):
        raise InvalidInput("Send either `code` (from the authenticator app) or `recovery_code`")
    now = request.app.state.clock.now()

    async def check() -> None:
        if code is not None:
            await twofactor.check_code(session, participant, code, now)
        else:
            await twofactor.use_recovery_code(session, participant, recovery_code or "", now)

    await ratelimit.guarded(request, participant.email, check)
    return participant


@router.post(
    "/auth/token/totp",
    response_model=Token,
    responses={429: {"description": "Too many failed sign-ins for this account or from this address"}},
)
async def token_totp(request: Request, session: WritingSessionDep, settings: SettingsDep, body: TotpSignIn):
    """The second step of a sign-in with two-factor on: the `challenge` from `POST /auth/token` and a six-digit
    `code` (each accepted once) or a single-use `recovery_code`, for a bearer token."""
    participant = await second_factor(request, session, settings, body.challenge, body.code, body.recovery_code)
    return await _start(request, session, settings, participant, two_factor=True)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(session: WritingSessionDep, participant: CurrentParticipant) -> None:
    """Sign out everywhere: revoke every session and token of the signed-in participant, this one included."""
    await service.logout(session, participant)


@router.get("/me", response_model=ParticipantOut)
async def me(participant: CurrentParticipant):
    return participant


@router.patch("/me", response_model=ParticipantOut)
async def change_profile(session: WritingSessionDep, participant: CurrentParticipant, body: ProfileChange):
    """Change the name shown beside one's acts (one line, at most 120 characters)."""
    return await service.rename(session, participant, body.display_name)


@router.put("/me/password", status_code=status.HTTP_204_NO_CONTENT, responses={401: {"description": "`wrong_password`"}})
async def change_password(
    request: Request, session: WritingSessionDep, signed_in: CurrentSignIn, hashing: PasswordHashingDep, body: PasswordChange
):
    """Change one's password: the current one is required (a wrong one counts as a failed sign-in). Every other
    session and token is signed out; this one stays."""
    participant = signed_in.participant
    await ratelimit.guarded(request, participant.email, lambda: service.check_password(hashing, participant, body.current_password))
    await service.change_password(session, hashing, participant, body.new_password, keep=signed_in.session)


@router.get("/me/sessions", response_model=list[SessionOut])
async def list_sessions(session: SessionDep, signed_in: CurrentSignIn):
    """One's signed-in browsers and API clients, newest first; `current` marks this request's."""
    rows = await sessions.active(session, signed_in.participant)
    return [SessionOut.model_validate(row).model_copy(update={"current": row.id == signed_in.session.id}) for row in rows]


@router.delete("/me/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_session(session: WritingSessionDep, signed_in: CurrentSignIn, session_id: uuid.UUID) -> None:
    """Sign one session out (404 if it is not one's own or has ended). `POST /auth/logout` signs out all."""
    await sessions.revoke(session, signed_in.participant, session_id)


@router.get("/me/export", responses={200: {"description": "JSON of one's account, affiliations, memberships, votes and comments"}})
async def export(session: SessionDep, participant: CurrentParticipant) -> JSONResponse:
    """Download everything CoGov keeps about oneself, as JSON (no secrets)."""
    data = await personal_data.export(session, participant)
    return JSONResponse(data, headers={"Content-Disposition": 'attachment; filename="cogov-my-data.json"', "Cache-Control": "no-store"})


@router.delete(
    "/me", status_code=status.HTTP_204_NO_CONTENT, responses={409: {"description": "`last_convener`: appoint another convener first"}}
)
async def delete_me(
    request: Request, session: WritingSessionDep, participant: CurrentParticipant, hashing: PasswordHashingDep, body: PasswordConfirmation
) -> None:
    """Delete one's account, with its password. Public acts (votes, comments, edits, audit events) stay in the
    record under a pseudonym such as "Former participant 7f3a"; email, name, password and sessions are gone."""
    await ratelimit.guarded(
        request, participant.email, lambda: service.check_password(hashing, participant, body.password, field="password")
    )
    await personal_data.delete_account(session, request.app.state.taxonomy, participant, request.app.state.clock.now())


@router.post("/me/two-factor/setup", response_model=TwoFactorSetup)
async def two_factor_setup(request: Request, participant: CurrentParticipant, settings: SettingsDep):
    """A new secret for an authenticator app (as text, an `otpauth://` URI and an inline SVG QR code) and an
    `enrolment` token; nothing is stored until `POST /me/two-factor` sends a code made from it."""
    if twofactor.enrolled(participant):
        raise twofactor.AlreadyEnrolled()
    return twofactor.new_enrolment(participant, settings.signing_key, request.app.state.clock.now())


@router.post("/me/two-factor", response_model=RecoveryCodes, status_code=status.HTTP_201_CREATED)
async def two_factor_enable(
    request: Request, session: WritingSessionDep, signed_in: CurrentSignIn, settings: SettingsDep, body: TwoFactorEnable
):
    """Turn two-factor sign-in on with the enrolment token and a current code (401 `invalid_code` if wrong).
    Answers the ten recovery codes, shown this once. This session counts as signed in with a second factor."""
    codes = await twofactor.enable(
        session,
        signed_in.participant,
        enrolment=body.enrolment,
        code=body.code,
        secret_key=settings.signing_key,
        now=request.app.state.clock.now(),
    )
    await sessions.mark_two_factor(session, signed_in.session)
    return RecoveryCodes(recovery_codes=codes)


@router.post("/me/two-factor/recovery-codes", response_model=RecoveryCodes)
async def two_factor_recovery_codes(request: Request, session: WritingSessionDep, participant: CurrentParticipant, body: CodeIn):
    """Ten new recovery codes for a current authenticator code; the old ones stop working."""
    now = request.app.state.clock.now()
    codes = await ratelimit.guarded(
        request, participant.email, lambda: twofactor.regenerate_recovery_codes(session, participant, body.code, now)
    )
    return RecoveryCodes(recovery_codes=codes)


@router.delete("/me/two-factor", status_code=status.HTTP_204_NO_CONTENT)
async def two_factor_disable(
    request: Request, session: WritingSessionDep, participant: CurrentParticipant, hashing: PasswordHashingDep, body: PasswordConfirmation
) -> None:
    """Turn two-factor sign-in off, with the password (409 for staff and administrators, who must keep it)."""
    await ratelimit.guarded(
        request, participant.email, lambda: service.check_password(hashing, participant, body.password, field="password")
    )
    await twofactor.disable(session, participant)


@router.get("/participants", response_model=Page[ParticipantOut])
async def participants(_staff: StaffParticipant, session: SessionDep, cursor: CursorQuery = None, limit: LimitQuery = 50):
    """Every account with its email and role, for clearing-house staff."""
    after = decode_cursor(cursor, str)[0] if cursor else None
    rows = await service.directory(session, after_email=after, limit=limit + 1)
    page = rows[:limit]
    return Page(items=page, next_cursor=encode_cursor(page[-1].email) if len(rows) > limit else None)


@router.put("/participants/{participant_id}/role", response_model=ParticipantOut)
async def set_role(session: WritingSessionDep, participant_id: uuid.UUID, body: RoleChange, admin: AdminParticipant):
    """Make an account participant, staff or admin (administrators only; audited)."""
    return await service.set_role(session, participant_id, body.role, by=admin)
