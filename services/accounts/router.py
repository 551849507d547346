from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, status
from fastapi.security import OAuth2PasswordRequestForm

from services.accounts import service
from services.accounts.schemas import ParticipantOut, Registration, Token
from services.api.deps import CurrentParticipant, SessionDep, SettingsDep

router = APIRouter(prefix="/api/v1", tags=["accounts"])


@router.post("/auth/register", status_code=status.HTTP_201_CREATED, response_model=ParticipantOut)
async def register(body: Registration, session: SessionDep):
    """Create an account. Passwords need at least 10 characters; an email can register once."""
    return await service.register(session, email=body.email, password=body.password, display_name=body.display_name)


@router.post("/auth/token", response_model=Token)
async def token(form: Annotated[OAuth2PasswordRequestForm, Depends()], session: SessionDep, settings: SettingsDep):
    """Exchange email (as `username`) and password for a bearer token."""
    participant = await service.authenticate(session, form.username, form.password)
    access_token, expires_at = service.issue(participant, settings.signing_key, timedelta(minutes=settings.access_token_minutes))
    return Token(access_token=access_token, expires_at=expires_at)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(participant: CurrentParticipant, session: SessionDep) -> None:
    """Revoke every token of the signed-in participant, this one included, at once."""
    await service.logout(session, participant)


@router.get("/me", response_model=ParticipantOut)
async def me(participant: CurrentParticipant):
    return participant
