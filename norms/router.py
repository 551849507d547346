from __future__ import annotations

import re
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import PlainTextResponse, Response

from norms import service
from norms.diff import DiffCache
from norms.schemas import (
    ApplyResult,
    Authorship,
    DiffOut,
    EditRequest,
    EditResult,
    HistoryEntry,
    NormCreate,
    NormOut,
    NormSummary,
    TextAt,
    VersionCreate,
    VersionOut,
    VersionText,
)
from norms.store import NormStore
from services.api.deps import CurrentParticipant, CursorQuery, LimitQuery, SessionDep, WritingSessionDep
from services.kit.pagination import Page, decode_cursor

router = APIRouter(prefix="/api/v1", tags=["norms"])

AUTOMERGE_MEDIA_TYPE = "application/octet-stream"
# Paths whose bodies may exceed the general request limit, up to the store's submission limit.
AUTOMERGE_UPLOAD = re.compile(r"^/api/v1/norms/[^/]+/automerge$")


def get_store(request: Request) -> NormStore:
    store: NormStore = request.app.state.norm_store  # Starlette's app state is untyped; the app factory sets it
    return store


StoreDep = Annotated[NormStore, Depends(get_store)]


def get_diffs(request: Request) -> DiffCache:
    diffs: DiffCache = request.app.state.diffs  # Starlette's app state is untyped; the app factory sets it
    return diffs


DiffsDep = Annotated[DiffCache, Depends(get_diffs)]


@router.post("/networks/{slug}/norms", status_code=status.HTTP_201_CREATED, response_model=NormOut)
async def create_norm(session: WritingSessionDep, slug: str, body: NormCreate, participant: CurrentParticipant, store: StoreDep) -> NormOut:
    """Start a norm in a network (members only). Its document URL works with any Automerge Repo peer."""
    return await service.create_norm(session, store, slug, participant, body)


@router.get("/networks/{slug}/norms", response_model=list[NormSummary])
async def list_norms(slug: str, session: SessionDep) -> list[NormSummary]:
    return await service.list_norms(session, slug)


@router.get("/norms/{norm_id}", response_model=NormOut)
async def get_norm(norm_id: uuid.UUID, session: SessionDep, store: StoreDep) -> NormOut:
    """A norm's current title, text and heads."""
    return await service.norm_view(session, store, await service.get_norm(session, norm_id))


@router.post("/norms/{norm_id}/edits", response_model=EditResult)
async def edit(norm_id: uuid.UUID, body: EditRequest, participant: CurrentParticipant, session: SessionDep, store: StoreDep) -> EditResult:
    """Apply splices (code-point indexes) as the signed-in member; with `base_heads`, concurrent edits merge."""
    norm = await service.get_norm(session, norm_id)
    return await service.edit(session, store, norm, participant, body)


@router.get("/norms/{norm_id}/automerge", response_class=Response, responses={200: {"content": {AUTOMERGE_MEDIA_TYPE: {}}}})
async def download(norm_id: uuid.UUID, session: SessionDep, store: StoreDep) -> Response:
    """The whole document as `Document.save()` bytes, loadable by any Automerge peer."""
    norm = await service.get_norm(session, norm_id)
    return Response(await service.save_automerge(session, store, norm), media_type=AUTOMERGE_MEDIA_TYPE)


@router.post("/norms/{norm_id}/automerge", response_model=ApplyResult)
async def upload(
    norm_id: uuid.UUID, request: Request, participant: CurrentParticipant, session: SessionDep, store: StoreDep
) -> ApplyResult:
    """Merge raw Automerge changes or a saved document from a member's peer (its actors become theirs)."""
    norm = await service.get_norm(session, norm_id)
    data = await request.body()
    applied = await service.apply_automerge(session, store, norm, participant, data)
    return ApplyResult(heads=applied.heads, stored=[change.hash_hex for change in applied.changes])


@router.post("/norms/{norm_id}/versions", status_code=status.HTTP_201_CREATED, response_model=VersionOut)
async def create_version(
    session: WritingSessionDep, norm_id: uuid.UUID, body: VersionCreate, participant: CurrentParticipant, store: StoreDep
) -> VersionOut:
    """Tag the current text as the next draft version (members). Versions never change."""
    return await service.create_version(session, store, await service.get_norm(session, norm_id), participant, body)


@router.get("/norms/{norm_id}/versions", response_model=list[VersionOut])
async def list_versions(norm_id: uuid.UUID, session: SessionDep) -> list[VersionOut]:
    return await service.list_versions(session, await service.get_norm(session, norm_id))


@router.get("/norms/{norm_id}/versions/{number}", response_model=VersionText)
async def get_version(norm_id: uuid.UUID, number: int, session: SessionDep, store: StoreDep) -> VersionText:
    """The title and text exactly as they were when the version was tagged."""
    return await service.version_text(session, store, await service.get_norm(session, norm_id), number)


@router.get("/norms/{norm_id}/diff", response_model=DiffOut, responses={200: {"content": {"text/plain": {}}}})
async def diff(
    norm_id: uuid.UUID,
    session: SessionDep,
    store: StoreDep,
    diffs: DiffsDep,
    from_: Annotated[str, Query(alias="from", max_length=4200, description="Version number, heads (comma-separated hex) or `current`")],
    to: Annotated[str, Query(max_length=4200)] = "current",
    format: Annotated[str, Query(pattern="^(words|unified)$")] = "words",
) -> DiffOut | PlainTextResponse:
    """Word-level segments between two points of history, or `?format=unified` for a unified text diff.

    Any two versions answer within about `COGOV_DIFF_SECONDS` of aligning: past it, the changes
    shown are coarser (larger replaced runs), never wrong.
    """
    norm = await service.get_norm(session, norm_id)
    if format == "unified":
        return PlainTextResponse(await service.unified_diff(session, store, diffs, norm, from_, to))
    return await service.word_diff(session, store, diffs, norm, from_, to)


@router.get("/norms/{norm_id}/history", response_model=Page[HistoryEntry])
async def history(norm_id: uuid.UUID, session: SessionDep, cursor: CursorQuery = None, limit: LimitQuery = 50) -> Page[HistoryEntry]:
    """Every stored change, newest first: who, when, characters inserted and deleted."""
    norm = await service.get_norm(session, norm_id)
    before = decode_cursor(cursor, int)[0] if cursor else None
    entries, next_cursor = await service.history(session, norm, before, limit)
    return Page(items=entries, next_cursor=next_cursor)


@router.get("/norms/{norm_id}/text", response_model=TextAt)
async def text_at(
    norm_id: uuid.UUID, session: SessionDep, store: StoreDep, at: Annotated[str, Query(pattern="^[0-9a-fA-F]{64}$")]
) -> TextAt:
    """The text as it was right after the change `at` (the time slider)."""
    return await service.text_at(session, store, await service.get_norm(session, norm_id), at)


@router.get("/norms/{norm_id}/authorship", response_model=Authorship)
async def authorship(norm_id: uuid.UUID, session: SessionDep, store: StoreDep) -> Authorship:
    """Who typed each character of the current text, as spans."""
    return await service.authorship(session, store, await service.get_norm(session, norm_id))
