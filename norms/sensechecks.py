"""Sense checks: a convener asks the members a non-binding question on a version or the current text
("Is this ready for a ballot?"); members answer agree, disagree (with a reason) or abstain, and may change
their answer until it closes.

The answers are tallied by the sign-off rule (norms/signoff.py, through `ballots.outcome`) exactly as a
ballot's votes would be — agree as approve, disagree as object — over the network's roster as it is now,
under the charter's policy. A sense check adopts nothing and publishes nothing; every act is in the audit log.
"""

from __future__ import annotations

import uuid
from collections.abc import Hashable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from networks import membership
from networks import service as networks
from networks.models import Network
from networks.taxonomy import Taxonomy
from norms import ballots, signoff
from norms.drafting_models import Answer, SenseCheck, SenseCheckAnswer
from norms.drafting_schemas import AnswerIn, AnswerOut, SenseCheckCreate, SenseCheckOut
from norms.errors import VersionNotFound
from norms.models import Norm, NormVersion, PolicyRecord
from norms.schemas import ElectorOut, PersonRef
from services.accounts.models import Participant
from services.audit import service as audit
from services.kit.errors import Conflict, InvalidInput, NotFound

MAX_DAYS = 366
# How the sign-off rule counts each answer.
POSITION = {Answer.agree: signoff.Position.approve, Answer.disagree: signoff.Position.object, Answer.abstain: signoff.Position.abstain}


class SenseCheckNotFound(NotFound):
    """No such sense check."""

    code = "sense_check_not_found"


class SenseCheckClosed(Conflict):
    """The sense check is closed: answers are no longer taken."""

    code = "sense_check_closed"


class SenseCheckClosingInvalid(InvalidInput):
    """`closes_at` must have a time zone, be in the future and within a year."""

    code = "closes_at_invalid"


def is_open(check: SenseCheck, now: datetime) -> bool:
    return check.closed_at is None and (check.closes_at is None or now < check.closes_at)


async def get(session: AsyncSession, check_id: uuid.UUID) -> SenseCheck:
    found = await session.get(SenseCheck, check_id)
    if found is None:
        raise SenseCheckNotFound(f"No sense check with id {check_id}")
    return found


async def ask(session: AsyncSession, now: datetime, participant: Participant, norm: Norm, body: SenseCheckCreate) -> SenseCheck:
    """Open a sense check (conveners of the norm's network)."""
    await membership.require_convener(
        session, norm.network_id, participant.id, "Only a convener of the norm's network may ask a sense check"
    )
    if body.version is not None:
        found = await session.scalar(select(NormVersion.id).where(NormVersion.norm_id == norm.id, NormVersion.number == body.version))
        if found is None:
            raise VersionNotFound(f"Norm {norm.slug} has no version {body.version}")
    if body.closes_at is not None:
        if body.closes_at.tzinfo is None:
            raise SenseCheckClosingInvalid("closes_at needs a time zone, e.g. 2030-01-31T12:00:00Z")
        if body.closes_at <= now or body.closes_at > now + timedelta(days=MAX_DAYS):
            raise SenseCheckClosingInvalid()
    check = SenseCheck(
        norm_id=norm.id,
        version_number=body.version,
        question=body.question,
        opened_by=participant.id,
        opened_at=now,
        closes_at=body.closes_at,
    )
    session.add(check)
    await session.flush()
    await audit.record(
        session,
        actor_id=participant.id,
        action="sense_check.opened",
        target_type="sense_check",
        target_id=check.id,
        payload={"norm": str(norm.id), "version": body.version, "question": body.question},
    )
    return check


async def answer(session: AsyncSession, now: datetime, participant: Participant, check: SenseCheck, body: AnswerIn) -> None:
    """Record or change a member's answer; SenseCheckClosed once it is closed."""
    norm = await session.get_one(Norm, check.norm_id)
    await membership.require_may_take_part(session, participant.id, "answer a sense check")
    await membership.require_member(session, norm.network_id, participant.id, "Only members of the norm's network answer its sense checks")
    if not is_open(check, now):
        raise SenseCheckClosed()
    given = await session.get(SenseCheckAnswer, (check.id, participant.id), populate_existing=True)
    previous = None if given is None else {"answer": given.answer.value, "reason": given.reason}
    if previous == {"answer": body.answer.value, "reason": body.reason}:
        return
    if given is None:
        session.add(
            SenseCheckAnswer(
                sense_check_id=check.id, participant_id=participant.id, answer=body.answer, reason=body.reason, answered_at=now
            )
        )
    else:
        given.answer, given.reason, given.changed_at = body.answer, body.reason, now
    await session.flush()
    await audit.record(
        session,
        actor_id=participant.id,
        action="sense_check.answer_changed" if previous else "sense_check.answered",
        target_type="sense_check",
        target_id=check.id,
        payload={"answer": body.answer.value, "reason": body.reason, "previous": previous},
    )


