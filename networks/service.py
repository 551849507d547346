"""Use cases for affiliations, networks and membership.

Every public act is appended to the audit log in the caller's transaction; nothing here commits.
A network's stored `status` is the formation rule's verdict, recomputed after every change to
its roster, its charter or a member's affiliation, and every transition is audited.

Concurrency (PostgreSQL; SQLite serialises writers already): a use case first locks the
participant whose affiliation or membership it reads, then the network rows it recomputes,
always in that order, and appends to the audit log (which takes a global lock) only after.
Two writers of one network therefore run one after the other, and each recomputes the
status from everything committed before it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import count
from typing import Any, TypeVar, cast

from slugify import slugify as transliterated_slug
from sqlalchemy import ColumnElement, Select, and_, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from networks import evidence, membership, organisations
from networks.errors import (
    AffiliationInvalid,
    AffiliationRequired,
    AlreadyConvener,
    AlreadyMember,
    ApplicationDecided,
    ApplicationNotFound,
    ApplicationPending,
    AppointeeNotAMember,
    CharterInvalid,
    FilterInvalid,
    LastConvener,
    NetworkNotFound,
    NotAMember,
)
from networks.formation import Formation, RosterEntry, default_charter, evaluate, validate_charter
from networks.models import (
    SLUG_LENGTH,
    Affiliation,
    Application,
    ApplicationStatus,
    MemberRole,
    Membership,
    MembershipPolicy,
    Network,
    NetworkCharter,
    NetworkStatus,
    VerificationState,
)
from networks.schemas import CharterIn, CharterPatch, NetworkCreate
from networks.taxonomy import Taxonomy, UnknownCountry
from services.accounts.models import Participant
from services.audit import service as audit
from services.kit.db import utcnow
from services.kit.pagination import InvalidCursor, decode_cursor, encode_cursor
from services.notifications import events as notifications

SLUG_BASE_LENGTH = SLUG_LENGTH - 20
_SLUG_SUFFIXES = re.compile(r"(-\d+)+$")
SLUG_PATTERN = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")


@dataclass(frozen=True)
class NetworkView:
    network: Network
    charter: NetworkCharter
    member_count: int


# A roster query's row: what a MemberView is made of.
RosterRow = tuple[uuid.UUID, str, str | None, str | None, str | None, MemberRole, datetime]
_Row = TypeVar("_Row", bound=tuple[Any, ...])


@dataclass(frozen=True)
class MemberView:
    participant_id: uuid.UUID
    name: str
    stakeholder_group: str | None
    region: str | None
    organisation: str | None
    role: MemberRole
    joined_at: datetime


@dataclass(frozen=True)
class ApplicationView:
    application: Application
    name: str
    stakeholder_group: str | None
    region: str | None
    organisation: str | None


# Affiliations


def _current(participant_id: object) -> ColumnElement[bool]:
    return and_(Affiliation.participant_id == participant_id, Affiliation.valid_to.is_(None))


async def current_affiliation(session: AsyncSession, participant_id: uuid.UUID) -> Affiliation | None:
    return (await session.scalars(select(Affiliation).where(_current(participant_id)))).first()


async def affiliation_history(session: AsyncSession, participant_id: uuid.UUID) -> Sequence[Affiliation]:
    """Every affiliation the participant has had, the current one first."""
    query = select(Affiliation).where(Affiliation.participant_id == participant_id)
    return (await session.scalars(query.order_by(Affiliation.valid_from.desc(), Affiliation.id))).all()


async def affiliation_at(session: AsyncSession, participant_id: uuid.UUID, at: datetime) -> Affiliation | None:
    """The affiliation the participant had at `at` (what a vote cast then was cast as)."""
    query = select(Affiliation).where(
        Affiliation.participant_id == participant_id,
        Affiliation.valid_from <= at,
        or_(Affiliation.valid_to.is_(None), Affiliation.valid_to > at),
    )
    return (await session.scalars(query)).first()


def check_affiliation(taxonomy: Taxonomy, stakeholder_group: str, country: str) -> tuple[str, str]:
    """The country code (upper case) and its region; `AffiliationInvalid` naming the allowed values."""
    errors = []
    if not taxonomy.is_group(stakeholder_group):
        allowed = list(taxonomy.groups)
        errors.append(
            {
                "field": "stakeholder_group",
                "message": f"Unknown stakeholder group {stakeholder_group!r}; allowed: {', '.join(allowed)}",
                "allowed": allowed,
            }
        )
    try:
        known = taxonomy.country(country)
    except UnknownCountry:
        allowed = sorted(taxonomy.countries)
        errors.append(
            {
                "field": "country",
                "message": (
                    f"Unknown country {country!r}: use an ISO 3166-1 alpha-2 code; the {len(allowed)} allowed "
                    "codes are listed in `allowed` and, with names, at GET /api/v1/taxonomy"
                ),
                "allowed": allowed,
            }
        )
    if errors:
        raise AffiliationInvalid("; ".join(f"{error['field']}: {error['message']}" for error in errors), errors=errors)
    return known.code, known.region


def _affiliation_payload(affiliation: Affiliation) -> dict[str, Any]:
    # The public view of an affiliation (as on a roster): no country.
    return {
        "stakeholder_group": affiliation.stakeholder_group,
        "region": affiliation.region,
        "organisation": affiliation.organisation,
    }


async def set_affiliation(
    session: AsyncSession,
    taxonomy: Taxonomy,
    participant_id: uuid.UUID,
    *,
    stakeholder_group: str,
    country: str,
    organisation: str | None,
    organisation_id: uuid.UUID | None = None,
) -> Affiliation:
    """Make this the participant's affiliation from now on, closing the previous one.

    The organisation is a record (`organisation_id`), or a name resolved to the record with its
    normalised name (an unverified record is made for a new name); neither is an independent
    expert. Sending the current affiliation again changes nothing. Any other change ends the
    verification of the old affiliation (vouches and registrar decisions name that row). Every
    network the participant, or anyone whose verification rests on theirs, is a member of has
    its status recomputed.
    """
    country_code, region = check_affiliation(taxonomy, stakeholder_group, country)
    await _lock_participant(session, participant_id)
    record = await organisations.resolve(session, participant_id, organisation_id, organisation)
    organisation = record.name if record else None
    affected = await evidence.downstream(session, participant_id)
    networks = await _lock_networks_of(session, participant_id, affected)
    previous = await current_affiliation(session, participant_id)
    wanted = (stakeholder_group, country_code, region, record.id if record else None)
    if previous is not None and (previous.stakeholder_group, previous.country, previous.region, previous.organisation_id) == wanted:
        return previous

    now = utcnow()
    if previous is not None:
        previous.valid_to = now
        await session.flush()  # closed before the new row exists: one current affiliation at a time
    affiliation = Affiliation(
        participant_id=participant_id,
        stakeholder_group=stakeholder_group,
        country=country_code,
        region=region,
        organisation=organisation,
        organisation_id=record.id if record else None,
        valid_from=now,
    )
    session.add(affiliation)
    await session.flush()
    await audit.record(
        session,
        actor_id=participant_id,
        action="affiliation.changed" if previous else "affiliation.set",
        target_type="participant",
        target_id=participant_id,
        payload={**_affiliation_payload(affiliation), "previous": _affiliation_payload(previous) if previous else None},
    )
    for network in networks:
        await _recompute(session, taxonomy, network, actor_id=participant_id, cause="affiliation.changed")
    return affiliation


# Charters


def _charter_terms(taxonomy: Taxonomy, required_groups: Iterable[str], min_regions: int, field_prefix: str) -> tuple[list[str], int]:
    """The formation terms in taxonomy order, or `CharterInvalid` with one entry per broken rule."""
    required = set(required_groups)
    problems = validate_charter(required, min_regions, taxonomy)
    if problems:
        errors = []
        for field, message in problems:
            error: dict[str, Any] = {"field": field_prefix + field, "message": message}
            if message.startswith("Unknown stakeholder group"):
                error["message"] += f" (allowed: {', '.join(taxonomy.groups)})"
                error["allowed"] = list(taxonomy.groups)
            errors.append(error)
        raise CharterInvalid("; ".join(f"{error['field']}: {error['message']}" for error in errors), errors=errors)
    return [group for group in taxonomy.groups if group in required], min_regions


def charter_payload(charter: NetworkCharter) -> dict[str, Any]:
    return {
        "version": charter.version,
        "required_groups": list(charter.required_groups),
        "min_regions": charter.min_regions,
        "verified_only": charter.verified_only,
        "signoff": {
            "quorum": charter.quorum,
            "threshold": charter.threshold,
            "min_ballot_hours": charter.min_ballot_hours,
        },
    }


async def charter_of(session: AsyncSession, network: Network, version: int | None = None) -> NetworkCharter:
    """The charter in force (or the given version, as a ballot opened under it will need)."""
    query = select(NetworkCharter).where(
        NetworkCharter.network_id == network.id, NetworkCharter.version == (version or network.charter_version)
    )
    return (await session.scalars(query)).one()


async def charter_history(session: AsyncSession, network: Network) -> Sequence[NetworkCharter]:
    """Every version of the network's charter, newest first."""
    query = select(NetworkCharter).where(NetworkCharter.network_id == network.id)
    return (await session.scalars(query.order_by(NetworkCharter.version.desc()))).all()


