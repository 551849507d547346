"""Acts that verify or unverify an affiliation: vouching (and asking for vouches), a registrar's decision.

Every act is public and audited, and recomputes the formation of every network of everyone whose
verification may rest on the affiliation it touches (vouches chain). Those it concerns are notified in its
transaction; `now` (the app's clock) dates the notifications, while the rows keep the time they were written.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from networks import domains, evidence, membership
from networks import service as networks
from networks.errors import (
    AddressCannotVerify,
    AffiliationNotSet,
    AlreadyVouched,
    CannotVouch,
    NoteRequired,
    NoVouch,
    RegistrarOwnAffiliation,
    VerificationRequired,
)
from networks.models import (
    Affiliation,
    DomainStatus,
    Organisation,
    OrganisationDomain,
    RegistrarDecision,
    RegistrarDecisionKind,
    Vouch,
    VouchRequest,
)
from networks.taxonomy import Taxonomy
from networks.verification import Candidate, counts
from services.accounts import addresses, links
from services.accounts.models import Participant
from services.audit import service as audit
from services.kit.db import utcnow
from services.kit.errors import NotFound
from services.notifications import events as notifications
from services.settings import Settings

MAX_ASKED = 10


async def _affiliation(session: AsyncSession, participant_id: uuid.UUID) -> Affiliation:
    affiliation = await networks.current_affiliation(session, participant_id)
    if affiliation is None:
        raise AffiliationNotSet()
    return affiliation


async def _person(session: AsyncSession, participant_id: uuid.UUID) -> Participant:
    person = await session.get(Participant, participant_id)
    if person is None or person.deleted_at is not None:
        raise NotFound(f"No participant with id {participant_id}")
    return person


def _candidate(affiliation: Affiliation) -> Candidate:
    return Candidate(affiliation.participant_id, affiliation.id, affiliation.stakeholder_group, affiliation.organisation_id)


async def _recompute_after(session: AsyncSession, taxonomy: Taxonomy, participant_id: uuid.UUID, actor_id: uuid.UUID, cause: str) -> None:
    affected = await evidence.downstream(session, participant_id)
    for network in await networks._lock_networks_of(session, participant_id, affected):
        await networks._recompute(session, taxonomy, network, actor_id=actor_id, cause=cause)


async def vouch(
    session: AsyncSession, taxonomy: Taxonomy, voucher_id: uuid.UUID, candidate_id: uuid.UUID, *, now: datetime | None = None
) -> Vouch:
    """Vouch for the candidate's current affiliation; every reason it could not count is refused (403/409).
    The candidate is told when this vouch is the one that verifies them."""
    await membership.require_may_take_part(session, voucher_id, "vouch for an affiliation")
    await membership.require_participant(session, voucher_id)
    if voucher_id == candidate_id:
        raise CannotVouch("You cannot vouch for yourself: verification by vouching needs the word of others")
    await _person(session, candidate_id)
    await networks._lock_participant(session, candidate_id)
    theirs = await _affiliation_of_candidate(session, candidate_id)
    mine = await networks.current_affiliation(session, voucher_id)
    verdicts = await evidence.verdicts(session, [voucher_id], taxonomy.vouches_needed)
    if mine is None or voucher_id not in verdicts.evidence:
        raise VerificationRequired("Only participants whose own affiliation is verified may vouch; see GET /api/v1/me/verification")
    if mine.stakeholder_group != theirs.stakeholder_group:
        raise CannotVouch(
            f"You are verified in {mine.stakeholder_group} and they are in {theirs.stakeholder_group}: "
            "vouches count only within one stakeholder group"
        )
    if not counts(_candidate(mine), _candidate(theirs)):
        raise CannotVouch("You are of their organisation: vouches must come from other organisations than the candidate's own")
    standing = await session.scalar(
        select(Vouch).where(Vouch.voucher_id == voucher_id, Vouch.affiliation_id == theirs.id, Vouch.withdrawn_at.is_(None))
    )
    if standing is not None:
        raise AlreadyVouched()
    now = now or utcnow()
    was_verified = candidate_id in (await evidence.verdicts(session, [candidate_id], taxonomy.vouches_needed)).evidence
    record = Vouch(voucher_id=voucher_id, affiliation_id=theirs.id, created_at=utcnow())
    session.add(record)
    await session.flush()
    if not was_verified:
        after = await evidence.verdicts(session, [candidate_id], taxonomy.vouches_needed)
        if candidate_id in after.evidence:
            await notifications.affiliation_verified(
                session, participant_id=candidate_id, how=after.words(candidate_id), now=now, actor_id=voucher_id
            )
    await audit.record(
        session,
        actor_id=voucher_id,
        action="affiliation.vouched",
        target_type="participant",
        target_id=candidate_id,
        payload={"affiliation_id": str(theirs.id), **_terms(theirs)},
    )
    await _recompute_after(session, taxonomy, candidate_id, voucher_id, "affiliation.vouched")
    return record


async def _affiliation_of_candidate(session: AsyncSession, candidate_id: uuid.UUID) -> Affiliation:
    affiliation = await networks.current_affiliation(session, candidate_id)
    if affiliation is None:
        raise CannotVouch("They have no affiliation to vouch for yet")
    return affiliation


def _terms(affiliation: Affiliation) -> dict[str, Any]:
    return {
        "stakeholder_group": affiliation.stakeholder_group,
        "country": affiliation.country,
        "organisation": affiliation.organisation,
        "organisation_id": str(affiliation.organisation_id) if affiliation.organisation_id else None,
    }


async def withdraw(session: AsyncSession, taxonomy: Taxonomy, voucher_id: uuid.UUID, candidate_id: uuid.UUID) -> None:
    """Withdraw a standing vouch; the candidate's verification lapses if too few remain."""
    theirs = await networks.current_affiliation(session, candidate_id)
    standing = None
    if theirs is not None:
        standing = await session.scalar(
            select(Vouch).where(Vouch.voucher_id == voucher_id, Vouch.affiliation_id == theirs.id, Vouch.withdrawn_at.is_(None))
        )
    if standing is None or theirs is None:
        raise NoVouch()
    await networks._lock_participant(session, candidate_id)
    standing.withdrawn_at = utcnow()
    await session.flush()
    await audit.record(
        session,
        actor_id=voucher_id,
        action="affiliation.vouch_withdrawn",
        target_type="participant",
        target_id=candidate_id,
        payload={"affiliation_id": str(theirs.id)},
    )
    await _recompute_after(session, taxonomy, candidate_id, voucher_id, "affiliation.vouch_withdrawn")


