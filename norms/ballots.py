"""Ballots on a norm's version: open, vote, what-if, close, adopt.

`norms.signoff` decides; this module freezes what it decides over (the electorate with the
affiliations of the moment the ballot opened, and the charter's policy then), stores its
verdict, and makes an adoption durable: the norm's status, the adoption record and the
`norm.adopted` outbox event commit together or not at all. Every act is in the audit log.

Concurrency: every write to a ballot first locks its row (PostgreSQL `FOR UPDATE`; on SQLite
the database write lock, taken as the transaction's first statement), then re-reads it. Votes,
a convener's close and the deadline sweep of any number of instances therefore take turns,
and whoever comes second to a closed ballot finds it closed: one result, one adoption (the
`norm_adoptions.ballot_id` unique constraint would refuse a second), one outbox event.
Locks are taken in the order ballot → norm → network → audit chain.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Hashable, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any, TypeVar, cast

import structlog
from sqlalchemy import Row, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from networks import evidence, membership
from networks import service as networks
from networks.models import Affiliation, Membership, Network, NetworkStatus, VerificationState
from networks.taxonomy import Taxonomy
from norms import outbox, signoff
from norms.errors import (
    BallotAlreadyOpen,
    BallotClosed,
    BallotNotFound,
    ClosingTimeInvalid,
    ElectorateTooNarrow,
    NetworkNotActive,
    NormNotFound,
    NotAnElector,
    TooEarlyToClose,
    VersionAlreadyAdopted,
    VersionNotFound,
    WhatIfInvalid,
)
from norms.models import (
    Adoption,
    Ballot,
    BallotElector,
    BallotStatus,
    BallotVote,
    CloseReason,
    Norm,
    NormStatus,
    NormVersion,
    OutcomeRecord,
    PolicyRecord,
    TallyRecord,
    VoteRecord,
)
from norms.schemas import (
    AdoptionOut,
    BallotCreate,
    BallotOut,
    BallotSummary,
    BallotVersion,
    ElectorOut,
    OutcomeOut,
    PersonRef,
    PolicyOut,
    TallyOut,
    VoteIn,
    VoteOut,
    WhatIfIn,
)
from services.accounts.models import Participant
from services.audit import service as audit
from services.kit import metrics
from services.kit.clock import Clock
from services.kit.db import take_write_lock, transaction
from services.notifications import events as notifications

log = structlog.get_logger()

MAX_BALLOT_DAYS = 366
# How often `cogov serve` and `cogov worker` look for ballots past their deadline.
SWEEP_SECONDS = 15.0
NORM_ADOPTED = "norm.adopted"


# --- Opening -------------------------------------------------------------------------------


async def open_ballot(
    session: AsyncSession,
    clock: Clock,
    actor_id: uuid.UUID,
    norm_id: uuid.UUID,
    body: BallotCreate,
    *,
    vouches_needed: int = evidence.DEFAULT_VOUCHES_NEEDED,
) -> uuid.UUID:
    """Open a ballot on one version (conveners of an active network); the electorate is the roster now."""
    await take_write_lock(session)
    norm = await _lock(session, Norm, norm_id)
    if norm is None:
        raise NormNotFound(f"No norm with id {norm_id}")
    network = (
        await session.scalars(
            select(Network).where(Network.id == norm.network_id).with_for_update(key_share=True).execution_options(populate_existing=True)
        )
    ).one()
    await _require_convener(session, network, actor_id)
    if network.status is not NetworkStatus.active:
        raise NetworkNotActive(
            f"{network.slug!r} is still forming, and ballots open only in active networks; "
            f"GET /api/v1/networks/{network.slug}/formation says what its roster lacks",
            network=network.slug,
        )
    version = await session.scalar(select(NormVersion).where(NormVersion.norm_id == norm.id, NormVersion.number == body.version))
    if version is None:
        raise VersionNotFound(f"Norm {norm.slug} has no version {body.version}")
    already = await session.scalar(select(Ballot).where(Ballot.norm_id == norm.id, Ballot.status == BallotStatus.open))
    if already is not None:
        raise BallotAlreadyOpen(
            f"Ballot {already.id} on version {already.version_number} is open until {already.closes_at.isoformat()}; "
            "a norm has one open ballot at a time",
            open_until=already.closes_at.isoformat(),
        )
    if norm.status is NormStatus.adopted and norm.adopted_version == version.number:
        raise VersionAlreadyAdopted(f"Version {version.number} is already the adopted version of {norm.slug}")

    charter = await networks.charter_of(session, network)
    now = clock.now()
    earliest = now + timedelta(hours=charter.min_ballot_hours)
    if body.closes_at < earliest:
        raise ClosingTimeInvalid(
            f"closes_at must be at least {charter.min_ballot_hours} hours from now (the charter's minimum ballot "
            f"duration): {earliest.isoformat()} or later",
            earliest=earliest.isoformat(),
            min_ballot_hours=charter.min_ballot_hours,
        )
    if body.closes_at > now + timedelta(days=MAX_BALLOT_DAYS):
        latest = now + timedelta(days=MAX_BALLOT_DAYS)
        raise ClosingTimeInvalid(f"closes_at must be within {MAX_BALLOT_DAYS} days", latest=latest.isoformat())

    electorate, frozen, excluded = await _electorate_now(session, vouches_needed, network.id, charter.verified_only)
    problems = signoff.electorate_problems(electorate)
    if problems:
        raise ElectorateTooNarrow("A ballot cannot open: " + "; ".join(problems))

    ballot = Ballot(
        norm_id=norm.id,
        version_id=version.id,
        version_number=version.number,
        charter_version=charter.version,
        quorum=charter.quorum,
        threshold=charter.threshold,
        min_ballot_hours=charter.min_ballot_hours,
        verified_only=charter.verified_only,
        excluded=excluded,
        status=BallotStatus.open,
        opened_by=actor_id,
        opened_at=now,
        closes_at=body.closes_at,
    )
    session.add(ballot)
    try:
        await session.flush()
    except IntegrityError as exc:  # another instance opened one between our check and insert
        raise BallotAlreadyOpen("This norm already has an open ballot") from exc
    session.add_all(
        BallotElector(
            ballot_id=ballot.id,
            participant_id=participant_id,
            stakeholder_group=elector.stakeholder_group,
            region=elector.region,
            organisation=organisation,
            organisation_id=organisation_id,
            verification=verification,
        )
        for elector in electorate
        for participant_id, (organisation, organisation_id, verification) in [
            (cast(uuid.UUID, elector.id), frozen[cast(uuid.UUID, elector.id)])
        ]
    )
    await session.flush()
    await audit.record(
        session,
        actor_id=actor_id,
        action="ballot.opened",
        target_type="ballot",
        target_id=ballot.id,
        payload={
            "norm_id": str(norm.id),
            "network": network.slug,
            "version": version.number,
            "text_sha256": version.text_sha256,
            "closes_at": body.closes_at.isoformat(),
            "policy": _policy_record(ballot),
            "electorate": len(electorate),
            "verified_only": charter.verified_only,
            "excluded": excluded,
            "groups": sorted({e.stakeholder_group for e in electorate}),
            "regions": sorted({e.region for e in electorate}),
        },
    )
    await notifications.ballot_opened(
        session, ballot_id=ballot.id, norm_id=norm.id, version=version.number, closes_at=body.closes_at, now=now, actor_id=actor_id
    )
    return ballot.id


async def roster(
    session: AsyncSession, network_id: uuid.UUID, *, verified_only: bool, vouches_needed: int = evidence.DEFAULT_VOUCHES_NEEDED
) -> list[signoff.Elector]:
    """The electorate if a ballot opened now (under verified_only, the verified members): a sense check's too."""
    electorate, _, _ = await _electorate_now(session, vouches_needed, network_id, verified_only)
    return electorate


