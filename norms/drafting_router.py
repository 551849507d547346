"""HTTP for the drafting stage: discussion threads, suggested changes and sense checks on a norm."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from networks.router import TaxonomyDep
from norms import discussions, sensechecks, suggestions
from norms import service as norms
from norms.ballot_router import ClockDep
from norms.drafting_models import SuggestionStatus
from norms.drafting_schemas import (
    AnswerIn,
    Decision,
    DeclineIn,
    HideIn,
    PostCreate,
    SenseCheckCreate,
    SenseCheckOut,
    SuggestionCreate,
    SuggestionOut,
    SuggestionRefresh,
    ThreadCreate,
    ThreadOut,
    ThreadState,
)
from norms.router import DiffsDep, StoreDep
from services.api.deps import CurrentParticipant, SessionDep, WritingSessionDep

router = APIRouter(prefix="/api/v1", tags=["drafting"])


# --- Discussions -------------------------------------------------------------------------------


@router.get("/norms/{norm_id}/threads", response_model=list[ThreadOut])
async def list_threads(norm_id: uuid.UUID, session: SessionDep, store: StoreDep, diffs: DiffsDep) -> list[ThreadOut]:
    """The norm's discussion threads, oldest first, with their posts and where each passage is now (public)."""
    norm = await norms.get_norm(session, norm_id)
    return await discussions.threads(session, store, diffs, norm)


@router.post("/norms/{norm_id}/threads", status_code=status.HTTP_201_CREATED, response_model=ThreadOut)
async def open_thread(
    norm_id: uuid.UUID,
    body: ThreadCreate,
    session: WritingSessionDep,
    participant: CurrentParticipant,
    clock: ClockDep,
    store: StoreDep,
    diffs: DiffsDep,
) -> ThreadOut:
    """Open a thread (members), optionally on a passage `{start, end, quote, heads}` of the text; `@Name` mentions a member."""
    norm = await norms.get_norm(session, norm_id)
    thread = await discussions.open_thread(session, store, clock.now(), participant, norm, body)
    return await discussions.thread_view(session, store, diffs, thread)


@router.get("/threads/{thread_id}", response_model=ThreadOut)
async def get_thread(thread_id: uuid.UUID, session: SessionDep, store: StoreDep, diffs: DiffsDep) -> ThreadOut:
    thread, _ = await discussions.find_thread(session, thread_id)
    return await discussions.thread_view(session, store, diffs, thread)


@router.post("/threads/{thread_id}/posts", status_code=status.HTTP_201_CREATED, response_model=ThreadOut)
async def reply(
    thread_id: uuid.UUID,
    body: PostCreate,
    session: WritingSessionDep,
    participant: CurrentParticipant,
    clock: ClockDep,
    store: StoreDep,
    diffs: DiffsDep,
) -> ThreadOut:
    """Reply in a thread (members)."""
    thread = await discussions.reply(session, clock.now(), participant, thread_id, body)
    return await discussions.thread_view(session, store, diffs, thread)


@router.put("/threads/{thread_id}/status", response_model=ThreadOut)
async def set_thread_status(
    thread_id: uuid.UUID,
    body: ThreadState,
    session: WritingSessionDep,
    participant: CurrentParticipant,
    clock: ClockDep,
    store: StoreDep,
    diffs: DiffsDep,
) -> ThreadOut:
    """Resolve or reopen a thread (members)."""
    thread = await discussions.set_status(session, clock.now(), participant, thread_id, body)
    return await discussions.thread_view(session, store, diffs, thread)


@router.post("/posts/{post_id}/hide", response_model=ThreadOut)
async def hide_post(
    post_id: uuid.UUID,
    body: HideIn,
    session: WritingSessionDep,
    participant: CurrentParticipant,
    clock: ClockDep,
    store: StoreDep,
    diffs: DiffsDep,
) -> ThreadOut:
    """Hide an abusive post with a public reason (conveners); its text stays in the audit log."""
    thread = await discussions.hide_post(session, clock.now(), participant, post_id, body)
    return await discussions.thread_view(session, store, diffs, thread)


# --- Suggested changes -------------------------------------------------------------------------


@router.get("/norms/{norm_id}/suggestions", response_model=list[SuggestionOut])
async def list_suggestions(
    norm_id: uuid.UUID,
    session: SessionDep,
    store: StoreDep,
    diffs: DiffsDep,
    status: Annotated[SuggestionStatus | None, Query(description="Only pending, accepted or declined ones")] = None,
) -> list[SuggestionOut]:
    """The norm's suggested changes, oldest first, with insertion and deletion marks (public)."""
    norm = await norms.get_norm(session, norm_id)
    return await suggestions.views(session, store, diffs, norm, status=status)


@router.post("/norms/{norm_id}/suggestions", status_code=status.HTTP_201_CREATED, response_model=SuggestionOut)
async def suggest(
    norm_id: uuid.UUID,
    body: SuggestionCreate,
    session: WritingSessionDep,
    participant: CurrentParticipant,
    clock: ClockDep,
    store: StoreDep,
    diffs: DiffsDep,
) -> SuggestionOut:
    """Suggest replacement text for a passage (members; during an open consultation, anyone signed in with an
    affiliation). 409 with the passage's current words if `quote` no longer matches; 413 over the edit limits."""
    norm = await norms.get_norm(session, norm_id)
    made = await suggestions.suggest(session, store, clock.now(), participant, norm, body)
    return await suggestions.view(session, store, diffs, made)


