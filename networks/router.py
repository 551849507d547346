"""HTTP for the taxonomy, affiliations, networks, charters, membership and formation."""

from __future__ import annotations

import uuid
from fractions import Fraction
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request, status

from networks import evidence, service
from networks.errors import AffiliationNotSet
from networks.models import Affiliation, ApplicationStatus, NetworkCharter, NetworkStatus
from networks.schemas import (
    AffiliationIn,
    AffiliationOut,
    ApplicationOut,
    CharterOut,
    CharterPatch,
    ConvenerIn,
    CountryOut,
    DecisionIn,
    FormationOut,
    JoinIn,
    JoinOut,
    Label,
    MemberOut,
    NetworkCreate,
    NetworkOut,
    SignoffOut,
    TaxonomyOut,
)
from networks.taxonomy import Taxonomy
from services.api.deps import CurrentParticipant, CursorQuery, LimitQuery, SessionDep, WritingSessionDep
from services.kit.pagination import Page
from services.kit.validation import SafeText

router = APIRouter(prefix="/api/v1", tags=["networks"])
# Writing routes declare WritingSessionDep before CurrentParticipant: SQLite's write lock must
# be taken before the session's first read (the token's participant).


def get_taxonomy(request: Request) -> Taxonomy:
    taxonomy: Taxonomy = request.app.state.taxonomy
    return taxonomy


TaxonomyDep = Annotated[Taxonomy, Depends(get_taxonomy)]
SearchQuery = Annotated[SafeText | None, Query(max_length=200, description="Text in the name, issue or aims")]


def _affiliation_out(affiliation: Affiliation, taxonomy: Taxonomy) -> AffiliationOut:
    country = taxonomy.countries.get(affiliation.country)
    return AffiliationOut(
        stakeholder_group=affiliation.stakeholder_group,
        stakeholder_group_label=taxonomy.groups.get(affiliation.stakeholder_group, affiliation.stakeholder_group),
        country=affiliation.country,
        country_name=country.name if country else affiliation.country,
        region=affiliation.region,
        region_label=taxonomy.regions.get(affiliation.region, affiliation.region),
        organisation=affiliation.organisation,
        organisation_id=affiliation.organisation_id,
        valid_from=affiliation.valid_from,
        valid_to=affiliation.valid_to,
    )


def _charter_out(charter: NetworkCharter) -> CharterOut:
    return CharterOut(
        version=charter.version,
        required_groups=charter.required_groups,
        min_regions=charter.min_regions,
        verified_only=charter.verified_only,
        signoff=SignoffOut(
            quorum=charter.quorum,
            quorum_value=float(Fraction(charter.quorum)),
            threshold=charter.threshold,
            threshold_value=float(Fraction(charter.threshold)),
            min_ballot_hours=charter.min_ballot_hours,
        ),
        adopted_by=charter.adopted_by,
        adopted_at=charter.adopted_at,
    )


def _network_out(view: service.NetworkView) -> NetworkOut:
    network = view.network
    return NetworkOut(
        slug=network.slug,
        name=network.name,
        issue=network.issue,
        aims=network.aims,
        intended_outcome=network.intended_outcome,
        membership_policy=network.membership_policy,
        status=network.status,
        charter=_charter_out(view.charter),
        member_count=view.member_count,
        founded_by=network.founded_by,
        created_at=network.created_at,
        status_changed_at=network.status_changed_at,
    )


def _member_out(view: service.MemberView) -> MemberOut:
    return MemberOut(**vars(view))


def _application_out(view: service.ApplicationView) -> ApplicationOut:
    application = view.application
    return ApplicationOut(
        id=application.id,
        participant_id=application.participant_id,
        name=view.name,
        stakeholder_group=view.stakeholder_group,
        region=view.region,
        organisation=view.organisation,
        motivation=application.motivation,
        status=application.status,
        created_at=application.created_at,
        decided_at=application.decided_at,
        decision_note=application.decision_note,
    )


@router.get("/taxonomy", response_model=TaxonomyOut)
async def taxonomy(taxonomy: TaxonomyDep) -> TaxonomyOut:
    """Stakeholder groups and regions with their labels, and every country with its region."""
    return TaxonomyOut(
        groups=[Label(code=code, label=label) for code, label in taxonomy.groups.items()],
        regions=[Label(code=code, label=label) for code, label in taxonomy.regions.items()],
        countries=[
            CountryOut(code=c.code, name=c.name, region=c.region) for c in sorted(taxonomy.countries.values(), key=lambda c: c.code)
        ],
    )