async def vouches_for(session: AsyncSession, participant_id: uuid.UUID) -> list[tuple[Participant, Vouch]]:
    """The standing vouches for the participant's current affiliation, oldest first."""
    rows = await session.execute(
        select(Participant, Vouch)
        .join(Vouch, Vouch.voucher_id == Participant.id)
        .join(Affiliation, (Affiliation.id == Vouch.affiliation_id) & Affiliation.valid_to.is_(None))
        .where(Affiliation.participant_id == participant_id, Vouch.withdrawn_at.is_(None))
        .order_by(Vouch.created_at)
    )
    return list(rows.tuples().all())


async def request_vouches(
    session: AsyncSession, taxonomy: Taxonomy, actor_id: uuid.UUID, asked: Sequence[uuid.UUID], *, now: datetime | None = None
) -> list[Participant]:
    """Ask named participants to vouch for the actor's current affiliation; each sees it in their list of requests
    and is notified.

    Only verified participants of the same group and another organisation can be asked (others' vouches could
    not count); asking someone twice for the same affiliation asks once. Returns those newly asked.
    """
    await membership.require_participant(session, actor_id)
    requester = await _person(session, actor_id)
    mine = await _affiliation(session, actor_id)
    wanted = list(dict.fromkeys(asked))[:MAX_ASKED]
    if actor_id in wanted:
        raise CannotVouch("You cannot ask yourself to vouch for you")
    verdicts = await evidence.verdicts(session, wanted, taxonomy.vouches_needed)
    people = {person.id: person for person in (await session.scalars(select(Participant).where(Participant.id.in_(wanted)))).all()}
    newly = []
    for participant_id in wanted:
        person = people.get(participant_id)
        if person is None:
            raise NotFound(f"No participant with id {participant_id}")
        theirs = await networks.current_affiliation(session, participant_id)
        if theirs is None or participant_id not in verdicts.evidence:
            raise CannotVouch(f"{person.display_name} is not verified, so their vouch could not count")
        if not counts(_candidate(theirs), _candidate(mine)):
            raise CannotVouch(f"{person.display_name}'s vouch could not count: vouches come from the same group and another organisation")
        exists = await session.scalar(
            select(VouchRequest.id).where(VouchRequest.affiliation_id == mine.id, VouchRequest.asked_id == participant_id)
        )
        if exists is None:
            session.add(VouchRequest(affiliation_id=mine.id, asked_id=participant_id, created_at=utcnow()))
            newly.append(person)
    await session.flush()
    if newly:
        await audit.record(
            session,
            actor_id=actor_id,
            action="affiliation.vouches_requested",
            target_type="participant",
            target_id=actor_id,
            payload={"asked": [str(person.id) for person in newly], **_terms(mine)},
        )
        await notifications.vouch_requested(
            session, requester=requester.display_name, asked=[person.id for person in newly], now=now or utcnow(), actor_id=actor_id
        )
    return newly