async def amend_charter(session: AsyncSession, taxonomy: Taxonomy, actor_id: uuid.UUID, slug: str, patch: CharterPatch) -> NetworkView:
    """Adopt a new charter version with the fields sent changed (conveners only).

    The previous version is kept unchanged, so a ballot opened under it keeps its terms.
    An amendment that changes nothing adds no version and no audit event.
    """
    network = await _lock_network(session, slug)
    await _require_convener(session, network, actor_id)
    current = await charter_of(session, network)
    signoff = patch.signoff
    groups, min_regions = _charter_terms(
        taxonomy,
        patch.required_groups if patch.required_groups is not None else current.required_groups,
        patch.min_regions if patch.min_regions is not None else current.min_regions,
        field_prefix="",
    )
    proposed = {
        "required_groups": groups,
        "min_regions": min_regions,
        "verified_only": patch.verified_only if patch.verified_only is not None else current.verified_only,
        "quorum": str(signoff.quorum) if signoff and signoff.quorum is not None else current.quorum,
        "threshold": str(signoff.threshold) if signoff and signoff.threshold is not None else current.threshold,
        "min_ballot_hours": (signoff.min_ballot_hours if signoff and signoff.min_ballot_hours is not None else current.min_ballot_hours),
    }
    changes = {
        field: {"from": getattr(current, field), "to": value} for field, value in proposed.items() if getattr(current, field) != value
    }
    if not changes:
        return NetworkView(network, current, await _member_count(session, network.id))

    charter = NetworkCharter(network_id=network.id, version=current.version + 1, adopted_by=actor_id, adopted_at=utcnow(), **proposed)
    session.add(charter)
    network.charter_version = charter.version
    await session.flush()
    await audit.record(
        session,
        actor_id=actor_id,
        action="network.charter_amended",
        target_type="network",
        target_id=network.slug,
        payload={"version": charter.version, "changes": changes},
    )
    await _recompute(session, taxonomy, network, actor_id=actor_id, cause="network.charter_amended", charter=charter)
    return NetworkView(network, charter, await _member_count(session, network.id))


