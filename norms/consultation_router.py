"""HTTP for public consultations on a norm's version: comments, anchors, replies, resolutions, moderation."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, status
from sqlalchemy.ext.asyncio import AsyncSession

from norms import consultations
from norms import service as norms
from norms.ballot_router import ClockDep
from norms.consultation_models import ConsultationComment
from norms.consultation_schemas import (
    CommentCreate,
    CommentOut,
    ConsultationCreate,
    ConsultationOut,
    CurrentAnchor,
    Moderation,
    ReplyCreate,
    Resolution,
)
from norms.router import DiffsDep, StoreDep
from services.api.deps import CurrentParticipant, SessionDep, SettingsDep, WritingSessionDep
from services.clearinghouse import websub

router = APIRouter(prefix="/api/v1", tags=["consultations"])


async def _comment_out(session: AsyncSession, comment: ConsultationComment) -> CommentOut:
    [found] = await consultations.comments(session, comment.consultation_id, comment_id=comment.id)
    return found


@router.post("/norms/{norm_id}/consultations", status_code=status.HTTP_201_CREATED, response_model=ConsultationOut)
async def open_consultation(
    request: Request,
    session: WritingSessionDep,
    norm_id: uuid.UUID,
    body: ConsultationCreate,
    participant: CurrentParticipant,
    clock: ClockDep,
    settings: SettingsDep,
) -> ConsultationOut:
    """Open a version for public comment until `closes_at` (conveners of the norm's network); subscribers of the
    consultations feed are pushed the feed with it."""
    norm = await norms.get_norm(session, norm_id)
    consultation = await consultations.open_consultation(session, clock.now(), participant, norm, body)
    await websub.announce_consultation(session, consultation, now=clock.now(), base_url=settings.base_url)
    request.app.state.clearinghouse.nudge()
    return await consultations.view(session, consultation, clock.now(), settings.base_url)


@router.get("/norms/{norm_id}/consultations", response_model=list[ConsultationOut])
async def norm_consultations(norm_id: uuid.UUID, session: SessionDep, clock: ClockDep, settings: SettingsDep) -> list[ConsultationOut]:
    """The norm's consultations, newest first."""
    norm = await norms.get_norm(session, norm_id)
    found = await consultations.list_consultations(session, clock.now(), norm_id=norm.id)
    return await consultations.views(session, found, clock.now(), settings.base_url)


@router.get("/consultations", response_model=list[ConsultationOut])
async def list_consultations(
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    status: Annotated[Literal["open", "closed"] | None, Query(description="Only open or only closed ones")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ConsultationOut]:
    """Consultations, newest first."""
    found = await consultations.list_consultations(session, clock.now(), status=status, limit=limit)
    return await consultations.views(session, found, clock.now(), settings.base_url)


@router.get("/consultations/{consultation_id}", response_model=ConsultationOut)
async def get_consultation(consultation_id: uuid.UUID, session: SessionDep, clock: ClockDep, settings: SettingsDep) -> ConsultationOut:
    """One consultation; once closed, with its summary."""
    consultation = await consultations.get_consultation(session, consultation_id)
    return await consultations.view(session, consultation, clock.now(), settings.base_url)


@router.post("/consultations/{consultation_id}/close", response_model=ConsultationOut)
async def close_consultation(
    session: WritingSessionDep, consultation_id: uuid.UUID, participant: CurrentParticipant, clock: ClockDep, settings: SettingsDep
) -> ConsultationOut:
    """Close now (conveners); closing a closed consultation changes nothing."""
    consultation = await consultations.get_consultation(session, consultation_id)
    await consultations.close_consultation(session, clock.now(), participant, consultation)
    return await consultations.view(session, consultation, clock.now(), settings.base_url)


@router.get("/consultations/{consultation_id}/comments", response_model=list[CommentOut])
async def list_comments(consultation_id: uuid.UUID, session: SessionDep) -> list[CommentOut]:
    """Every comment, oldest first, with its author's affiliation, anchor, replies and status; hidden ones show the reason only."""
    consultation = await consultations.get_consultation(session, consultation_id)
    return await consultations.comments(session, consultation.id)


@router.post("/consultations/{consultation_id}/comments", status_code=status.HTTP_201_CREATED, response_model=CommentOut)
async def comment(
    session: WritingSessionDep,
    consultation_id: uuid.UUID,
    body: CommentCreate,
    participant: CurrentParticipant,
    clock: ClockDep,
    store: StoreDep,
) -> CommentOut:
    """Comment while the consultation is open (anyone signed in with an affiliation), optionally on a passage `{start, end, quote}`."""
    consultation = await consultations.get_consultation(session, consultation_id)
    made = await consultations.add_comment(session, store, clock.now(), participant, consultation, body)
    return await _comment_out(session, made)


@router.get("/consultations/{consultation_id}/anchors", response_model=list[CurrentAnchor])
async def anchors(consultation_id: uuid.UUID, session: SessionDep, store: StoreDep, diffs: DiffsDep) -> list[CurrentAnchor]:
    """Where each anchored comment's passage is in the norm's current text (`exact`, `shifted` when edited inside, or `lost`)."""
    consultation = await consultations.get_consultation(session, consultation_id)
    return await consultations.current_anchors(session, store, diffs, consultation)


@router.post("/comments/{comment_id}/replies", status_code=status.HTTP_201_CREATED, response_model=CommentOut)
async def reply(
    session: WritingSessionDep, comment_id: uuid.UUID, body: ReplyCreate, participant: CurrentParticipant, clock: ClockDep
) -> CommentOut:
    """Answer a comment (members of the norm's network)."""
    return await _comment_out(session, await consultations.reply(session, clock.now(), participant, comment_id, body))


@router.put("/comments/{comment_id}/resolution", response_model=CommentOut)
async def resolve(
    session: WritingSessionDep, comment_id: uuid.UUID, body: Resolution, participant: CurrentParticipant, clock: ClockDep
) -> CommentOut:
    """Mark a comment `addressed` (with the version that addresses it) or `declined` (with a reason); members."""
    return await _comment_out(session, await consultations.resolve(session, clock.now(), participant, comment_id, body))


@router.post("/comments/{comment_id}/hide", response_model=CommentOut)
async def hide(
    session: WritingSessionDep, comment_id: uuid.UUID, body: Moderation, participant: CurrentParticipant, clock: ClockDep
) -> CommentOut:
    """Hide an abusive comment with a public reason (conveners); its text stays in the audit log."""
    return await _comment_out(session, await consultations.hide(session, clock.now(), participant, comment_id, body))
