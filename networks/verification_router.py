"""HTTP for organisation records and domains, and for verifying affiliations (vouches, requests, registrars)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from networks import domains, evidence, organisations, verifying
from networks import service as networks
from networks.errors import VerificationRequired
from networks.models import Affiliation, Organisation, OrganisationDomain, RegistrarDecisionKind
from networks.router import TaxonomyDep
from networks.schemas import Code
from networks.schemas import Organisation as OrganisationName
from services.accounts.address_router import LINK_ERRORS
from services.accounts.models import Participant
from services.accounts.schemas import Accepted, EmailChange, LinkToken
from services.api import ratelimit
from services.api.deps import ClockDep, CurrentParticipant, SessionDep, SettingsDep, WritingSessionDep, get_registrar
from services.kit.ratelimit import TooManyRequests
from services.kit.validation import SafeText

router = APIRouter(prefix="/api/v1", tags=["verification"])
RegistrarParticipant = Annotated[Participant, Depends(get_registrar)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrganisationIn(_Input):
    name: OrganisationName
    stakeholder_group: Code
    country: Code
    website: Annotated[SafeText, Field(max_length=300)] | None = None
    domains: Annotated[list[Annotated[SafeText, Field(max_length=300)]], Field(max_length=10)] = Field(default_factory=list)
    distinct: bool = Field(default=False, description="Create it although organisations with similar names exist")


class DomainIn(_Input):
    domain: Annotated[SafeText, Field(max_length=300)]


class NoteIn(_Input):
    note: Annotated[SafeText, Field(max_length=2000)] = Field(description="Public: on what the decision rests")


class AskIn(_Input):
    asked: Annotated[list[uuid.UUID], Field(min_length=1, max_length=verifying.MAX_ASKED)]


def _domain_out(claim: OrganisationDomain) -> dict[str, Any]:
    return {
        "domain": domains.display(claim.domain),
        "idna": claim.domain,
        "status": claim.status.value,
        "method": claim.method.value if claim.method else None,
        "txt_record": f"{domains.TXT_PREFIX}{claim.token}",
        "note": claim.note,
        "checked_at": claim.checked_at,
        "check_result": claim.check_result,
    }


def _organisation_out(organisation: Organisation, **extra: Any) -> dict[str, Any]:
    return {
        "id": organisation.id,
        "slug": organisation.slug,
        "name": organisation.name,
        "stakeholder_group": organisation.stakeholder_group,
        "country": organisation.country,
        "website": organisation.website,
        "status": organisation.status.value,
        "confirmed_note": organisation.confirmed_note,
        **extra,
    }


def _refused(settings: SettingsDep) -> frozenset[str]:
    return domains.webmail_domains(settings.webmail_domains_file)


async def _require_verified(session: SessionDep, taxonomy: TaxonomyDep, participant_id: uuid.UUID, act: str) -> None:
    verdicts = await evidence.verdicts(session, [participant_id], taxonomy.vouches_needed)
    if participant_id not in verdicts.evidence:
        raise VerificationRequired(f"Only participants whose own affiliation is verified may {act}; see GET /api/v1/me/verification")


@router.get("/organisations")
async def directory(session: SessionDep, q: Annotated[SafeText | None, Query(max_length=200)] = None) -> list[dict[str, Any]]:
    """The organisation directory by name, with current member counts."""
    return [_organisation_out(organisation, members=count) for organisation, count in await organisations.directory(session, q)]


@router.get("/organisations/similar")
async def similar(
    session: SessionDep,
    settings: SettingsDep,
    name: Annotated[SafeText, Query(max_length=200)],
    domain: Annotated[list[SafeText] | None, Query(max_length=10)] = None,
) -> list[dict[str, Any]]:
    """Organisations a proposal may duplicate (same normalised name, a shared domain, a similar name): shown before creating."""
    parsed = [domains.parse_domain(raw, _refused(settings)) for raw in domain or []]
    return [_organisation_out(item.organisation, reason=item.reason) for item in await organisations.near_duplicates(session, name, parsed)]


@router.post("/organisations", status_code=status.HTTP_201_CREATED)
async def propose(
    session: WritingSessionDep, body: OrganisationIn, participant: CurrentParticipant, taxonomy: TaxonomyDep, settings: SettingsDep
) -> dict[str, Any]:
    """Propose an organisation (verified participants). Duplicates are refused (409) with the existing records."""
    await _require_verified(session, taxonomy, participant.id, "propose an organisation")
    country, _region = networks.check_affiliation(taxonomy, body.stakeholder_group, body.country)
    organisation = await organisations.propose(
        session,
        _refused(settings),
        participant.id,
        name=body.name,
        stakeholder_group=body.stakeholder_group,
        country=country,
        website=body.website,
        claimed=body.domains,
        distinct=body.distinct,
    )
    return _organisation_out(organisation, domains=[_domain_out(d) for d in await organisations.domains_of(session, organisation.id)])


@router.get("/organisations/{slug}")
async def organisation_page(slug: str, session: SessionDep, taxonomy: TaxonomyDep) -> dict[str, Any]:
    """An organisation: its domains (with the TXT record to publish), members with their verification, and networks."""
    organisation = await organisations.get(session, slug)
    rows = (
        await session.execute(
            select(Participant.id, Participant.display_name, Affiliation.stakeholder_group, Affiliation.region)
            .join(Affiliation, (Affiliation.participant_id == Participant.id) & Affiliation.valid_to.is_(None))
            .where(Affiliation.organisation_id == organisation.id)
            .order_by(Participant.display_name)
        )
    ).all()
    verdicts = await evidence.verdicts(session, [row[0] for row in rows], taxonomy.vouches_needed)
    member_networks = {network for participant_id, *_ in rows for network, _role in await _networks(session, participant_id)}
    return _organisation_out(
        organisation,
        domains=[_domain_out(d) for d in await organisations.domains_of(session, organisation.id)],
        members=[
            {"participant_id": pid, "name": name, "stakeholder_group": group, "region": region, "verification": verdicts.badge(pid)}
            for pid, name, group, region in rows
        ],
        networks=sorted(member_networks),
    )


async def _networks(session: SessionDep, participant_id: uuid.UUID) -> list[tuple[str, str]]:
    from networks import membership

    return [(network.slug, role.value) for network, role in await membership.networks_of(session, participant_id)]


@router.post("/organisations/{slug}/domains", status_code=status.HTTP_201_CREATED)
async def claim_domain(
    session: WritingSessionDep, slug: str, body: DomainIn, participant: CurrentParticipant, settings: SettingsDep
) -> dict[str, Any]:
    """Claim a domain for the organisation: the answer holds the TXT record to publish (422 for webmail, IPs, malformed names)."""
    from networks import membership

    await membership.require_participant(session, participant.id)
    return _domain_out(await organisations.claim_domain(session, _refused(settings), participant.id, slug, body.domain))


@router.post("/organisations/{slug}/domains/{domain}/check")
async def check_domain(
    session: SessionDep, slug: str, domain: str, participant: CurrentParticipant, settings: SettingsDep
) -> dict[str, Any]:
    """Look for the TXT record now. DNS not answering is "could not check yet": nothing is verified by error.
    DNS is asked outside any transaction; the outcome is written afterwards (`organisations.check_domain`)."""
    resolver = domains.resolver(settings.dns_nameservers, settings.dns_timeout_seconds)
    return _domain_out(await organisations.check_domain(session, resolver, participant.id, slug, domain))


@router.post("/organisations/{slug}/domains/{domain}/confirm")
async def confirm_domain(
    session: WritingSessionDep, slug: str, domain: str, body: NoteIn, registrar: RegistrarParticipant
) -> dict[str, Any]:
    """A registrar confirms a domain by hand, with a public note."""
    return _domain_out(await organisations.confirm_domain(session, registrar.id, slug, domain, body.note))


@router.post("/organisations/{slug}/confirm")
async def confirm_organisation(session: WritingSessionDep, slug: str, body: NoteIn, registrar: RegistrarParticipant) -> dict[str, Any]:
    """A registrar confirms an organisation by hand, with a public note."""
    return _organisation_out(await organisations.confirm(session, registrar.id, slug, body.note))


async def _verification(session: SessionDep, taxonomy: TaxonomyDep, participant_id: uuid.UUID) -> dict[str, Any]:
    affiliation = await networks.current_affiliation(session, participant_id)
    verdicts = await evidence.verdicts(session, [participant_id], taxonomy.vouches_needed)
    vouches = await verifying.vouches_for(session, participant_id)
    return {
        "participant_id": participant_id,
        "affiliation": None
        if affiliation is None
        else {
            "stakeholder_group": affiliation.stakeholder_group,
            "country": affiliation.country,
            "organisation": affiliation.organisation,
            "organisation_id": affiliation.organisation_id,
        },
        "verification": verdicts.badge(participant_id),
        "vouches": [{"voucher_id": person.id, "name": person.display_name, "since": vouch.created_at} for person, vouch in vouches],
        "vouches_needed": taxonomy.vouches_needed,
    }


@router.get("/me/verification")
async def my_verification(session: SessionDep, participant: CurrentParticipant, taxonomy: TaxonomyDep) -> dict[str, Any]:
    """How your affiliation is verified, and the ways open to you if it is not."""
    mine = await _verification(session, taxonomy, participant.id)
    ways = []
    affiliation = await networks.current_affiliation(session, participant.id)
    if affiliation is None:
        ways.append("Set your affiliation first: PUT /api/v1/me/affiliation")
    else:
        if affiliation.organisation_id is not None:
            ways.append("By address: an address of yours at one of your organisation's verified domains verifies you")
        ways.append(
            f"By vouching: ask {taxonomy.vouches_needed} participants verified in {affiliation.stakeholder_group}, "
            "from other organisations than yours: POST /api/v1/me/vouch-requests"
        )
        ways.append("By a registrar: registrars verify affiliations by hand, with a public note")
    return {**mine, "ways": ways}


@router.get("/participants/{participant_id}/verification")
async def verification(participant_id: uuid.UUID, session: SessionDep, taxonomy: TaxonomyDep) -> dict[str, Any]:
    """A participant's verification and its public evidence (who vouches, which domain, which registrar and note)."""
    return await _verification(session, taxonomy, participant_id)


