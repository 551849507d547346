from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from services.accounts import service
from services.accounts.schemas import ParticipantOut, Registration, RoleChange, SignUpReceived, Token
from services.api import ratelimit
from services.api.deps import (
    AdminParticipant,
    ClockDep,
    CurrentParticipant,
    CursorQuery,
    LimitQuery,
    PasswordHashingDep,
    SessionDep,
    SettingsDep,
    StaffParticipant,
    WritingSessionDep,
)
from services.kit.pagination import Page, decode_cursor, encode_cursor

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

    After 10 failed attempts in a minute for one account, or from one address, this answers 429 with Retry-After.
    """
    participant = await ratelimit.authenticate(request, session, form.username, form.password)
    access_token, expires_at = service.issue(participant, settings.signing_key, timedelta(minutes=settings.access_token_minutes))
    return Token(access_token=access_token, expires_at=expires_at)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(session: WritingSessionDep, participant: CurrentParticipant) -> None:
    """Revoke every token of the signed-in participant, this one included, at once."""
    await service.logout(session, participant)


@router.get("/me", response_model=ParticipantOut)
async def me(participant: CurrentParticipant):
    return participant


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