# Networks


def slugify(name: str, fallback: str = "network") -> str:
    """A URL-safe slug from a name in any script, transliterated to Latin ("Сеть данных" → "set-dannykh",
    "数字治理" → "shu-zi-zhi-li"): ASCII letters, digits and hyphens; `fallback` when nothing is left."""
    slug = transliterated_slug(name, max_length=SLUG_BASE_LENGTH, word_boundary=True, save_order=True)
    return slug.strip("-") or fallback


async def _free_slug(session: AsyncSession, name: str) -> str:
    base = slugify(name)
    if session.bind.dialect.name == "postgresql":
        # Founders of same-named networks queue here, so two cannot pick the same free slug.
        family = _SLUG_SUFFIXES.sub("", base)
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"cogov.network.slug:{family}"})
    taken = set((await session.scalars(select(Network.slug).where(Network.slug.startswith(base)))).all())
    candidates = (base if n == 1 else f"{base}-{n}" for n in count(1))
    # A base of at most SLUG_BASE_LENGTH leaves room for any suffix within SLUG_LENGTH.
    return next(candidate for candidate in candidates if candidate not in taken)


async def found_network(session: AsyncSession, taxonomy: Taxonomy, founder_id: uuid.UUID, body: NetworkCreate) -> NetworkView:
    """Found a network; the founder becomes its first member and convener."""
    await _lock_participant(session, founder_id)
    await membership.require_may_take_part(session, founder_id, "found a network")
    await membership.require_participant(session, founder_id)
    if await current_affiliation(session, founder_id) is None:
        raise AffiliationRequired("found a network")
    defaults = default_charter(taxonomy)
    requested: CharterIn = body.charter
    groups, min_regions = _charter_terms(
        taxonomy,
        requested.required_groups if requested.required_groups is not None else defaults.required_groups,
        requested.min_regions if requested.min_regions is not None else defaults.min_regions,
        field_prefix="charter.",
    )
    now = utcnow()
    network = Network(
        slug=await _free_slug(session, body.name),
        name=body.name,
        issue=body.issue,
        aims=body.aims,
        intended_outcome=body.intended_outcome,
        membership_policy=body.membership_policy,
        status=NetworkStatus.forming,
        charter_version=1,
        founded_by=founder_id,
        created_at=now,
        status_changed_at=now,
    )
    session.add(network)
    await session.flush()
    charter = NetworkCharter(
        network_id=network.id,
        version=1,
        required_groups=groups,
        min_regions=min_regions,
        verified_only=requested.verified_only,
        quorum=str(requested.signoff.quorum),
        threshold=str(requested.signoff.threshold),
        min_ballot_hours=requested.signoff.min_ballot_hours,
        adopted_by=founder_id,
        adopted_at=now,
    )
    session.add_all([charter, Membership(network_id=network.id, participant_id=founder_id, role=MemberRole.convener, joined_at=now)])
    await session.flush()
    await audit.record(
        session,
        actor_id=founder_id,
        action="network.founded",
        target_type="network",
        target_id=network.slug,
        payload={
            "name": network.name,
            "membership_policy": network.membership_policy.value,
            "charter": charter_payload(charter),
            "founder": str(founder_id),
        },
    )
    await _recompute(session, taxonomy, network, actor_id=founder_id, cause="network.founded", charter=charter)
    return NetworkView(network, charter, 1)