@router.get("/suggestions/{suggestion_id}", response_model=SuggestionOut)
async def get_suggestion(suggestion_id: uuid.UUID, session: SessionDep, store: StoreDep, diffs: DiffsDep) -> SuggestionOut:
    found, _ = await suggestions.get(session, suggestion_id)
    return await suggestions.view(session, store, diffs, found)


@router.post("/suggestions/{suggestion_id}/accept", response_model=SuggestionOut)
async def accept(
    suggestion_id: uuid.UUID,
    body: Decision,
    session: WritingSessionDep,
    participant: CurrentParticipant,
    clock: ClockDep,
    store: StoreDep,
    diffs: DiffsDep,
) -> SuggestionOut:
    """Accept (members): the replacement is applied to the live text as the suggester's change. 409 when the
    passage has changed since (with its current words) or the suggestion is already decided."""
    accepted = await suggestions.accept(session, store, clock.now(), participant, suggestion_id, body)
    return await suggestions.view(session, store, diffs, accepted)


@router.post("/suggestions/{suggestion_id}/decline", response_model=SuggestionOut)
async def decline(
    suggestion_id: uuid.UUID,
    body: DeclineIn,
    session: WritingSessionDep,
    participant: CurrentParticipant,
    clock: ClockDep,
    store: StoreDep,
    diffs: DiffsDep,
) -> SuggestionOut:
    """Decline with a public reason (members)."""
    declined = await suggestions.decline(session, clock.now(), participant, suggestion_id, body)
    return await suggestions.view(session, store, diffs, declined)


@router.post("/suggestions/{suggestion_id}/refresh", response_model=SuggestionOut)
async def refresh(
    suggestion_id: uuid.UUID,
    body: SuggestionRefresh,
    session: WritingSessionDep,
    participant: CurrentParticipant,
    clock: ClockDep,
    store: StoreDep,
    diffs: DiffsDep,
) -> SuggestionOut:
    """Move an outdated suggestion onto the passage as it is now (its author)."""
    refreshed = await suggestions.refresh(session, store, clock.now(), participant, suggestion_id, body)
    return await suggestions.view(session, store, diffs, refreshed)


# --- Sense checks ------------------------------------------------------------------------------


@router.get("/norms/{norm_id}/sense-checks", response_model=list[SenseCheckOut])
async def list_sense_checks(norm_id: uuid.UUID, session: SessionDep, clock: ClockDep, taxonomy: TaxonomyDep) -> list[SenseCheckOut]:
    """The norm's sense checks, newest first, each tallied by the sign-off rule (public)."""
    norm = await norms.get_norm(session, norm_id)
    return [await sensechecks.view(session, taxonomy, clock.now(), check) for check in await sensechecks.list_for_norm(session, norm)]


@router.post("/norms/{norm_id}/sense-checks", status_code=status.HTTP_201_CREATED, response_model=SenseCheckOut)
async def ask(
    norm_id: uuid.UUID,
    body: SenseCheckCreate,
    session: WritingSessionDep,
    participant: CurrentParticipant,
    clock: ClockDep,
    taxonomy: TaxonomyDep,
) -> SenseCheckOut:
    """Ask the members a non-binding question on a version or the current text (conveners)."""
    norm = await norms.get_norm(session, norm_id)
    check = await sensechecks.ask(session, clock.now(), participant, norm, body)
    return await sensechecks.view(session, taxonomy, clock.now(), check)


@router.get("/sense-checks/{check_id}", response_model=SenseCheckOut)
async def get_sense_check(check_id: uuid.UUID, session: SessionDep, clock: ClockDep, taxonomy: TaxonomyDep) -> SenseCheckOut:
    """One sense check with every answer and its tally by group and region: whether a ballot would pass now, or what is missing."""
    return await sensechecks.view(session, taxonomy, clock.now(), await sensechecks.get(session, check_id))


@router.put("/sense-checks/{check_id}/answer", response_model=SenseCheckOut)
async def answer(
    check_id: uuid.UUID, body: AnswerIn, session: WritingSessionDep, participant: CurrentParticipant, clock: ClockDep, taxonomy: TaxonomyDep
) -> SenseCheckOut:
    """Answer agree, disagree (a reason required) or abstain (members); changeable until it closes (then 409)."""
    check = await sensechecks.get(session, check_id)
    await sensechecks.answer(session, clock.now(), participant, check, body)
    return await sensechecks.view(session, taxonomy, clock.now(), check)


@router.post("/sense-checks/{check_id}/close", response_model=SenseCheckOut)
async def close(
    check_id: uuid.UUID, session: WritingSessionDep, participant: CurrentParticipant, clock: ClockDep, taxonomy: TaxonomyDep
) -> SenseCheckOut:
    """Close now (conveners)."""
    check = await sensechecks.get(session, check_id)
    await sensechecks.close(session, clock.now(), participant, check)
    return await sensechecks.view(session, taxonomy, clock.now(), check)