def outcome(
    policy: PolicyRecord, electorate: Sequence[signoff.Elector], votes: Mapping[Hashable, signoff.Position | str], taxonomy: Taxonomy
) -> OutcomeOut:
    """The sign-off rule's verdict over these votes, as a ballot shows it (what a sense check shows too)."""
    verdict = signoff.tally(signoff.Policy.parse(policy["quorum"], policy["threshold"]), electorate, votes)
    return _outcome_out(_outcome_record(verdict), taxonomy)


def policy_out(policy: PolicyRecord) -> PolicyOut:
    return _policy_out(policy)


async def _electorate_now(
    session: AsyncSession, vouches_needed: int, network_id: uuid.UUID, verified_only: bool
) -> tuple[list[signoff.Elector], dict[uuid.UUID, tuple[str | None, uuid.UUID | None, str | None]], list[dict[str, str]]]:
    """The electorate of a ballot opening now: members with an affiliation (under verified_only, a verified one),
    each weighed by organisation record; what to freeze per elector (name, record, verification in words);
    and the members left out, each with the reason."""
    query = (
        select(
            Membership.participant_id,
            Participant.display_name,
            Affiliation.stakeholder_group,
            Affiliation.region,
            Affiliation.organisation,
            Affiliation.organisation_id,
        )
        .join(Participant, Participant.id == Membership.participant_id)
        .outerjoin(Affiliation, (Affiliation.participant_id == Membership.participant_id) & Affiliation.valid_to.is_(None))
        .where(Membership.network_id == network_id)
        .order_by(Participant.display_name, Membership.participant_id)
    )
    rows: Sequence[Sequence[Any]]  # participant, name, group, region, organisation, record, verification in words
    if await evidence.stored_ready(session, vouches_needed):
        # Each member's stored verification, in words, in the same query (no row: unverified); the organisation
        # record's id as the driver gives it, converted once per record.
        joined = query.with_only_columns(
            *query.selected_columns[:5], evidence.raw_id(Affiliation.organisation_id), VerificationState.words
        ).outerjoin(VerificationState, VerificationState.participant_id == Membership.participant_id)
        # Read through the connection: plain columns, and the ORM's result machinery costs more than the reading here.
        rows = (await (await session.connection()).execute(joined)).all()
        to_uuid = evidence.from_driver(session)
    else:
        members = (await session.execute(query)).all()
        verdicts = await evidence.verdicts(session, [row[0] for row in members], vouches_needed)
        words: dict[object, str] = {}  # the same evidence in the same words (many share a domain)

        def described(participant_id: uuid.UUID) -> str | None:
            item = verdicts.of(participant_id)
            return None if item is None else words.get(item) or words.setdefault(item, verdicts.words(participant_id))

        rows = [(*member, described(member[0])) for member in members]
        to_uuid = _same
    electorate, frozen, excluded = [], {}, []
    records: dict[Any, tuple[uuid.UUID, str]] = {}  # each organisation record: its id, and the id as a tally's unit
    for participant_id, name, group, region, organisation, raw_record, how in rows:
        if group is None:
            excluded.append({"participant_id": str(participant_id), "name": name, "reason": "no affiliation"})
            continue
        if verified_only and how is None:
            excluded.append({"participant_id": str(participant_id), "name": name, "reason": "affiliation not verified"})
            continue
        if raw_record is None:
            record, unit = None, None
        else:
            record, unit = records.get(raw_record) or records.setdefault(raw_record, _record(to_uuid(raw_record)))
        # Weighed by record: however its members spell it, one organisation is one unit in a tally.
        electorate.append(signoff.Elector(participant_id, group, region, unit))
        frozen[participant_id] = (organisation, record, how)
    return electorate, frozen, excluded