async def get_network(session: AsyncSession, slug: str) -> Network:
    network = None
    if SLUG_PATTERN.fullmatch(slug):
        network = await session.scalar(select(Network).where(Network.slug == slug))
    if network is None:
        raise NetworkNotFound(_no_such_network(slug))
    return network


async def network_view(session: AsyncSession, network: Network) -> NetworkView:
    return NetworkView(network, await charter_of(session, network), await _member_count(session, network.id))


async def list_networks(
    session: AsyncSession,
    taxonomy: Taxonomy,
    *,
    status: NetworkStatus | None = None,
    q: str | None = None,
    group: str | None = None,
    region: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[NetworkView], str | None]:
    """Networks, newest first. `q` keeps the networks whose name, issue or aims hold each of its words;
    `group`/`region` keep the networks with at least one member of that group/region."""
    errors = []
    if group is not None and not taxonomy.is_group(group):
        allowed = list(taxonomy.groups)
        errors.append(
            {"field": "query.group", "message": f"Unknown stakeholder group {group!r}; allowed: {', '.join(allowed)}", "allowed": allowed}
        )
    if region is not None and not taxonomy.is_region(region):
        allowed = list(taxonomy.regions)
        errors.append({"field": "query.region", "message": f"Unknown region {region!r}; allowed: {', '.join(allowed)}", "allowed": allowed})
    if errors:
        raise FilterInvalid("; ".join(f"{error['field']}: {error['message']}" for error in errors), errors=errors)

    query = select(Network)
    if status is not None:
        query = query.where(Network.status == status)
    # Every word, each in any of the three texts: "privacy data" finds "Data Flows … Privacy".
    for word in (q or "").split():
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(*(column.ilike(pattern, escape="\\") for column in (Network.name, Network.issue, Network.aims))))
    covering = select(Membership.network_id).join(Affiliation, _current(Membership.participant_id))
    if group is not None:
        query = query.where(Network.id.in_(covering.where(Affiliation.stakeholder_group == group)))
    if region is not None:
        query = query.where(Network.id.in_(covering.where(Affiliation.region == region)))
    query = _keyset(query, Network.created_at, Network.id, cursor, descending=True)
    networks = list((await session.scalars(query.limit(limit + 1))).all())
    page = networks[:limit]
    next_cursor = encode_cursor(page[-1].created_at.isoformat(), str(page[-1].id)) if len(networks) > limit else None
    return await _views(session, page), next_cursor