@router.post("/participants/{participant_id}/vouch", status_code=status.HTTP_201_CREATED)
async def vouch(
    session: WritingSessionDep, participant_id: uuid.UUID, participant: CurrentParticipant, taxonomy: TaxonomyDep, clock: ClockDep
) -> dict[str, Any]:
    """Vouch for this participant's current affiliation (public). Refused with the reason: yourself, twice, across groups,
    your own organisation, or while you are not verified yourself."""
    await verifying.vouch(session, taxonomy, participant.id, participant_id, now=clock.now())
    return await _verification(session, taxonomy, participant_id)


@router.delete("/participants/{participant_id}/vouch")
async def withdraw_vouch(
    session: WritingSessionDep, participant_id: uuid.UUID, participant: CurrentParticipant, taxonomy: TaxonomyDep
) -> dict[str, Any]:
    """Withdraw your vouch; their verification lapses if too few remain."""
    await verifying.withdraw(session, taxonomy, participant.id, participant_id)
    return await _verification(session, taxonomy, participant_id)


@router.post("/me/vouch-requests", status_code=status.HTTP_201_CREATED)
async def ask(
    session: WritingSessionDep, body: AskIn, participant: CurrentParticipant, taxonomy: TaxonomyDep, clock: ClockDep
) -> dict[str, Any]:
    """Ask named verified participants to vouch for your current affiliation; they see it in GET /api/v1/me/vouch-requests."""
    newly = await verifying.request_vouches(session, taxonomy, participant.id, body.asked, now=clock.now())
    return {"asked": [{"id": person.id, "name": person.display_name} for person in newly]}