def _record(record: uuid.UUID) -> tuple[uuid.UUID, str]:
    return record, str(record)


def _same(value: Any) -> Any:
    return value


# --- Voting --------------------------------------------------------------------------------


async def cast_vote(session: AsyncSession, clock: Clock, actor_id: uuid.UUID, ballot_id: uuid.UUID, body: VoteIn) -> None:
    """Record or change the elector's position; the vote that completes the electorate closes the ballot."""
    ballot = await _lock_ballot(session, ballot_id)
    await membership.require_may_take_part(session, actor_id, "vote")
    elector = await session.get(BallotElector, (ballot.id, actor_id))
    if elector is None:
        raise NotAnElector("Only the members on the roster when this ballot opened may vote on it")
    # The electorate stays as it was frozen; an elector votes once their address is proven.
    await membership.require_participant(session, actor_id)
    now = clock.now()
    _require_open(ballot, now)

    vote = await session.get(BallotVote, (ballot.id, actor_id), populate_existing=True)
    previous = None if vote is None else {"position": vote.position.value, "reason": vote.reason}
    if previous == {"position": body.position.value, "reason": body.reason}:
        return  # the same vote again: nothing changes, nothing to audit
    if vote is None:
        vote = BallotVote(ballot_id=ballot.id, participant_id=actor_id, position=body.position, reason=body.reason, cast_at=now)
        session.add(vote)
    else:
        vote.position, vote.reason, vote.changed_at = body.position, body.reason, now
    await session.flush()
    await audit.record(
        session,
        actor_id=actor_id,
        action="ballot.vote_changed" if previous else "ballot.vote_cast",
        target_type="ballot",
        target_id=ballot.id,
        payload={
            "position": body.position.value,
            "reason": body.reason,
            "previous": previous,
            "stakeholder_group": elector.stakeholder_group,
            "region": elector.region,
            "organisation": elector.organisation,
        },
    )
    if await _everyone_voted(session, ballot):
        await _close(session, ballot, now=now, reason=CloseReason.all_voted, actor_id=None)