async def _views(session: AsyncSession, networks: list[Network]) -> list[NetworkView]:
    if not networks:
        return []
    ids = [network.id for network in networks]
    charters = await session.scalars(
        select(NetworkCharter)
        .join(Network, and_(Network.id == NetworkCharter.network_id, Network.charter_version == NetworkCharter.version))
        .where(Network.id.in_(ids))
    )
    charter_by_network = {charter.network_id: charter for charter in charters}
    counts = await session.execute(
        select(Membership.network_id, func.count()).where(Membership.network_id.in_(ids)).group_by(Membership.network_id)
    )
    count_by_network = dict(counts.tuples().all())
    return [NetworkView(network, charter_by_network[network.id], count_by_network.get(network.id, 0)) for network in networks]


# Membership


async def join(
    session: AsyncSession, taxonomy: Taxonomy, participant_id: uuid.UUID, slug: str, motivation: str = ""
) -> MemberView | ApplicationView:
    """Join an open network at once, or apply to one that admits members by application."""
    await _lock_participant(session, participant_id)
    await membership.require_may_take_part(session, participant_id, "join or apply to a network")
    await membership.require_participant(session, participant_id)
    network = await _lock_network(session, slug)
    affiliation = await current_affiliation(session, participant_id)
    if affiliation is None:
        raise AffiliationRequired("join a network")
    if await membership.is_member(session, network.id, participant_id):
        raise AlreadyMember()
    now = utcnow()

    if network.membership_policy is MembershipPolicy.open:
        session.add(Membership(network_id=network.id, participant_id=participant_id, role=MemberRole.member, joined_at=now))
        await session.flush()
        await audit.record(
            session,
            actor_id=participant_id,
            action="network.joined",
            target_type="network",
            target_id=network.slug,
            payload={"participant_id": str(participant_id), **_affiliation_payload(affiliation)},
        )
        await _recompute(session, taxonomy, network, actor_id=participant_id, cause="network.joined")
        return await _member_view(session, network.id, participant_id)

    pending = await session.scalar(
        select(Application).where(
            Application.network_id == network.id,
            Application.participant_id == participant_id,
            Application.status == ApplicationStatus.pending,
        )
    )
    if pending is not None:
        raise ApplicationPending(
            f"You applied to this network on {pending.created_at:%Y-%m-%d}; a convener has not decided yet",
            application_id=str(pending.id),
        )
    application = Application(network_id=network.id, participant_id=participant_id, motivation=motivation, created_at=now)
    session.add(application)
    await session.flush()
    await audit.record(
        session,
        actor_id=participant_id,
        action="network.applied",
        target_type="network",
        target_id=network.slug,
        payload={"application_id": str(application.id), "participant_id": str(participant_id)},
    )
    view = ApplicationView(application, *await _name_and_affiliation(session, participant_id))
    await notifications.application_received(
        session, network_id=network.id, slug=network.slug, name=network.name, applicant=view.name, now=now
    )
    return view


async def list_applications(
    session: AsyncSession,
    actor_id: uuid.UUID,
    slug: str,
    *,
    status: ApplicationStatus | None = ApplicationStatus.pending,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[ApplicationView], str | None]:
    """Applications to the network, oldest first (conveners only); pending ones by default."""
    network = await get_network(session, slug)
    await _require_convener(session, network, actor_id)
    query = (
        select(Application, Participant.display_name, Affiliation.stakeholder_group, Affiliation.region, Affiliation.organisation)
        .join(Participant, Participant.id == Application.participant_id)
        .outerjoin(Affiliation, _current(Application.participant_id))
        .where(Application.network_id == network.id)
    )
    if status is not None:
        query = query.where(Application.status == status)
    query = _keyset(query, Application.created_at, Application.id, cursor, descending=False)
    rows = (await session.execute(query.limit(limit + 1))).all()
    page = [ApplicationView(*row) for row in rows[:limit]]
    last = page[-1].application if page else None
    next_cursor = encode_cursor(last.created_at.isoformat(), str(last.id)) if last and len(rows) > limit else None
    return page, next_cursor