@router.put("/me/affiliation", response_model=AffiliationOut)
async def set_affiliation(
    session: WritingSessionDep, body: AffiliationIn, participant: CurrentParticipant, taxonomy: TaxonomyDep
) -> AffiliationOut:
    """Set your affiliation: stakeholder group, country (the region follows from it) and organisation.

    The previous affiliation is kept in your history; a change is recorded in the audit log and
    recomputes the formation status of every network you are a member of.
    """
    affiliation = await service.set_affiliation(
        session,
        taxonomy,
        participant.id,
        stakeholder_group=body.stakeholder_group,
        country=body.country,
        organisation=body.organisation,
        organisation_id=body.organisation_id,
    )
    return _affiliation_out(affiliation, taxonomy)


@router.get("/me/affiliation", response_model=AffiliationOut)
async def get_affiliation(participant: CurrentParticipant, session: SessionDep, taxonomy: TaxonomyDep) -> AffiliationOut:
    """Your current affiliation (404 until you set one)."""
    affiliation = await service.current_affiliation(session, participant.id)
    if affiliation is None:
        raise AffiliationNotSet()
    return _affiliation_out(affiliation, taxonomy)


@router.get("/me/affiliation/history", response_model=list[AffiliationOut])
async def affiliation_history(participant: CurrentParticipant, session: SessionDep, taxonomy: TaxonomyDep) -> list[AffiliationOut]:
    """Every affiliation you have had, the current one first; each with the period it held."""
    return [_affiliation_out(affiliation, taxonomy) for affiliation in await service.affiliation_history(session, participant.id)]


@router.post("/networks", status_code=status.HTTP_201_CREATED, response_model=NetworkOut)
async def found_network(
    session: WritingSessionDep, body: NetworkCreate, participant: CurrentParticipant, taxonomy: TaxonomyDep
) -> NetworkOut:
    """Found a network (needs an affiliation); you become its first member and convener.

    Charter defaults: every stakeholder group but intergovernmental, 3 regions, sign-off
    quorum 1/2 and threshold 1/2, ballots open at least 24 hours.
    """
    return _network_out(await service.found_network(session, taxonomy, participant.id, body))


@router.get("/networks", response_model=Page[NetworkOut])
async def list_networks(
    session: SessionDep,
    taxonomy: TaxonomyDep,
    status: NetworkStatus | None = None,
    q: SearchQuery = None,
    group: Annotated[str | None, Query(max_length=64, description="Only networks with a member of this stakeholder group")] = None,
    region: Annotated[str | None, Query(max_length=64, description="Only networks with a member from this region")] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
) -> Page[NetworkOut]:
    """Networks, newest first, filtered by status, text, or a group or region their roster covers."""
    views, next_cursor = await service.list_networks(
        session, taxonomy, status=status, q=q, group=group, region=region, cursor=cursor, limit=limit
    )
    return Page(items=[_network_out(view) for view in views], next_cursor=next_cursor)


@router.get("/networks/{slug}", response_model=NetworkOut)
async def get_network(slug: str, session: SessionDep) -> NetworkOut:
    return _network_out(await service.network_view(session, await service.get_network(session, slug)))


@router.patch("/networks/{slug}/charter", response_model=NetworkOut)
async def amend_charter(
    session: WritingSessionDep, slug: str, body: CharterPatch, participant: CurrentParticipant, taxonomy: TaxonomyDep
) -> NetworkOut:
    """Amend the charter (conveners). Fields not sent stay; a new charter version is adopted,
    earlier versions stay as they were for ballots opened under them."""
    return _network_out(await service.amend_charter(session, taxonomy, participant.id, slug, body))


@router.get("/networks/{slug}/charters", response_model=list[CharterOut])
async def charter_history(slug: str, session: SessionDep) -> list[CharterOut]:
    """Every version of the network's charter, newest first."""
    network = await service.get_network(session, slug)
    return [_charter_out(charter) for charter in await service.charter_history(session, network)]


@router.post("/networks/{slug}/join", status_code=status.HTTP_201_CREATED, response_model=JoinOut)
async def join(
    session: WritingSessionDep,
    slug: str,
    participant: CurrentParticipant,
    taxonomy: TaxonomyDep,
    body: Annotated[JoinIn | None, Body()] = None,
) -> JoinOut:
    """Join an open network at once (`outcome: member`), or apply to one that admits members
    by application (`outcome: pending`, with your motivation for the conveners)."""
    result = await service.join(session, taxonomy, participant.id, slug, (body or JoinIn()).motivation)
    if isinstance(result, service.MemberView):
        return JoinOut(outcome="member", member=_member_out(result))
    return JoinOut(outcome="pending", application=_application_out(result))


