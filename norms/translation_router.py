"""HTTP for translations of a norm's versions; their text is edited over the live-sync socket (docs/live-sync.md)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, status

from norms import service, translations
from norms.ballot_router import ClockDep
from norms.router import StoreDep
from norms.schemas import EditRequest, EditResult, TranslationCreate, TranslationOut, TranslationSummary
from services.api.deps import CurrentParticipant, SessionDep, WritingSessionDep

router = APIRouter(prefix="/api/v1", tags=["translations"])

VERSION_TRANSLATIONS = "/norms/{norm_id}/versions/{number}/translations"


@router.post(VERSION_TRANSLATIONS, status_code=status.HTTP_201_CREATED, response_model=TranslationOut)
async def create_translation(
    session: WritingSessionDep, norm_id: uuid.UUID, number: int, body: TranslationCreate, participant: CurrentParticipant, store: StoreDep
) -> TranslationOut:
    """Start a translation of a version into another UN language (members): its own Automerge document (`url`),
    a copy of the version's text to translate passage by passage, co-edited live over the sync socket.

    422 for the norm's own language (the authentic text) or an unsupported one; 409 if the version already has one.
    """
    return await translations.create(session, store, await service.get_norm(session, norm_id), number, participant, body)


@router.get(VERSION_TRANSLATIONS, response_model=list[TranslationSummary])
async def list_translations(norm_id: uuid.UUID, number: int, session: SessionDep) -> list[TranslationSummary]:
    return await translations.listing(session, await service.get_norm(session, norm_id), number)


@router.get(VERSION_TRANSLATIONS + "/{language}", response_model=TranslationOut)
async def get_translation(norm_id: uuid.UUID, number: int, language: str, session: SessionDep, store: StoreDep) -> TranslationOut:
    """The translation's current text, and the text a convener last reviewed (what the clearing house publishes)."""
    return await translations.view(session, store, await service.get_norm(session, norm_id), number, language)


@router.post(VERSION_TRANSLATIONS + "/{language}/edits", response_model=EditResult)
async def edit_translation(
    norm_id: uuid.UUID, number: int, language: str, body: EditRequest, participant: CurrentParticipant, session: SessionDep, store: StoreDep
) -> EditResult:
    """Apply splices (code-point indexes) and a title to the translation as the signed-in member, as
    `POST /norms/{id}/edits` does to a norm; live editors use the sync socket with the translation's `url`."""
    norm = await service.get_norm(session, norm_id)
    return await translations.edit(session, store, norm, number, language, participant, body)


@router.post(VERSION_TRANSLATIONS + "/{language}/review", response_model=TranslationOut)
async def review_translation(
    request: Request,
    session: WritingSessionDep,
    norm_id: uuid.UUID,
    number: int,
    language: str,
    participant: CurrentParticipant,
    store: StoreDep,
    clock: ClockDep,
) -> TranslationOut:
    """Mark the translation reviewed as it stands now (conveners). Its text as reviewed is published with the
    version's entry, labelled a translation of the authentic text; members may go on editing, and a later
    review replaces what is published."""
    reviewed = await translations.review(
        session, store, await service.get_norm(session, norm_id), number, language, participant, clock.now()
    )
    request.app.state.clearinghouse.cache.invalidate()
    return reviewed