async def decide_application(
    session: AsyncSession,
    taxonomy: Taxonomy,
    actor_id: uuid.UUID,
    slug: str,
    application_id: uuid.UUID,
    *,
    approve: bool,
    note: str | None = None,
) -> ApplicationView:
    """Approve (the applicant becomes a member) or decline a pending application (conveners only)."""
    network = await get_network(session, slug)
    await _require_convener(session, network, actor_id)
    application = await session.get(Application, application_id)
    if application is None or application.network_id != network.id:
        raise ApplicationNotFound()
    applicant_id = application.participant_id
    await _lock_participant(session, applicant_id)
    network = await _lock_network(session, slug)
    # Again under the lock: a convener who has just left, or a concurrent decision, loses.
    await _require_convener(session, network, actor_id)
    await session.refresh(application)
    if application.status is not ApplicationStatus.pending:
        raise ApplicationDecided(f"This application was already {application.status.value}")

    now = utcnow()
    application.status = ApplicationStatus.approved if approve else ApplicationStatus.declined
    application.decided_at = now
    application.decided_by = actor_id
    application.decision_note = note or None
    payload = {"application_id": str(application.id), "participant_id": str(applicant_id)}
    if not approve:
        await session.flush()
        await audit.record(
            session,
            actor_id=actor_id,
            action="network.application_declined",
            target_type="network",
            target_id=network.slug,
            payload=payload,
        )
    else:
        if await membership.is_member(session, network.id, applicant_id):
            raise AlreadyMember("The applicant is already a member of this network")
        session.add(Membership(network_id=network.id, participant_id=applicant_id, role=MemberRole.member, joined_at=now))
        await session.flush()
        affiliation = await current_affiliation(session, applicant_id)
        if affiliation is not None:
            payload |= _affiliation_payload(affiliation)
        await audit.record(
            session,
            actor_id=actor_id,
            action="network.application_approved",
            target_type="network",
            target_id=network.slug,
            payload=payload,
        )
        await _recompute(session, taxonomy, network, actor_id=actor_id, cause="network.application_approved")
    await notifications.application_decided(
        session, applicant_id=applicant_id, slug=network.slug, name=network.name, approved=approve, now=now
    )
    return ApplicationView(application, *await _name_and_affiliation(session, applicant_id))


async def leave(session: AsyncSession, taxonomy: Taxonomy, participant_id: uuid.UUID, slug: str) -> None:
    """Leave a network. Its last convener must first appoint another."""
    await _lock_participant(session, participant_id)
    network = await _lock_network(session, slug)
    current = await membership.find_membership(session, network.id, participant_id)
    if current is None:
        raise NotAMember("You are not a member of this network")
    if current.role is MemberRole.convener:
        conveners = await session.scalar(
            select(func.count()).select_from(Membership).where(Membership.network_id == network.id, Membership.role == MemberRole.convener)
        )
        if conveners == 1:
            if await _member_count(session, network.id) == 1:
                raise LastConvener("You are the only member and the last convener; a network always keeps one convener")
            raise LastConvener(
                "You are the last convener of this network; appoint another first with "
                f'POST /api/v1/networks/{network.slug}/conveners {{"participant_id": ...}}'
            )
    role = current.role
    await session.delete(current)
    await session.flush()
    await audit.record(
        session,
        actor_id=participant_id,
        action="network.left",
        target_type="network",
        target_id=network.slug,
        payload={"participant_id": str(participant_id), "role": role.value},
    )
    await _recompute(session, taxonomy, network, actor_id=participant_id, cause="network.left")


async def appoint_convener(session: AsyncSession, actor_id: uuid.UUID, slug: str, target_id: uuid.UUID) -> MemberView:
    """Make a member a convener (conveners only)."""
    network = await _lock_network(session, slug)
    await _require_convener(session, network, actor_id)
    appointee = await membership.find_membership(session, network.id, target_id)
    if appointee is None:
        raise AppointeeNotAMember(f"Participant {target_id} is not a member of this network; only members can become conveners")
    if appointee.role is MemberRole.convener:
        raise AlreadyConvener()
    appointee.role = MemberRole.convener
    await session.flush()
    await audit.record(
        session,
        actor_id=actor_id,
        action="network.convener_appointed",
        target_type="network",
        target_id=network.slug,
        payload={"participant_id": str(target_id)},
    )
    return await _member_view(session, network.id, target_id)