async def requests_to(session: AsyncSession, asked_id: uuid.UUID) -> list[tuple[Participant, Affiliation, bool]]:
    """Requests to vouch sent to this participant for affiliations still current: (who, affiliation, already vouched)."""
    rows = await session.execute(
        select(Participant, Affiliation)
        .join(Affiliation, Affiliation.participant_id == Participant.id)
        .join(VouchRequest, VouchRequest.affiliation_id == Affiliation.id)
        .where(VouchRequest.asked_id == asked_id, Affiliation.valid_to.is_(None))
        .order_by(VouchRequest.created_at)
    )
    result = []
    for person, affiliation in rows.tuples().all():
        vouched = await session.scalar(
            select(Vouch.id).where(Vouch.voucher_id == asked_id, Vouch.affiliation_id == affiliation.id, Vouch.withdrawn_at.is_(None))
        )
        result.append((person, affiliation, vouched is not None))
    return result


async def decide(
    session: AsyncSession,
    taxonomy: Taxonomy,
    registrar_id: uuid.UUID,
    participant_id: uuid.UUID,
    kind: RegistrarDecisionKind,
    note: str,
    *,
    now: datetime | None = None,
) -> RegistrarDecision:
    """A registrar verifies or revokes a participant's current affiliation, with a public note (the reason); the
    participant is told."""
    if registrar_id == participant_id:
        raise RegistrarOwnAffiliation()
    if not note.strip():
        raise NoteRequired()
    await _person(session, participant_id)
    await networks._lock_participant(session, participant_id)
    affiliation = await networks.current_affiliation(session, participant_id)
    if affiliation is None:
        raise AffiliationNotSet()
    now = now or utcnow()
    decision = RegistrarDecision(
        affiliation_id=affiliation.id, registrar_id=registrar_id, decision=kind, note=note.strip(), created_at=utcnow()
    )
    session.add(decision)
    await session.flush()
    await audit.record(
        session,
        actor_id=registrar_id,
        action=f"affiliation.registrar_{kind.value}",
        target_type="participant",
        target_id=participant_id,
        payload={"affiliation_id": str(affiliation.id), "note": decision.note, **_terms(affiliation)},
    )
    if kind is RegistrarDecisionKind.revoked:
        await notifications.affiliation_revoked(session, participant_id=participant_id, note=decision.note, now=now, actor_id=registrar_id)
    else:
        verdicts = await evidence.verdicts(session, [participant_id], taxonomy.vouches_needed)
        await notifications.affiliation_verified(
            session, participant_id=participant_id, how=verdicts.words(participant_id), now=now, actor_id=registrar_id
        )
    await _recompute_after(session, taxonomy, participant_id, registrar_id, f"affiliation.registrar_{kind.value}")
    return decision


