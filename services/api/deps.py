"""Request-scoped dependencies shared by every router."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from services.accounts import service as accounts
from services.accounts import sessions, twofactor
from services.accounts.models import Participant, Role
from services.accounts.security import PasswordHashing
from services.kit.clock import Clock
from services.kit.db import take_write_lock, transaction
from services.kit.errors import Forbidden, InvalidInput
from services.kit.pagination import MAX_LIMIT
from services.settings import Settings

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_db_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request: committed when the handler succeeds, rolled back when it raises.

    A service that writes a norm's document commits it earlier, before the store writes (see hand_back).
    """
    async with transaction(request.app.state.sessionmaker) as session:
        yield session


def get_password_hashing(request: Request) -> PasswordHashing:
    return request.app.state.password_hashing


def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock  # Starlette's app state is untyped; the app factory sets it
    return clock


SettingsDep = Annotated[Settings, Depends(get_settings)]
ClockDep = Annotated[Clock, Depends(get_clock)]
PasswordHashingDep = Annotated[PasswordHashing, Depends(get_password_hashing)]
# scope="function": the commit happens before the response leaves, so a 2xx means it is stored.
SessionDep = Annotated[AsyncSession, Depends(get_db_session, scope="function")]


async def get_writing_session(session: SessionDep) -> AsyncSession:
    """The request's session, holding SQLite's write lock from its first statement (see take_write_lock)."""
    await take_write_lock(session)
    return session


# For requests that write through the request session. Declare it before CurrentParticipant:
# dependencies resolve in order, and the lock must come before the session's first read.
# Requests that write a norm's document must not use it: the norm store writes in its own transaction.
WritingSessionDep = Annotated[AsyncSession, Depends(get_writing_session)]


async def get_signed_in(
    session: SessionDep, settings: SettingsDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> sessions.SignedIn | None:
    if token is None:
        return None
    return await sessions.resolve(session, token, settings.signing_key)


OptionalSignedIn = Annotated[sessions.SignedIn | None, Depends(get_signed_in)]


async def get_current_sign_in(signed_in: OptionalSignedIn) -> sessions.SignedIn:
    if signed_in is None:
        raise accounts.InvalidToken("Authentication required: send 'Authorization: Bearer <token>'")
    return signed_in


# The signed-in participant with the session their token belongs to (account settings need both).
CurrentSignIn = Annotated[sessions.SignedIn, Depends(get_current_sign_in)]


async def get_optional_participant(signed_in: OptionalSignedIn) -> Participant | None:
    return signed_in.participant if signed_in is not None else None


async def get_current_participant(participant: Annotated[Participant | None, Depends(get_optional_participant)]) -> Participant:
    if participant is None:
        raise accounts.InvalidToken("Authentication required: send 'Authorization: Bearer <token>'")
    return participant


CurrentParticipant = Annotated[Participant, Depends(get_current_participant)]
OptionalParticipant = Annotated[Participant | None, Depends(get_optional_participant)]


async def get_staff(signed_in: CurrentSignIn) -> Participant:
    participant = signed_in.participant
    if participant.role not in (Role.staff, Role.admin):
        raise Forbidden("This action is for clearing-house staff")
    twofactor.require_for_role(participant, signed_in.session.two_factor)
    return participant


async def get_registrar(signed_in: CurrentSignIn) -> Participant:
    participant = signed_in.participant
    if participant.role is not Role.registrar:
        raise Forbidden("This action is for registrars")
    twofactor.require_for_role(participant, signed_in.session.two_factor)
    return participant


async def get_admin(signed_in: CurrentSignIn) -> Participant:
    participant = signed_in.participant
    if participant.role is not Role.admin:
        raise Forbidden("This action is for administrators")
    twofactor.require_for_role(participant, signed_in.session.two_factor)
    return participant


StaffParticipant = Annotated[Participant, Depends(get_staff)]
AdminParticipant = Annotated[Participant, Depends(get_admin)]

# Query parameters of paginated listings (services.kit.pagination makes and reads the cursors).
LimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")]
CursorQuery = Annotated[str | None, Query(max_length=512, description="`next_cursor` of the previous page")]


class UnknownParameter(InvalidInput):
    """The request names a query parameter this endpoint does not take."""

    code = "unknown_parameter"


async def refuse_unknown_query(request: Request) -> None:
    """Refuse (422) a query parameter the route does not declare: one a client means to filter by, ignored,
    would silently answer everything. The route's own declared parameters are the list, so a new one joins it."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    known: set[str] = set()
    waiting = [dependant]
    while waiting:  # the route's parameters and those of its dependencies
        current = waiting.pop()
        known.update(param.alias for param in current.query_params)
        waiting.extend(current.dependencies)
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise UnknownParameter(
            f"Unknown query parameter {', '.join(repr(name[:40]) for name in unknown[:5])}; this listing takes " + ", ".join(sorted(known)),
            unknown=unknown[:5],
        )


# Dependencies of a listing that answers only the query parameters it declares.
KnownQueryOnly = [Depends(refuse_unknown_query)]