async def members(session: AsyncSession, slug: str, *, cursor: str | None = None, limit: int = 100) -> tuple[list[MemberView], str | None]:
    """The public roster, in order of joining, each member with their current affiliation."""
    network = await get_network(session, slug)
    query = _keyset(_roster_query(network.id), Membership.joined_at, Membership.participant_id, cursor, descending=False)
    rows = (await session.execute(query.limit(limit + 1))).all()
    page = [MemberView(*row) for row in rows[:limit]]
    next_cursor = encode_cursor(page[-1].joined_at.isoformat(), str(page[-1].participant_id)) if len(rows) > limit else None
    return page, next_cursor


async def formation(session: AsyncSession, taxonomy: Taxonomy, slug: str) -> tuple[NetworkCharter, Formation, int]:
    """The formation rule applied to the network's roster now: its charter, verdict and member count."""
    network = await get_network(session, slug)
    charter = await charter_of(session, network)
    roster, member_count = await counted_roster(session, taxonomy, network.id, charter)
    return charter, evaluate(charter, roster, taxonomy), member_count


# Internals


def _no_such_network(slug: str) -> str:
    shown = slug if len(slug) <= 80 else slug[:80] + "…"
    return f"No network has the slug {shown!r}"


async def _lock_participant(session: AsyncSession, participant_id: uuid.UUID) -> None:
    # FOR NO KEY UPDATE: serialises writers of this participant's affiliation and memberships
    # without blocking inserts that merely reference the participant.
    await session.execute(select(Participant.id).where(Participant.id == participant_id).with_for_update(key_share=True))


async def _lock_network(session: AsyncSession, slug: str) -> Network:
    network = None
    if SLUG_PATTERN.fullmatch(slug):
        query = select(Network).where(Network.slug == slug).with_for_update(key_share=True)
        network = await session.scalar(query.execution_options(populate_existing=True))
    if network is None:
        raise NetworkNotFound(_no_such_network(slug))
    return network


async def _lock_networks_of(session: AsyncSession, participant_id: uuid.UUID, others: Iterable[uuid.UUID] = ()) -> list[Network]:
    # In id order, so two transactions locking overlapping sets cannot deadlock.
    mine = select(Membership.network_id).where(Membership.participant_id.in_({participant_id, *others}))
    query = select(Network).where(Network.id.in_(mine)).order_by(Network.id).with_for_update(key_share=True)
    return list((await session.scalars(query.execution_options(populate_existing=True))).all())


async def _require_convener(session: AsyncSession, network: Network, participant_id: uuid.UUID) -> None:
    await membership.require_convener(session, network.id, participant_id, f"Only a convener of {network.slug!r} may do this")


async def _member_count(session: AsyncSession, network_id: uuid.UUID) -> int:
    query = select(func.count()).select_from(Membership).where(Membership.network_id == network_id)
    return await session.scalar(query) or 0


def _roster_query(network_id: uuid.UUID) -> Select[RosterRow]:
    # The outer join leaves the affiliation's columns None for a member without one.
    return cast(
        Select[RosterRow],
        select(
            Membership.participant_id,
            Participant.display_name,
            Affiliation.stakeholder_group,
            Affiliation.region,
            Affiliation.organisation,
            Membership.role,
            Membership.joined_at,
        )
        .join(Participant, Participant.id == Membership.participant_id)
        .outerjoin(Affiliation, _current(Membership.participant_id))
        .where(Membership.network_id == network_id),
    )


async def _member_view(session: AsyncSession, network_id: uuid.UUID, participant_id: uuid.UUID) -> MemberView:
    row = (await session.execute(_roster_query(network_id).where(Membership.participant_id == participant_id))).one()
    return MemberView(*row)