async def what_if(session: AsyncSession, taxonomy: Taxonomy, ballot_id: uuid.UUID, body: WhatIfIn) -> OutcomeOut:
    """The outcome if these votes were added to (or replaced) those cast; nothing is stored."""
    ballot = await _get_ballot(session, ballot_id)
    electorate = await _electorate(session, ballot.id)
    ids = {row.participant_id for row in electorate}
    strangers = sorted({str(vote.participant_id) for vote in body.votes if vote.participant_id not in ids})
    if strangers:
        raise WhatIfInvalid(f"Not electors of this ballot: {', '.join(strangers[:10])}")
    votes = {row.participant_id: row.position for row in await _votes(session, ballot.id)}
    votes |= {vote.participant_id: vote.position for vote in body.votes}
    return _outcome_out(_outcome_record(_tally(ballot, electorate, votes)), taxonomy)


# --- Closing -------------------------------------------------------------------------------


async def close_by_convener(session: AsyncSession, clock: Clock, actor_id: uuid.UUID, ballot_id: uuid.UUID) -> None:
    """Close now (conveners): after the charter's minimum duration, or once everyone has voted.

    Closing a closed ballot changes nothing and is not an error.
    """
    ballot = await _lock_ballot(session, ballot_id)
    norm = await session.get_one(Norm, ballot.norm_id)
    network = await session.get_one(Network, norm.network_id)
    await _require_convener(session, network, actor_id)
    if ballot.status is BallotStatus.closed:
        return
    now = clock.now()
    everyone = await _everyone_voted(session, ballot)
    earliest = _convener_may_close_at(ballot)
    if now < earliest and not everyone:
        raise TooEarlyToClose(
            f"This ballot can be closed early from {earliest.isoformat()} (the charter's minimum of "
            f"{ballot.min_ballot_hours} hours), or once every elector has voted",
            earliest=earliest.isoformat(),
        )
    reason = CloseReason.deadline if now >= ballot.closes_at else CloseReason.all_voted if everyone else CloseReason.convener
    await _close(session, ballot, now=now, reason=reason, actor_id=actor_id)


async def close_due(sessionmaker: async_sessionmaker[AsyncSession], clock: Clock, *, batch: int = 100) -> int:
    """Close every open ballot whose deadline has passed, each in its own transaction; how many this call closed.

    Safe to run from several instances at once: a ballot another instance is closing is
    skipped (PostgreSQL `SKIP LOCKED`), and one found closed is left alone.
    """
    now = clock.now()
    async with transaction(sessionmaker) as session:
        due = (
            await session.scalars(
                select(Ballot.id).where(Ballot.status == BallotStatus.open, Ballot.closes_at <= now).order_by(Ballot.closes_at).limit(batch)
            )
        ).all()
    closed = 0
    for ballot_id in due:
        try:
            async with transaction(sessionmaker) as session:
                await take_write_lock(session)
                ballot = await _lock(session, Ballot, ballot_id, skip_locked=True)
                if ballot is None or ballot.status is BallotStatus.closed or ballot.closes_at > now:
                    continue
                await _close(session, ballot, now=now, reason=CloseReason.deadline, actor_id=None)
                closed += 1
        except Exception:
            log.exception("ballot_close_failed", ballot_id=str(ballot_id))
    return closed


async def keep_closing(sessionmaker: async_sessionmaker[AsyncSession], clock: Clock, *, interval: float) -> None:
    """Close due ballots every `interval` seconds until cancelled (run by `cogov serve` and `cogov worker`)."""
    while True:
        try:
            closed = await close_due(sessionmaker, clock)
            if closed:
                log.info("ballots_closed", count=closed)
        except Exception:  # the database may be away for a moment; try again next round
            log.exception("ballot_sweep_failed")
        await asyncio.sleep(interval)