@router.get("/me/vouch-requests")
async def requests_to_me(session: SessionDep, participant: CurrentParticipant) -> list[dict[str, Any]]:
    """Who asked you to vouch for them, for which affiliation, and whether you already do."""
    return [
        {
            "participant_id": person.id,
            "name": person.display_name,
            "stakeholder_group": affiliation.stakeholder_group,
            "country": affiliation.country,
            "organisation": affiliation.organisation,
            "vouched": vouched,
        }
        for person, affiliation, vouched in await verifying.requests_to(session, participant.id)
    ]


@router.post("/participants/{participant_id}/registrar-verification", status_code=status.HTTP_201_CREATED)
async def registrar_verify(
    session: WritingSessionDep,
    participant_id: uuid.UUID,
    body: NoteIn,
    registrar: RegistrarParticipant,
    taxonomy: TaxonomyDep,
    clock: ClockDep,
) -> dict[str, Any]:
    """A registrar verifies this participant's current affiliation by hand, with a required public note."""
    await verifying.decide(session, taxonomy, registrar.id, participant_id, RegistrarDecisionKind.verified, body.note, now=clock.now())
    return await _verification(session, taxonomy, participant_id)


@router.post("/participants/{participant_id}/revocation", status_code=status.HTTP_201_CREATED)
async def registrar_revoke(
    session: WritingSessionDep,
    participant_id: uuid.UUID,
    body: NoteIn,
    registrar: RegistrarParticipant,
    taxonomy: TaxonomyDep,
    clock: ClockDep,
) -> dict[str, Any]:
    """A registrar revokes the verification of this participant's current affiliation, with a public reason (audited)."""
    await verifying.decide(session, taxonomy, registrar.id, participant_id, RegistrarDecisionKind.revoked, body.note, now=clock.now())
    return await _verification(session, taxonomy, participant_id)