async def _name_and_affiliation(session: AsyncSession, participant_id: uuid.UUID) -> tuple[str, str | None, str | None, str | None]:
    query = (
        select(Participant.display_name, Affiliation.stakeholder_group, Affiliation.region, Affiliation.organisation)
        .outerjoin(Affiliation, _current(Participant.id))
        .where(Participant.id == participant_id)
    )
    return tuple((await session.execute(query)).one())


async def _roster(session: AsyncSession, network_id: uuid.UUID) -> list[RosterEntry]:
    query = (
        select(Membership.participant_id, Affiliation.stakeholder_group, Affiliation.region)
        .outerjoin(Affiliation, _current(Membership.participant_id))
        .where(Membership.network_id == network_id)
    )
    return [RosterEntry(*row) for row in (await session.execute(query)).all()]


async def counted_roster(
    session: AsyncSession, taxonomy: Taxonomy, network_id: uuid.UUID, charter: NetworkCharter
) -> tuple[list[RosterEntry], int]:
    """The roster the formation rule counts (only verified members under `verified_only`), and the member count."""
    if charter.verified_only and await evidence.stored_ready(session, taxonomy.vouches_needed):
        # One query: each member with their stored verification (none: unverified), ids as the driver gives them.
        query = (
            select(evidence.raw_id(Membership.participant_id), Affiliation.stakeholder_group, Affiliation.region, VerificationState.method)
            .outerjoin(Affiliation, _current(Membership.participant_id))
            .outerjoin(VerificationState, VerificationState.participant_id == Membership.participant_id)
            .where(Membership.network_id == network_id)
        )
        rows = (await (await session.connection()).execute(query)).all()
        return [RosterEntry(member, group, region) for member, group, region, method in rows if method is not None], len(rows)
    roster = await _roster(session, network_id)
    if not charter.verified_only:
        return roster, len(roster)
    verified = await evidence.verdicts(session, [entry.participant_id for entry in roster], taxonomy.vouches_needed, named=False)  # type: ignore[misc]
    return [entry for entry in roster if entry.participant_id in verified.evidence], len(roster)


async def _recompute(
    session: AsyncSession,
    taxonomy: Taxonomy,
    network: Network,
    *,
    actor_id: uuid.UUID,
    cause: str,
    charter: NetworkCharter | None = None,
) -> Formation:
    """Apply the formation rule to the (locked) network; store and audit a change of status."""
    charter = charter or await charter_of(session, network)
    roster, member_count = await counted_roster(session, taxonomy, network.id, charter)
    verdict = evaluate(charter, roster, taxonomy)
    status = NetworkStatus(verdict.status.value)
    if status is not network.status:
        network.status = status
        network.status_changed_at = utcnow()
        await session.flush()
        await audit.record(
            session,
            actor_id=actor_id,
            action="network.activated" if verdict.active else "network.formation_lost",
            target_type="network",
            target_id=network.slug,
            payload={
                "status": status.value,
                "cause": cause,
                "charter_version": charter.version,
                "member_count": member_count,
                "counted": len(roster),
                "verified_only": charter.verified_only,
                "groups_missing": list(verdict.groups_missing),
                "regions_present": list(verdict.regions_present),
                "regions_needed": verdict.regions_needed,
                "explanation": list(verdict.explanation),
            },
        )
        await notifications.network_status(
            session, network_id=network.id, slug=network.slug, name=network.name, active=verdict.active, now=network.status_changed_at
        )
    return verdict


def _keyset(
    query: Select[_Row],
    at_column: InstrumentedAttribute[datetime],
    id_column: InstrumentedAttribute[uuid.UUID],
    cursor: str | None,
    *,
    descending: bool,
) -> Select[_Row]:
    """Order by (time, id) and, given a cursor, continue after the row it names."""
    if cursor:
        raw_at, raw_id = decode_cursor(cursor, str, str)
        try:
            at, key = datetime.fromisoformat(raw_at), uuid.UUID(raw_id)
        except ValueError as exc:
            raise InvalidCursor() from exc
        if at.tzinfo is None:
            raise InvalidCursor()
        if descending:
            query = query.where(or_(at_column < at, and_(at_column == at, id_column < key)))
        else:
            query = query.where(or_(at_column > at, and_(at_column == at, id_column > key)))
    if descending:
        return query.order_by(at_column.desc(), id_column.desc())
    return query.order_by(at_column, id_column)