@router.get("/networks/{slug}/applications", response_model=Page[ApplicationOut])
async def list_applications(
    slug: str,
    participant: CurrentParticipant,
    session: SessionDep,
    status: Annotated[ApplicationStatus | None, Query(description="Default: pending")] = ApplicationStatus.pending,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
) -> Page[ApplicationOut]:
    """Applications to join, oldest first (conveners)."""
    views, next_cursor = await service.list_applications(session, participant.id, slug, status=status, cursor=cursor, limit=limit)
    return Page(items=[_application_out(view) for view in views], next_cursor=next_cursor)


@router.post("/networks/{slug}/applications/{application_id}/approve", response_model=ApplicationOut)
async def approve_application(
    session: WritingSessionDep,
    slug: str,
    application_id: uuid.UUID,
    participant: CurrentParticipant,
    taxonomy: TaxonomyDep,
    body: Annotated[DecisionIn | None, Body()] = None,
) -> ApplicationOut:
    """Approve a pending application (conveners): the applicant becomes a member."""
    view = await service.decide_application(
        session, taxonomy, participant.id, slug, application_id, approve=True, note=body.note if body else None
    )
    return _application_out(view)


@router.post("/networks/{slug}/applications/{application_id}/decline", response_model=ApplicationOut)
async def decline_application(
    session: WritingSessionDep,
    slug: str,
    application_id: uuid.UUID,
    participant: CurrentParticipant,
    taxonomy: TaxonomyDep,
    body: Annotated[DecisionIn | None, Body()] = None,
) -> ApplicationOut:
    """Decline a pending application (conveners)."""
    view = await service.decide_application(
        session, taxonomy, participant.id, slug, application_id, approve=False, note=body.note if body else None
    )
    return _application_out(view)


@router.post("/networks/{slug}/leave", status_code=status.HTTP_204_NO_CONTENT)
async def leave(session: WritingSessionDep, slug: str, participant: CurrentParticipant, taxonomy: TaxonomyDep) -> None:
    """Leave the network. The last convener must appoint another first."""
    await service.leave(session, taxonomy, participant.id, slug)


@router.post("/networks/{slug}/conveners", response_model=MemberOut)
async def appoint_convener(session: WritingSessionDep, slug: str, body: ConvenerIn, participant: CurrentParticipant) -> MemberOut:
    """Appoint a member as convener (conveners)."""
    return _member_out(await service.appoint_convener(session, participant.id, slug, body.participant_id))


@router.get("/networks/{slug}/members", response_model=Page[MemberOut])
async def members(
    slug: str, session: SessionDep, taxonomy: TaxonomyDep, cursor: CursorQuery = None, limit: LimitQuery = 100
) -> Page[MemberOut]:
    """The public roster in order of joining: name, stakeholder group, region, organisation, role, and how each
    member's affiliation is verified ("verified by domain …", "vouched by A and B", "unverified")."""
    views, next_cursor = await service.members(session, slug, cursor=cursor, limit=limit)
    verdicts = await evidence.verdicts(session, [view.participant_id for view in views], taxonomy.vouches_needed)
    items = [_member_out(view).model_copy(update={"verification": verdicts.badge(view.participant_id)}) for view in views]
    return Page(items=items, next_cursor=next_cursor)


@router.get("/networks/{slug}/formation", response_model=FormationOut)
async def formation(slug: str, session: SessionDep, taxonomy: TaxonomyDep) -> FormationOut:
    """Why the network is active or forming: groups present and missing, regions present and
    still needed, and a stakeholder group × region matrix of member counts."""
    charter, verdict, member_count = await service.formation(session, taxonomy, slug)
    counted = sum(sum(row.values()) for row in verdict.matrix.values())
    policy = (
        f"Only members with verified affiliations count (verified_only): {counted} of {member_count}"
        if charter.verified_only
        else "Every member counts, verified or not (verified_only is off until a convener amends the charter)"
    )
    return FormationOut(
        status=NetworkStatus(verdict.status.value),
        explanation=list(verdict.explanation),
        verified_only=charter.verified_only,
        verified_policy=policy,
        counted=counted,
        required_groups=charter.required_groups,
        min_regions=charter.min_regions,
        groups_present=list(verdict.groups_present),
        groups_missing=list(verdict.groups_missing),
        regions_present=list(verdict.regions_present),
        regions_needed=verdict.regions_needed,
        member_count=member_count,
        matrix={group: dict(row) for group, row in verdict.matrix.items()},
    )
