"""HTTP and WebSocket endpoints of live sync: tickets, the sync socket, stats for staff, and the live
text of a norm as Server-Sent Events for readers who do not edit."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Annotated
from urllib.parse import urlsplit

import structlog
from fastapi import APIRouter, FastAPI, Header, Request, WebSocket, status
from sqlalchemy import select
from sse_starlette import EventSourceResponse
from starlette.responses import JSONResponse

from norms.errors import NormNotFound, TranslationNotFound
from norms.models import Norm, NormTranslation, NormVersion
from services.api.deps import CurrentParticipant, SessionDep, SettingsDep, StaffParticipant
from services.api.ratelimit import client_address
from services.kit import metrics
from services.kit.origins import trusted_origin
from services.kit.ratelimit import TooManyRequests
from services.realtime import protocol, tickets
from services.realtime.connection import Identity
from services.realtime.hub import SyncHub
from services.realtime.readers import TextReader, heads_from_id
from services.realtime.schemas import SyncStats, TicketOut
from services.settings import Settings

log = structlog.get_logger()

router = APIRouter(prefix="/api/v1/sync", tags=["sync"])
# An endless stream: kept out of the OpenAPI schema (and so out of the property-based API tests); see docs/live-sync.md.
text_router = APIRouter(include_in_schema=False)

# A comment line this often keeps proxies from closing a quiet stream; a reader whose connection takes
# longer than SEND_SECONDS to take one event is cut off (it reconnects and resumes by Last-Event-ID).
PING_SECONDS = 15
SEND_SECONDS = 30

SYNC_PATH = "/api/v1/sync"


def _hub(app: FastAPI) -> SyncHub:
    return app.state.sync_hub


def sync_address(settings: Settings) -> str:
    """The public ws:// or wss:// address of the sync socket."""
    base = urlsplit(settings.base_url)
    scheme = "wss" if base.scheme == "https" else "ws"
    return f"{scheme}://{base.netloc}{base.path.rstrip('/')}{SYNC_PATH}"


@router.post("/tickets", status_code=status.HTTP_201_CREATED, response_model=TicketOut)
async def create_ticket(participant: CurrentParticipant, settings: SettingsDep) -> TicketOut:
    """A single-use ticket, valid for 60 seconds, to open an authenticated sync socket at `url`."""
    ticket, expires_at = tickets.issue(
        participant.id, participant.token_version, settings.signing_key, timedelta(seconds=settings.sync_ticket_seconds)
    )
    return TicketOut(ticket=ticket, expires_at=expires_at, url=f"{sync_address(settings)}?ticket={ticket}")


@router.get("/stats", response_model=SyncStats)
async def stats(request: Request, _staff: StaffParticipant) -> SyncStats:
    """Sockets, resident documents and their approximate memory on this instance (staff)."""
    return _hub(request.app).stats()


def origin_allowed(origin: str | None, host: str | None, scheme: str, settings: Settings) -> bool:
    """Browsers send Origin: allow this service's own origin (COGOV_BASE_URL, or the scheme and host the
    socket was opened at) and COGOV_ALLOWED_ORIGINS, compared by scheme, host and port.

    Clients that are not browsers send none and are allowed (Origin protects browser users only).
    """
    if origin is None:
        return True
    return trusted_origin(origin, settings, addressed=f"{scheme}://{host}" if host else None)