async def _close(session: AsyncSession, ballot: Ballot, *, now: datetime, reason: CloseReason, actor_id: uuid.UUID | None) -> None:
    """Apply the rule to the locked, open ballot and store its verdict; adopt when it says so."""
    electorate = await _electorate(session, ballot.id)
    votes = await _votes(session, ballot.id)
    outcome = _tally(ballot, electorate, {vote.participant_id: vote.position for vote in votes})
    record = _outcome_record(outcome)
    # Votes stop counting at the deadline, so a late sweep still closes it then.
    closed_at = min(now, ballot.closes_at)
    ballot.status = BallotStatus.closed
    ballot.closed_at = closed_at
    ballot.close_reason = reason
    ballot.closed_by = actor_id
    ballot.adopted = outcome.adopted
    ballot.result = record
    await session.flush()
    await audit.record(
        session,
        actor_id=actor_id,
        action="ballot.closed",
        target_type="ballot",
        target_id=ballot.id,
        payload={
            "norm_id": str(ballot.norm_id),
            "version": ballot.version_number,
            "reason": reason.value,
            "adopted": outcome.adopted,
            "electorate": len(electorate),
            "voted": len(votes),
            "missing": list(outcome.missing),
        },
    )
    await notifications.ballot_closed(
        session, ballot_id=ballot.id, norm_id=ballot.norm_id, version=ballot.version_number, adopted=outcome.adopted, now=now
    )
    if outcome.adopted:
        await _adopt(session, ballot, record, votes, closed_at, actor_id)
        await notifications.norm_adopted(session, norm_id=ballot.norm_id, version=ballot.version_number, now=now)
    metrics.ballot_closed(reason.value, outcome.adopted)


async def _adopt(
    session: AsyncSession,
    ballot: Ballot,
    record: OutcomeRecord,
    votes: Sequence[_VoteRow],
    adopted_at: datetime,
    actor_id: uuid.UUID | None,
) -> None:
    norm = await _lock(session, Norm, ballot.norm_id)
    assert norm is not None  # the ballot's norm (a foreign key)
    version = await session.get_one(NormVersion, ballot.version_id)
    network_slug = await session.scalar(select(Network.slug).where(Network.id == norm.network_id))
    previous = await adoption_in_force(session, norm.id)
    adoption = Adoption(
        norm_id=norm.id,
        ballot_id=ballot.id,
        version_number=version.number,
        title=version.title,
        heads=list(version.heads),
        text_sha256=version.text_sha256,
        policy=_policy_record(ballot),
        tallies=record,
        votes=[_vote_record(vote) for vote in votes],
        adopted_at=adopted_at,
        supersedes_id=previous.id if previous else None,
    )
    session.add(adoption)
    norm.status = NormStatus.adopted
    norm.adopted_version = version.number
    await session.flush()
    payload: dict[str, object] = {
        "adoption_id": str(adoption.id),
        "ballot_id": str(ballot.id),
        "norm_id": str(norm.id),
        "network": network_slug,
        "norm": norm.slug,
        "version": version.number,
        "title": version.title,
        "heads": list(version.heads),
        "text_sha256": version.text_sha256,
        "adopted_at": adopted_at.isoformat(),
        "supersedes": str(previous.id) if previous else None,
    }
    await outbox.emit(session, NORM_ADOPTED, payload, at=adopted_at)
    await audit.record(session, actor_id=actor_id, action=NORM_ADOPTED, target_type="norm", target_id=norm.id, payload=payload)


# --- Reading -------------------------------------------------------------------------------


