"""Pages for organisations and verified affiliations: the directory, an organisation's page, "verify my
affiliation" (the ways open to you: proving an address at your organisation by a mailed link, asking colleagues
to vouch; the requests others sent you), and the registrar's queue of affiliations to decide."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, EmailStr
from sqlalchemy import select

from networks import evidence, organisations, verifying
from networks import service as networks
from networks.models import Affiliation, DomainStatus, RegistrarDecisionKind
from networks.taxonomy import Taxonomy
from networks.verification import Candidate, counts
from networks.verification_router import NoteIn
from services.accounts import links, twofactor
from services.accounts.addresses import PROVE_PATH, second_addresses
from services.accounts.models import Participant, Role
from services.api import ratelimit
from services.api.deps import SessionDep, SettingsDep, WritingSessionDep
from services.kit.errors import Forbidden, InvalidInput, NotFound
from services.kit.ratelimit import TooManyRequests
from services.web.forms import FailedForm, FormInvalid, attempt, fields, parse, redirect, refusal
from services.web.i18n import formatted, gettext
from services.web.session import Csrf, PageParticipant, Viewer, ViewerDep
from services.web.templating import reader_zone, render

router = APIRouter(include_in_schema=False)
# Verified colleagues offered to ask, at most.
OFFERED = 50


class _Address(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr


@router.get("/organisations")
async def directory(request: Request, session: SessionDep, viewer: ViewerDep, q: str | None = None):
    listing = await organisations.directory(session, (q or "")[:200] or None)
    return render(request, viewer, "organisations.html", {"listing": listing, "q": q or ""}, title=gettext("Organisations"))


@router.get("/organisations/{slug}")
async def organisation_page(request: Request, slug: str, session: SessionDep, viewer: ViewerDep):
    taxonomy: Taxonomy = request.app.state.taxonomy
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
    context = {
        "organisation": organisation,
        "domains": await organisations.domains_of(session, organisation.id),
        "members": [(row, verdicts.badge(row[0])) for row in rows],
    }
    return render(request, viewer, "organisation.html", context, title=organisation.name)


@router.get("/verification")
async def verification_page(request: Request, session: SessionDep, viewer: ViewerDep, participant: PageParticipant):
    taxonomy: Taxonomy = request.app.state.taxonomy
    mine = await networks.current_affiliation(session, participant.id)
    verdicts = await evidence.verdicts(session, [participant.id], taxonomy.vouches_needed)
    colleagues: list[tuple[uuid.UUID, str, str | None]] = []
    if mine is not None and participant.id not in verdicts.evidence:
        rows = (
            await session.execute(
                select(Participant.id, Participant.display_name, Affiliation.organisation, Affiliation.id, Affiliation.organisation_id)
                .join(Affiliation, (Affiliation.participant_id == Participant.id) & Affiliation.valid_to.is_(None))
                .where(Affiliation.stakeholder_group == mine.stakeholder_group, Participant.id != participant.id)
                .order_by(Participant.display_name)
                .limit(OFFERED * 4)
            )
        ).all()
        theirs = await evidence.verdicts(session, [row[0] for row in rows], taxonomy.vouches_needed)
        me = Candidate(participant.id, mine.id, mine.stakeholder_group, mine.organisation_id)
        colleagues = [
            (pid, name, organisation)
            for pid, name, organisation, affiliation_id, organisation_id in rows
            if pid in theirs.evidence and counts(Candidate(pid, affiliation_id, mine.stakeholder_group, organisation_id), me)
        ][:OFFERED]
    context = {
        "affiliation": mine,
        "badge": verdicts.badge(participant.id),
        "vouches": await verifying.vouches_for(session, participant.id),
        "needed": taxonomy.vouches_needed,
        "colleagues": colleagues,
        "requests": await verifying.requests_to(session, participant.id),
        "second_addresses": [proven.email for proven in await second_addresses(session, participant.id)],
        "organisation_domains": await _proven_domains(session, mine.organisation_id if mine else None),
    }
    return render(request, viewer, "verification.html", context, title=gettext("Verify my affiliation"))


async def _proven_domains(session: SessionDep, organisation_id: uuid.UUID | None) -> list[str]:
    if organisation_id is None:
        return []
    return [claim.domain for claim in await organisations.domains_of(session, organisation_id) if claim.status is DomainStatus.verified]


@router.post("/verification/ask")
async def ask(
    request: Request, session: WritingSessionDep, _csrf: Csrf, settings: SettingsDep, viewer: ViewerDep, participant: PageParticipant
):
    form = await request.form()
    taxonomy: Taxonomy = request.app.state.taxonomy
    try:
        asked = [uuid.UUID(str(value)) for value in form.getlist("asked")]
    except ValueError:
        return redirect("/verification", viewer, settings, refused=InvalidInput(gettext("Choose colleagues from the list")))
    if not asked:
        return redirect("/verification", viewer, settings, flash=("error", gettext("Choose at least one colleague to ask.")))
    now = request.app.state.clock.now()
    newly, error = await attempt(session, lambda: verifying.request_vouches(session, taxonomy, participant.id, asked, now=now))
    if error is not None:
        return redirect("/verification", viewer, settings, refused=error)
    names = ", ".join(person.display_name for person in newly or []) or "nobody new"
    return redirect("/verification", viewer, settings, flash=("ok", formatted("Asked to vouch for you: %(names)s.", names=names)))


@router.post("/verification/address")
async def ask_address_proof(
    request: Request, session: WritingSessionDep, _csrf: Csrf, settings: SettingsDep, viewer: ViewerDep, participant: PageParticipant
):
    """Mail a link to an address at the organisation's proven domain (as `POST /api/v1/me/address-proofs`)."""
    form = await fields(request)
    try:
        address = parse(_Address, {"email": form.get("email", "")}).email
    except FormInvalid:
        return redirect("/verification", viewer, settings, flash=("error", gettext("Give an email address, such as name@example.org.")))
    if (wait := await ratelimit.mail_wait(request, "prove", str(participant.id))) is not None:
        raise TooManyRequests(f"A link was mailed a moment ago; you may ask again in {wait} seconds", wait)
    now = request.app.state.clock.now()
    sent, error = await attempt(session, lambda: verifying.request_address_proof(session, settings, participant, address, now=now))
    if error is not None:
        return redirect("/verification", viewer, settings, refused=error)
    done = formatted("A link is on its way to %(email)s (valid for 48 hours): open it to verify your affiliation.", email=sent)
    return redirect("/verification", viewer, settings, flash=("ok", done))