async def close(session: AsyncSession, now: datetime, participant: Participant, check: SenseCheck) -> None:
    """Close now (conveners); closing a closed sense check changes nothing."""
    norm = await session.get_one(Norm, check.norm_id)
    await membership.require_convener(
        session, norm.network_id, participant.id, "Only a convener of the norm's network may close a sense check"
    )
    if not is_open(check, now):
        return
    check.closed_at, check.closed_by = now, participant.id
    await audit.record(
        session, actor_id=participant.id, action="sense_check.closed", target_type="sense_check", target_id=check.id, payload={}
    )


async def view(session: AsyncSession, taxonomy: Taxonomy, now: datetime, check: SenseCheck) -> SenseCheckOut:
    """The sense check with every answer and the sign-off rule's tally of them by group and region."""
    norm = await session.get_one(Norm, check.norm_id)
    network = await session.get_one(Network, norm.network_id)
    charter = await networks.charter_of(session, network)
    policy: PolicyRecord = {
        "charter_version": charter.version,
        "quorum": charter.quorum,
        "threshold": charter.threshold,
        "min_ballot_hours": charter.min_ballot_hours,
    }
    electorate = await ballots.roster(session, network.id, verified_only=charter.verified_only, vouches_needed=taxonomy.vouches_needed)
    rows = (
        await session.scalars(
            select(SenseCheckAnswer)
            .where(SenseCheckAnswer.sense_check_id == check.id)
            .order_by(SenseCheckAnswer.answered_at, SenseCheckAnswer.participant_id)
        )
    ).all()
    electors = {elector.id: elector for elector in electorate}
    # Only the roster's answers count: someone who left the network is no longer asked.
    counted = [row for row in rows if row.participant_id in electors]
    votes: dict[Hashable, signoff.Position | str] = {row.participant_id: POSITION[row.answer] for row in counted}
    names = {
        row.id: row.display_name
        for row in await session.execute(
            select(Participant.id, Participant.display_name).where(Participant.id.in_({*electors, check.opened_by}))
        )
    }
    result = ballots.outcome(policy, electorate, votes, taxonomy)
    closed = not is_open(check, now)
    return SenseCheckOut(
        id=check.id,
        norm_id=norm.id,
        network=network.slug,
        question=check.question,
        version=check.version_number,
        status="closed" if closed else "open",
        opened_by=PersonRef(id=check.opened_by, display_name=names[check.opened_by]),
        opened_at=check.opened_at,
        closes_at=check.closes_at,
        closed_at=check.closed_at or (check.closes_at if closed else None),
        policy=ballots.policy_out(policy),
        electorate=sorted(
            (
                ElectorOut(
                    participant_id=e.id,
                    name=names[e.id],
                    stakeholder_group=e.stakeholder_group,
                    region=e.region,
                    organisation=e.organisation,
                    voted=e.id in votes,
                )
                for e in electorate
            ),
            key=lambda e: (e.stakeholder_group, e.region, e.name),
        ),
        answers=[
            AnswerOut(
                participant_id=row.participant_id,
                name=names[row.participant_id],
                stakeholder_group=electors[row.participant_id].stakeholder_group,
                region=electors[row.participant_id].region,
                organisation=electors[row.participant_id].organisation,
                answer=row.answer,
                reason=row.reason,
                answered_at=row.answered_at,
                changed_at=row.changed_at,
            )
            for row in counted
        ],
        outcome=result,
        would_pass=result.adopted,
    )


async def list_for_norm(session: AsyncSession, norm: Norm) -> list[SenseCheck]:
    """The norm's sense checks, newest first."""
    return list(
        (
            await session.scalars(
                select(SenseCheck).where(SenseCheck.norm_id == norm.id).order_by(SenseCheck.opened_at.desc(), SenseCheck.id)
            )
        ).all()
    )