async def ballot_view(session: AsyncSession, taxonomy: Taxonomy, ballot_id: uuid.UUID) -> BallotOut:
    """The public record: version, policy, electorate, every vote, tallies, outcome and what is missing."""
    ballot = await _get_ballot(session, ballot_id)
    norm = await session.get_one(Norm, ballot.norm_id)
    network_slug = await session.scalar(select(Network.slug).where(Network.id == norm.network_id))
    version = await session.get_one(NormVersion, ballot.version_id)
    electorate = await _electorate(session, ballot.id)
    votes = await _votes(session, ballot.id)
    if ballot.status is BallotStatus.closed:
        assert ballot.result is not None  # kept when it closed
        record = ballot.result
    else:
        record = _outcome_record(_tally(ballot, electorate, {vote.participant_id: vote.position for vote in votes}))
    voted = {vote.participant_id for vote in votes}
    people = await _people(session, {ballot.opened_by, *([ballot.closed_by] if ballot.closed_by else [])})
    adoption_id = await session.scalar(select(Adoption.id).where(Adoption.ballot_id == ballot.id))
    return BallotOut(
        **_summary(ballot, len(electorate), len(votes)).model_dump(),
        network=network_slug,
        version=BallotVersion(
            number=version.number, title=version.title, label=version.label, heads=version.heads, text_sha256=version.text_sha256
        ),
        policy=_policy_out(_policy_record(ballot)),
        opened_by=people[ballot.opened_by],
        closed_by=people.get(ballot.closed_by) if ballot.closed_by else None,
        convener_may_close_at=_convener_may_close_at(ballot),
        electorate=[
            ElectorOut(
                participant_id=row.participant_id,
                name=row.name,
                stakeholder_group=row.stakeholder_group,
                region=row.region,
                organisation=row.organisation,
                verification=row.verification or "unverified",
                voted=row.participant_id in voted,
            )
            for row in electorate
        ],
        votes=[VoteOut(**_vote_record(vote)) for vote in votes],
        excluded=ballot.excluded or [],
        outcome=_outcome_out(record, taxonomy),
        adoption_id=adoption_id,
    )


async def list_ballots(session: AsyncSession, norm: Norm) -> list[BallotSummary]:
    """The norm's ballots, newest first."""
    ballots = (await session.scalars(select(Ballot).where(Ballot.norm_id == norm.id).order_by(Ballot.opened_at.desc(), Ballot.id))).all()
    ids = [ballot.id for ballot in ballots]
    electors = dict(
        (
            await session.execute(
                select(BallotElector.ballot_id, func.count()).where(BallotElector.ballot_id.in_(ids)).group_by(BallotElector.ballot_id)
            )
        )
        .tuples()
        .all()
    )
    voted = dict(
        (
            await session.execute(
                select(BallotVote.ballot_id, func.count()).where(BallotVote.ballot_id.in_(ids)).group_by(BallotVote.ballot_id)
            )
        )
        .tuples()
        .all()
    )
    return [_summary(ballot, electors.get(ballot.id, 0), voted.get(ballot.id, 0)) for ballot in ballots]


async def list_adoptions(session: AsyncSession, taxonomy: Taxonomy, norm: Norm) -> list[AdoptionOut]:
    """Every adoption of the norm, newest first; the one no later adoption superseded is in force."""
    adoptions = (await session.scalars(select(Adoption).where(Adoption.norm_id == norm.id))).all()
    superseded = {adoption.supersedes_id for adoption in adoptions if adoption.supersedes_id}
    # Follow the line of supersession from the one in force back to the first.
    by_previous = {adoption.supersedes_id: adoption for adoption in adoptions}
    line, current = [], by_previous.get(None)
    while current is not None:
        line.append(current)
        current = by_previous.get(current.id)
    return [
        AdoptionOut(
            id=adoption.id,
            norm_id=adoption.norm_id,
            ballot_id=adoption.ballot_id,
            version_number=adoption.version_number,
            title=adoption.title,
            heads=adoption.heads,
            text_sha256=adoption.text_sha256,
            policy=_policy_out(adoption.policy),
            outcome=_outcome_out(adoption.tallies, taxonomy),
            votes=[VoteOut(**vote) for vote in adoption.votes],
            adopted_at=adoption.adopted_at,
            supersedes_id=adoption.supersedes_id,
            in_force=adoption.id not in superseded,
        )
        for adoption in reversed(line)
    ]


# --- Internals -----------------------------------------------------------------------------

# (participant_id, name, stakeholder_group, region, organisation, organisation_id, verification)
_ElectorRow = Row[tuple[uuid.UUID, str, str, str, str | None, uuid.UUID | None, str | None]]
# (participant_id, name, stakeholder_group, region, organisation, verification, position, reason, cast_at, changed_at)
_VoteRow = Row[tuple[uuid.UUID, str, str, str, str | None, str | None, signoff.Position, str | None, datetime, datetime | None]]


_Locked = TypeVar("_Locked", Ballot, Norm)