@router.get(PROVE_PATH)
async def prove_address_page(request: Request, session: SessionDep, settings: SettingsDep, viewer: ViewerDep, token: str = ""):
    """The mailed link: a button proves the address (a GET changes nothing, so a mail scanner opening it spends nothing);
    a forged link is 400, an expired or used one 410, each on a page saying so."""
    link = await links.check(
        session, token, links.LinkPurpose.prove_address, now=request.app.state.clock.now(), secret=settings.signing_key
    )
    context = {"token": token, "address": link.email}
    return render(request, viewer, "prove_address.html", context, title=gettext("Prove your organisation's address"))


@router.post(PROVE_PATH)
async def prove_address(request: Request, session: WritingSessionDep, _csrf: Csrf, settings: SettingsDep, viewer: ViewerDep):
    form = await fields(request)
    taxonomy: Taxonomy = request.app.state.taxonomy
    now = request.app.state.clock.now()
    participant, words = await verifying.prove_address(session, taxonomy, settings, form.get("token", ""), now=now)
    mine = viewer.participant is not None and viewer.participant.id == participant.id
    said = formatted("Thank you: the address is proven. Your affiliation is %(words)s.", words=words)
    return redirect("/verification" if mine else "/signin", viewer, settings, flash=("ok", said))


@router.post("/participants/{participant_id}/vouch")
async def vouch(
    request: Request,
    participant_id: uuid.UUID,
    session: WritingSessionDep,
    _csrf: Csrf,
    settings: SettingsDep,
    viewer: ViewerDep,
    participant: PageParticipant,
):
    form = await fields(request)
    taxonomy: Taxonomy = request.app.state.taxonomy
    withdraw = form.get("withdraw") == "yes"
    now = request.app.state.clock.now()

    async def act() -> None:
        if withdraw:
            await verifying.withdraw(session, taxonomy, participant.id, participant_id)
        else:
            await verifying.vouch(session, taxonomy, participant.id, participant_id, now=now)

    _, error = await attempt(session, act)
    if error is not None:
        return redirect("/verification", viewer, settings, refused=error)
    done = gettext("Your vouch is withdrawn.") if withdraw else gettext("You vouch for them now.")
    return redirect("/verification", viewer, settings, flash=("ok", done))