@router.post(
    "/me/address-proofs",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses={
        409: {"description": "The address is another account's (`email_taken`), or already proven (`already_verified`)"},
        422: {"description": "Not at a proven domain of your organisation (`address_cannot_verify`), or your sign-in address"},
        429: {"description": "Too many mails asked for; wait"},
    },
)
async def ask_address_proof(
    request: Request, session: WritingSessionDep, body: EmailChange, participant: CurrentParticipant, settings: SettingsDep, clock: ClockDep
) -> Accepted:
    """Prove an address at one of your organisation's proven domains (when you sign in with another): a single-use
    link valid 48 hours is mailed to it, and opening it (`POST /api/v1/address-proofs/confirm`) verifies your
    affiliation. The address stays private."""
    if (wait := await ratelimit.mail_wait(request, "prove", str(participant.id))) is not None:
        raise TooManyRequests(f"A link was mailed a moment ago; you may ask again in {wait} seconds", wait)
    address = await verifying.request_address_proof(session, settings, participant, body.email, now=clock.now())
    return Accepted(detail=f"A link is on its way to {address} (valid for 48 hours); opening it verifies your affiliation.")


@router.post("/address-proofs/confirm", responses=LINK_ERRORS)
async def confirm_address_proof(
    session: WritingSessionDep, body: LinkToken, settings: SettingsDep, taxonomy: TaxonomyDep, clock: ClockDep
) -> dict[str, Any]:
    """Prove the address with the token of the link mailed to it; answers the person's verification now."""
    participant, _words = await verifying.prove_address(session, taxonomy, settings, body.token, now=clock.now())
    return await _verification(session, taxonomy, participant.id)


@router.get("/registrar/queue")
async def registrar_queue(session: SessionDep, registrar: RegistrarParticipant, taxonomy: TaxonomyDep) -> list[dict[str, Any]]:
    """Current affiliations not verified yet nor declined, oldest first, with the evidence so far."""
    return [
        {
            "participant_id": item.person.id,
            "name": item.person.display_name,
            "stakeholder_group": item.affiliation.stakeholder_group,
            "country": item.affiliation.country,
            "organisation": item.affiliation.organisation,
            "organisation_status": item.organisation.status.value if item.organisation else None,
            "since": item.affiliation.valid_from,
            "evidence": {
                "vouched_by": item.vouchers,
                "vouches_needed": taxonomy.vouches_needed,
                "address_domain": item.address_domain,
                "address_proven": item.address_proven,
                "organisation_domains": item.organisation_domains,
            },
        }
        for item in await verifying.pending(session, taxonomy)
    ]