async def _lock(session: AsyncSession, model: type[_Locked], key: uuid.UUID, *, skip_locked: bool = False) -> _Locked | None:
    query = select(model).where(model.id == key).with_for_update(skip_locked=skip_locked)
    found = await session.scalar(query.execution_options(populate_existing=True))
    return found


async def _lock_ballot(session: AsyncSession, ballot_id: uuid.UUID) -> Ballot:
    await take_write_lock(session)
    ballot = await _lock(session, Ballot, ballot_id)
    if ballot is None:
        raise BallotNotFound(f"No ballot with id {ballot_id}")
    return ballot


async def _get_ballot(session: AsyncSession, ballot_id: uuid.UUID) -> Ballot:
    ballot = await session.get(Ballot, ballot_id)
    if ballot is None:
        raise BallotNotFound(f"No ballot with id {ballot_id}")
    return ballot


async def _require_convener(session: AsyncSession, network: Network, participant_id: uuid.UUID) -> None:
    await membership.require_convener(session, network.id, participant_id, f"Only a convener of {network.slug!r} may do this")


def _require_open(ballot: Ballot, now: datetime) -> None:
    if ballot.status is BallotStatus.closed:
        assert ballot.closed_at is not None  # set as it closed
        raise BallotClosed(f"This ballot closed at {ballot.closed_at.isoformat()}; its result is final", at=ballot.closed_at.isoformat())
    if now >= ballot.closes_at:
        raise BallotClosed(f"Voting ended at {ballot.closes_at.isoformat()}", at=ballot.closes_at.isoformat())


def _convener_may_close_at(ballot: Ballot) -> datetime:
    return ballot.opened_at + timedelta(hours=ballot.min_ballot_hours)


async def _everyone_voted(session: AsyncSession, ballot: Ballot) -> bool:
    electors = await session.scalar(select(func.count()).select_from(BallotElector).where(BallotElector.ballot_id == ballot.id))
    voted = await session.scalar(select(func.count()).select_from(BallotVote).where(BallotVote.ballot_id == ballot.id))
    return voted == electors


async def _electorate(session: AsyncSession, ballot_id: uuid.UUID) -> Sequence[_ElectorRow]:
    query = (
        select(
            BallotElector.participant_id,
            Participant.display_name.label("name"),
            BallotElector.stakeholder_group,
            BallotElector.region,
            BallotElector.organisation,
            BallotElector.organisation_id,
            BallotElector.verification,
        )
        .join(Participant, Participant.id == BallotElector.participant_id)
        .where(BallotElector.ballot_id == ballot_id)
        .order_by(BallotElector.stakeholder_group, BallotElector.region, Participant.display_name, BallotElector.participant_id)
    )
    return (await session.execute(query)).all()


async def _votes(session: AsyncSession, ballot_id: uuid.UUID) -> Sequence[_VoteRow]:
    query = (
        select(
            BallotVote.participant_id,
            Participant.display_name.label("name"),
            BallotElector.stakeholder_group,
            BallotElector.region,
            BallotElector.organisation,
            BallotElector.verification,
            BallotVote.position,
            BallotVote.reason,
            BallotVote.cast_at,
            BallotVote.changed_at,
        )
        .join(
            BallotElector, (BallotElector.ballot_id == BallotVote.ballot_id) & (BallotElector.participant_id == BallotVote.participant_id)
        )
        .join(Participant, Participant.id == BallotVote.participant_id)
        .where(BallotVote.ballot_id == ballot_id)
        .order_by(BallotVote.cast_at, BallotVote.participant_id)
    )
    return (await session.execute(query)).all()


async def _people(session: AsyncSession, ids: set[uuid.UUID]) -> dict[uuid.UUID, PersonRef]:
    rows = await session.execute(select(Participant.id, Participant.display_name).where(Participant.id.in_(ids)))
    return {row.id: PersonRef(id=row.id, display_name=row.display_name) for row in rows}


async def adoption_in_force(session: AsyncSession, norm_id: uuid.UUID) -> Adoption | None:
    """The norm's adoption no later adoption superseded; None while nothing of it was adopted."""
    superseded = select(Adoption.supersedes_id).where(Adoption.norm_id == norm_id, Adoption.supersedes_id.is_not(None))
    found = await session.scalar(select(Adoption).where(Adoption.norm_id == norm_id, Adoption.id.not_in(superseded)))
    return found