@router.websocket("")
async def sync_socket(websocket: WebSocket, ticket: str | None = None) -> None:
    """The automerge-repo sync protocol (CBOR). Without a ticket the socket may read public norms."""
    hub = _hub(websocket.app)
    settings = hub.settings
    if not origin_allowed(websocket.headers.get("origin"), websocket.headers.get("host"), websocket.url.scheme, settings):
        await websocket.close(protocol.POLICY, "origin not allowed")  # before accepting: the browser sees 403
        return
    identity = Identity()
    if ticket is not None:
        try:
            identity = await hub.redeem(ticket)
        except tickets.TicketRefused as exc:
            await websocket.accept()
            await websocket.close(protocol.UNAUTHORIZED, str(exc))
            return
        except Exception as exc:  # the ticket ledger (Redis) or the database is unreachable
            log.warning("sync.ticket_check_failed", error=repr(exc))
            await websocket.accept()
            await websocket.close(protocol.TRY_AGAIN_LATER, "cannot check tickets right now; try again")
            return
    if identity.participant_id is not None:
        held = sum(1 for connection in hub.connections if connection.participant_id == identity.participant_id and not connection.closing)
        if held >= settings.sync_max_sockets_per_participant:
            metrics.rate_limited("sync_sockets")
            await websocket.accept()
            await websocket.close(protocol.POLICY, f"more than {settings.sync_max_sockets_per_participant} open sync sockets")
            return
        await websocket.accept()
        await hub.serve(websocket, identity)
        return
    with hub.anonymous_place(client_address(websocket.scope)) as placed:
        if not placed:
            metrics.rate_limited("sync_anonymous")
            limit = settings.sync_anonymous_per_address
            await _refuse(websocket, f"more than {limit} signed-out sync sockets from your address; close some or sign in")
            return
        await websocket.accept()
        await hub.serve(websocket, identity)


async def _refuse(websocket: WebSocket, detail: str) -> None:
    """Refuse a handshake as too many: 429 with a JSON `detail` where the server can answer a handshake with
    HTTP (uvicorn's websockets protocol), else accept and close with the reason (1013, try again later)."""
    try:
        await websocket.send_denial_response(
            JSONResponse({"detail": detail, "code": TooManyRequests.code}, status.HTTP_429_TOO_MANY_REQUESTS)
        )
    except RuntimeError:
        await websocket.accept()
        await websocket.close(protocol.TRY_AGAIN_LATER, detail)


@text_router.get("/api/v1/norms/{norm_id}/text/events")
async def text_events(
    request: Request,
    norm_id: uuid.UUID,
    session: SessionDep,
    since: str | None = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> EventSourceResponse:
    """The norm's text as Server-Sent Events: `text` (the whole text and title) and `splice` (index, delete,
    insert in UTF-16 code units, and the title if it changed), each with the heads after it as its id.

    A client resumes from `Last-Event-ID` (or, on its first connection, `since`: the heads its page showed);
    an id this server does not know, or none, gets the whole text first.
    """
    document_id = await session.scalar(select(Norm.document_id).where(Norm.id == norm_id))
    if document_id is None:
        raise NormNotFound()
    return await _follow(request, document_id, since, last_event_id)


@text_router.get("/api/v1/norms/{norm_id}/versions/{number}/translations/{language}/text/events")
async def translation_text_events(
    request: Request,
    norm_id: uuid.UUID,
    number: int,
    language: str,
    session: SessionDep,
    since: str | None = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> EventSourceResponse:
    """A translation's text as Server-Sent Events, as the norm's text is (`…/text/events`): for readers who do
    not write it."""
    document_id = await session.scalar(
        select(NormTranslation.document_id)
        .join(NormVersion, NormVersion.id == NormTranslation.version_id)
        .where(NormTranslation.norm_id == norm_id, NormVersion.number == number, NormTranslation.language == language)
    )
    if document_id is None:
        raise TranslationNotFound()
    return await _follow(request, document_id, since, last_event_id)


async def _follow(request: Request, document_id: bytes, since: str | None, last_event_id: str | None) -> EventSourceResponse:
    hub = _hub(request.app)
    reader = await hub.follow_text(document_id, heads_from_id(last_event_id) or heads_from_id(since), client_address(request.scope))
    return EventSourceResponse(
        _text_stream(hub, document_id, reader),
        ping=PING_SECONDS,
        send_timeout=SEND_SECONDS,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _text_stream(hub: SyncHub, document_id: bytes, reader: TextReader) -> AsyncIterator[bytes]:
    try:
        while True:
            yield (await reader.next()).wire
    finally:
        hub.unfollow_text(document_id, reader)
        metrics.reader_left()
