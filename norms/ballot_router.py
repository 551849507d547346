"""HTTP for ballots on a norm's versions, their public record, what-if, and adoptions."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status

from networks.router import TaxonomyDep
from norms import ballots
from norms import service as norms
from norms.schemas import (
    AdoptionOut,
    BallotCreate,
    BallotOut,
    BallotSummary,
    OutcomeOut,
    VoteIn,
    WhatIfIn,
)
from services.api.deps import CurrentParticipant, SessionDep, WritingSessionDep
from services.kit.clock import Clock

router = APIRouter(prefix="/api/v1", tags=["ballots"])


def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock  # Starlette's app state is untyped; the app factory sets it
    return clock


ClockDep = Annotated[Clock, Depends(get_clock)]


@router.post("/norms/{norm_id}/ballots", status_code=status.HTTP_201_CREATED, response_model=BallotOut)
async def open_ballot(
    session: WritingSessionDep,
    norm_id: uuid.UUID,
    body: BallotCreate,
    participant: CurrentParticipant,
    clock: ClockDep,
    taxonomy: TaxonomyDep,
) -> BallotOut:
    """Open a ballot on a version (conveners of an active network). The electorate is the roster
    now (under the charter's verified_only, its members with verified affiliations; the others are
    listed in `excluded` with the reason), each member with their group, region and organisation
    record; it must span 2 groups and 2 regions. The charter's quorum and threshold at this moment apply until it closes."""
    ballot_id = await ballots.open_ballot(session, clock, participant.id, norm_id, body, vouches_needed=taxonomy.vouches_needed)
    return await ballots.ballot_view(session, taxonomy, ballot_id)


@router.get("/norms/{norm_id}/ballots", response_model=list[BallotSummary])
async def list_ballots(norm_id: uuid.UUID, session: SessionDep) -> list[BallotSummary]:
    """The norm's ballots, newest first."""
    return await ballots.list_ballots(session, await norms.get_norm(session, norm_id))


@router.get("/norms/{norm_id}/adoptions", response_model=list[AdoptionOut])
async def list_adoptions(norm_id: uuid.UUID, session: SessionDep, taxonomy: TaxonomyDep) -> list[AdoptionOut]:
    """Every adoption of the norm, newest first, with its record; `in_force` marks the current one."""
    return await ballots.list_adoptions(session, taxonomy, await norms.get_norm(session, norm_id))


@router.get("/ballots/{ballot_id}", response_model=BallotOut)
async def get_ballot(ballot_id: uuid.UUID, session: SessionDep, taxonomy: TaxonomyDep) -> BallotOut:
    """The public record, open or closed: version and text hash, policy, electorate, every vote
    with its elector's group, region and organisation, tallies, outcome and what is missing."""
    return await ballots.ballot_view(session, taxonomy, ballot_id)


@router.put("/ballots/{ballot_id}/vote", response_model=BallotOut)
async def vote(
    session: WritingSessionDep,
    ballot_id: uuid.UUID,
    body: VoteIn,
    participant: CurrentParticipant,
    clock: ClockDep,
    taxonomy: TaxonomyDep,
) -> BallotOut:
    """Approve, object (with a public reason) or abstain (electors only); change it any time
    until the ballot closes. The last elector's vote closes the ballot."""
    await ballots.cast_vote(session, clock, participant.id, ballot_id, body)
    return await ballots.ballot_view(session, taxonomy, ballot_id)


@router.post("/ballots/{ballot_id}/close", response_model=BallotOut)
async def close(
    session: WritingSessionDep, ballot_id: uuid.UUID, participant: CurrentParticipant, clock: ClockDep, taxonomy: TaxonomyDep
) -> BallotOut:
    """Close now (conveners), once the charter's minimum duration has passed or every elector
    has voted. Closing a closed ballot returns its record unchanged."""
    await ballots.close_by_convener(session, clock, participant.id, ballot_id)
    return await ballots.ballot_view(session, taxonomy, ballot_id)


@router.post("/ballots/{ballot_id}/what-if", response_model=OutcomeOut)
async def what_if(ballot_id: uuid.UUID, body: WhatIfIn, session: SessionDep, taxonomy: TaxonomyDep) -> OutcomeOut:
    """The outcome if these votes were added to those cast (replacing the same electors'
    votes): what consensus still needs. Nothing is stored."""
    return await ballots.what_if(session, taxonomy, ballot_id, body)