async def queue(
    session: AsyncSession, taxonomy: Taxonomy, limit: int = 100, name: str | None = None
) -> list[tuple[Participant, Affiliation]]:
    """The registrar's queue: current affiliations not verified yet and not declined by a registrar, oldest first;
    with `name`, only people whose name holds it. A declined affiliation (its newest decision a revocation) leaves
    the queue until the person changes it."""
    newest = (
        select(RegistrarDecision.decision)
        .where(RegistrarDecision.affiliation_id == Affiliation.id)
        .order_by(RegistrarDecision.created_at.desc(), RegistrarDecision.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    rows = (
        (
            await session.execute(
                select(Participant, Affiliation)
                .join(Affiliation, (Affiliation.participant_id == Participant.id) & Affiliation.valid_to.is_(None))
                .where(Participant.deleted_at.is_(None), or_(newest.is_(None), newest != RegistrarDecisionKind.revoked))
                .where(func.lower(Participant.display_name).contains(name.strip().lower(), autoescape=True) if name else true())
                .order_by(Affiliation.valid_from)
            )
        )
        .tuples()
        .all()
    )
    verdicts = await evidence.verdicts(session, [person.id for person, _ in rows], taxonomy.vouches_needed)
    return [(person, affiliation) for person, affiliation in rows if person.id not in verdicts.evidence][:limit]


@dataclass(frozen=True)
class Pending:
    """One affiliation in the registrar's queue with what a registrar weighs: the vouches it has so far, the
    organisation record it names (its status and proven domains), and the domain of the person's sign-in address
    (whether proven); the address itself stays private."""

    person: Participant
    affiliation: Affiliation
    vouchers: list[str]
    organisation: Organisation | None
    organisation_domains: list[str]
    address_domain: str
    address_proven: bool


async def pending(session: AsyncSession, taxonomy: Taxonomy, limit: int = 100, name: str | None = None) -> list[Pending]:
    """`queue` with each affiliation's evidence so far, read for the whole queue at once (three queries, whatever
    its length)."""
    queued = await queue(session, taxonomy, limit, name)
    affiliation_ids = [affiliation.id for _, affiliation in queued]
    vouchers: dict[uuid.UUID, list[str]] = {}
    if affiliation_ids:
        for affiliation_id, voucher in await session.execute(
            select(Vouch.affiliation_id, Participant.display_name)
            .join(Participant, Participant.id == Vouch.voucher_id)
            .where(Vouch.affiliation_id.in_(affiliation_ids), Vouch.withdrawn_at.is_(None))
            .order_by(Vouch.created_at)
        ):
            vouchers.setdefault(affiliation_id, []).append(voucher)
    organisation_ids = {affiliation.organisation_id for _, affiliation in queued if affiliation.organisation_id}
    organisations: dict[uuid.UUID, Organisation] = {}
    proven: dict[uuid.UUID, list[str]] = {}
    if organisation_ids:
        organisations = {o.id: o for o in await session.scalars(select(Organisation).where(Organisation.id.in_(organisation_ids)))}
        for organisation_id, domain in await session.execute(
            select(OrganisationDomain.organisation_id, OrganisationDomain.domain)
            .where(OrganisationDomain.organisation_id.in_(organisation_ids), OrganisationDomain.status == DomainStatus.verified)
            .order_by(OrganisationDomain.domain)
        ):
            proven.setdefault(organisation_id, []).append(domains.display(domain))
    return [
        Pending(
            person=person,
            affiliation=affiliation,
            vouchers=vouchers.get(affiliation.id, []),
            organisation=organisations.get(affiliation.organisation_id) if affiliation.organisation_id else None,
            organisation_domains=proven.get(affiliation.organisation_id, []) if affiliation.organisation_id else [],
            address_domain=domains.display(person.email.rpartition("@")[2]),
            address_proven=person.email_verified_at is not None,
        )
        for person, affiliation in queued
    ]


# --- By address: a second address at the organisation's proven domain, proven by a mailed link ---------------


async def request_address_proof(session: AsyncSession, settings: Settings, participant: Participant, address: str, *, now: datetime) -> str:
    """Mail a link to `address`, an address of the participant at one of their organisation's proven domains; opening
    it (`prove_address`) verifies their affiliation. Refused (422) without an organisation, or for an address at any
    other domain, and as `addresses.request_proof` refuses (their sign-in address, another account's). Returns the
    address as stored."""
    await membership.require_participant(session, participant.id)
    affiliation = await _affiliation(session, participant.id)
    if affiliation.organisation_id is None:
        raise AddressCannotVerify("Independent experts have no organisation domain: ask colleagues to vouch for you, or a registrar")
    proven = (
        await session.scalars(
            select(OrganisationDomain.domain)
            .where(OrganisationDomain.organisation_id == affiliation.organisation_id, OrganisationDomain.status == DomainStatus.verified)
            .order_by(OrganisationDomain.domain)
        )
    ).all()
    if not any(domains.covers(domain, address) for domain in proven):
        named = affiliation.organisation or "Your organisation"
        said = (
            f"{named} has no proven domain yet: its page shows how to prove one"
            if not proven
            else f"Give an address at {named}'s proven domain: {', '.join(domains.display(domain) for domain in proven)}"
        )
        raise AddressCannotVerify(said, errors=[{"field": "email", "message": said}])
    return await addresses.request_proof(session, settings, participant, address, now=now)


async def prove_address(
    session: AsyncSession, taxonomy: Taxonomy, settings: Settings, token: str, *, now: datetime
) -> tuple[Participant, str]:
    """Prove the second address the link was mailed to (single use, 48 h: 400 forged, 410 expired or used); the
    affiliation it verifies counts at once (the formation of their networks is recomputed). Returns the person and
    the words of their verification now."""
    link = await links.check(session, token, links.LinkPurpose.prove_address, now=now, secret=settings.signing_key)
    await networks._lock_participant(session, link.participant_id)
    was_verified = link.participant_id in (await evidence.verdicts(session, [link.participant_id], taxonomy.vouches_needed)).evidence
    participant, _address = await addresses.prove(session, settings, token, now=now)
    after = await evidence.verdicts(session, [participant.id], taxonomy.vouches_needed)
    if not was_verified and participant.id in after.evidence:  # their own act: the page tells them, no notification
        await _recompute_after(session, taxonomy, participant.id, participant.id, "affiliation.address_proven")
    return participant, after.words(participant.id)