# --- The registrar's queue ---------------------------------------------------------------------

REGISTRAR_PAGE = "/registrar"
# Affiliations shown at once, oldest first; a registrar finds anyone else by name.
QUEUE_LENGTH = 100
DECISIONS = {"approve": RegistrarDecisionKind.verified, "decline": RegistrarDecisionKind.revoked}


def _registrar(viewer: Viewer) -> Participant:
    """The signed-in registrar (two-factor proven in this session), as the API's `get_registrar` asks."""
    participant = viewer.participant
    if participant is None or participant.role is not Role.registrar:
        raise Forbidden("This page is for registrars")
    twofactor.require_for_role(participant, viewer.account_session is not None and viewer.account_session.two_factor)
    return participant


@router.get(REGISTRAR_PAGE)
async def registrar_queue(
    request: Request, session: SessionDep, viewer: ViewerDep, participant: PageParticipant, q: str | None = None
) -> HTMLResponse:
    _registrar(viewer)
    return await _render_queue(request, session, viewer, (q or "")[:200])


async def _render_queue(request: Request, session: SessionDep, viewer: Viewer, q: str, failed: FailedForm | None = None) -> HTMLResponse:
    """The queue (with `q`, of people whose name holds it); with `failed`, why a decision was refused, beside the
    form it came from, with what was typed."""
    taxonomy: Taxonomy = request.app.state.taxonomy
    queue = await verifying.pending(session, taxonomy, QUEUE_LENGTH, q or None)
    context = {"queue": queue, "full": len(queue) == QUEUE_LENGTH, "q": q, "needed": taxonomy.vouches_needed, "failed": failed}
    status_code = failed.status_code if failed else 200
    return render(request, viewer, "registrar.html", context, status_code=status_code, title=gettext("Registrar queue"))


@router.post(REGISTRAR_PAGE + "/{participant_id}/{decision}")
async def registrar_decide(
    request: Request,
    participant_id: uuid.UUID,
    decision: str,
    session: WritingSessionDep,
    _csrf: Csrf,
    settings: SettingsDep,
    viewer: ViewerDep,
    participant: PageParticipant,
) -> Response:
    """Approve (verify) or decline (with a public reason) an affiliation: `verifying.decide`, as the API's
    registrar-verification and revocation, so the act is audited and the person told the same way."""
    registrar = _registrar(viewer)
    kind = DECISIONS.get(decision)
    if kind is None:
        raise NotFound(f"No decision {decision!r}: approve or decline")
    form = await fields(request)
    taxonomy: Taxonomy = request.app.state.taxonomy
    name = f"{decision}-{participant_id}"
    q = form.get("q", "")[:200]
    back = f"{REGISTRAR_PAGE}?{urlencode({'q': q})}" if q else REGISTRAR_PAGE
    try:
        note = parse(NoteIn, {"note": form.get("note", "")}).note
    except FormInvalid as invalid:
        return await _render_queue(request, session, viewer, q, FailedForm(name, {"note": invalid.errors.get("note", "")}, form))
    now = request.app.state.clock.now()
    _, error = await attempt(session, lambda: verifying.decide(session, taxonomy, registrar.id, participant_id, kind, note, now=now))
    if error is not None:
        said = refusal(error, reader_zone(viewer.zone_name), REGISTRAR_PAGE).html()
        return await _render_queue(request, session, viewer, q, FailedForm(name, {"note": said}, form, error.status_code))
    person = await session.get(Participant, participant_id)
    who = person.display_name if person else ""
    done = (
        formatted("Verified: %(name)s's affiliation, with your public note.", name=who)
        if kind is RegistrarDecisionKind.verified
        else formatted("Declined: %(name)s is told, with your reason.", name=who)
    )
    return redirect(back, viewer, settings, flash=("ok", done))