def _tally(ballot: Ballot, electorate: Sequence[_ElectorRow], votes: Mapping[Hashable, signoff.Position | str]) -> signoff.Outcome:
    # Weighed by organisation record; ballots opened before records existed keep their typed names.
    electors = [
        signoff.Elector(
            row.participant_id, row.stakeholder_group, row.region, str(row.organisation_id) if row.organisation_id else row.organisation
        )
        for row in electorate
    ]
    return signoff.tally(signoff.Policy.parse(ballot.quorum, ballot.threshold), electors, votes)


def _summary(ballot: Ballot, electors: int, voted: int) -> BallotSummary:
    return BallotSummary(
        id=ballot.id,
        norm_id=ballot.norm_id,
        version_number=ballot.version_number,
        status=ballot.status.value,
        opened_at=ballot.opened_at,
        closes_at=ballot.closes_at,
        closed_at=ballot.closed_at,
        close_reason=ballot.close_reason.value if ballot.close_reason else None,
        adopted=ballot.adopted,
        electors=electors,
        voted=voted,
    )


def _policy_record(ballot: Ballot) -> PolicyRecord:
    return {
        "charter_version": ballot.charter_version,
        "quorum": ballot.quorum,
        "threshold": ballot.threshold,
        "min_ballot_hours": ballot.min_ballot_hours,
        "verified_only": ballot.verified_only,
    }


def _policy_out(record: PolicyRecord) -> PolicyOut:
    return PolicyOut(**record, quorum_value=float(Fraction(record["quorum"])), threshold_value=float(Fraction(record["threshold"])))


def _vote_record(vote: _VoteRow) -> VoteRecord:
    return {
        "participant_id": str(vote.participant_id),
        "name": vote.name,
        "stakeholder_group": vote.stakeholder_group,
        "region": vote.region,
        "organisation": vote.organisation,
        "verification": vote.verification or "unverified",
        "position": vote.position.value,
        "reason": vote.reason,
        "cast_at": vote.cast_at.isoformat(),
        "changed_at": vote.changed_at.isoformat() if vote.changed_at else None,
    }


def _outcome_record(outcome: signoff.Outcome) -> OutcomeRecord:
    """The verdict as JSON, fractions exact ("2/3"): what a closed ballot and an adoption keep."""

    def fraction(value: Fraction | None) -> str | None:
        return None if value is None else str(value)

    def tally(t: signoff.Tally) -> TallyRecord:
        return {
            "dimension": t.dimension.value,
            "key": t.key,
            "electors": t.electors,
            "voted": t.voted,
            "turnout": fraction(t.turnout),
            "turnout_needed": t.turnout_needed,
            "approvals": fraction(t.approvals),
            "objections": fraction(t.objections),
            "abstentions": fraction(t.abstentions),
            "support": fraction(t.support),
            "passes": t.passes,
            "settled": t.settled,
            "missing": list(t.missing),
        }

    return {
        "adopted": outcome.adopted,
        "settled": outcome.settled,
        "missing": list(outcome.missing),
        "groups": [tally(t) for t in outcome.groups],
        "regions": [tally(t) for t in outcome.regions],
    }


def _outcome_out(record: OutcomeRecord, taxonomy: Taxonomy) -> OutcomeOut:
    def value(text: str | None) -> float | None:
        return None if text is None else float(Fraction(text))

    def tally(t: TallyRecord) -> TallyOut:
        labels = taxonomy.groups if t["dimension"] == "group" else taxonomy.regions
        return TallyOut(
            **t,
            label=labels.get(t["key"], t["key"]),
            turnout_value=value(t["turnout"]),
            approvals_value=value(t["approvals"]),
            objections_value=value(t["objections"]),
            abstentions_value=value(t["abstentions"]),
            support_value=value(t["support"]),
        )

    return OutcomeOut(
        adopted=record["adopted"],
        settled=record["settled"],
        missing=record["missing"],
        groups=[tally(t) for t in record["groups"]],
        regions=[tally(t) for t in record["regions"]],
    )


@asynccontextmanager
async def closing_ballots(sessionmaker: async_sessionmaker[AsyncSession], clock: Clock, *, interval: float) -> AsyncIterator[None]:
    """Run `keep_closing` in the background for the duration of the block."""
    task = asyncio.create_task(keep_closing(sessionmaker, clock, interval=interval), name="ballot-closer")
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
