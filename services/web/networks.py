"""Pages for the home page, the networks directory, founding a network and a network's own page."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from markupsafe import Markup
from sqlalchemy import func, select

from networks import evidence, membership
from networks import service as networks
from networks.errors import NetworkNotFound
from networks.models import Application, ApplicationStatus, MemberRole, MembershipPolicy, Network, NetworkStatus
from networks.schemas import CharterPatch, DecisionIn, JoinIn, NetworkCreate
from networks.taxonomy import Taxonomy
from norms import service as norms
from services.api.deps import SessionDep, SettingsDep, WritingSessionDep
from services.clearinghouse import entries, feeds
from services.clearinghouse.feeds import FeedFormat
from services.kit.errors import DomainError, InvalidInput
from services.notifications import awaiting
from services.notifications.models import Target
from services.web.forms import FailedForm, FormInvalid, attempt, beside, field_errors, fields, parse, redirect, refusal
from services.web.i18n import formatted, gettext
from services.web.notifications import follow_state
from services.web.session import Csrf, PageParticipant, ViewerDep
from services.web.templating import reader_zone, render

router = APIRouter(include_in_schema=False)

DIRECTORY_PAGE = 20
ROSTER_LIMIT = 200


# Adopted norms shown on the home page, newest first; the clearing house lists them all.
HOME_ADOPTED = 3


@router.get("/")
async def home(request: Request, session: SessionDep, viewer: ViewerDep):
    taxonomy: Taxonomy = request.app.state.taxonomy
    recent, _ = await networks.list_networks(session, taxonomy, limit=6)
    counts = dict((await session.execute(select(Network.status, func.count()).group_by(Network.status))).tuples().all())
    mine = []
    affiliation = None
    waiting = None
    if viewer.participant is not None:
        affiliation = await networks.current_affiliation(session, viewer.participant.id)
        mine = await membership.networks_of(session, viewer.participant.id)
        waiting = await awaiting.awaiting(session, viewer.participant.id, request.app.state.clock.now())
    adopted, _ = await feeds.select_entries(session, feeds.make_query(FeedFormat.json, limit=HOME_ADOPTED))
    context = {
        "recent": recent,
        "adopted": await entries.views(session, adopted, details=False),
        "active_count": counts.get(NetworkStatus.active, 0),
        "forming_count": counts.get(NetworkStatus.forming, 0),
        "mine": mine,
        "affiliation": affiliation,
        "awaiting": waiting,
    }
    return render(request, viewer, "home.html", context)


@router.get("/networks")
async def directory(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    q: str = "",
    status: str = "",
    group: str = "",
    region: str = "",
    cursor: str = "",
):
    taxonomy: Taxonomy = request.app.state.taxonomy
    filters = {"q": q.strip()[:200], "status": status, "group": group, "region": region}
    error = None
    views: list[networks.NetworkView] = []
    next_cursor: str | None = None
    try:
        if status and status not in NetworkStatus.__members__:
            raise InvalidInput(f"Unknown status {status!r}; choose active or forming")
        if "\x00" in q:
            raise InvalidInput("The search must not contain NUL characters")
        views, next_cursor = await networks.list_networks(
            session,
            taxonomy,
            status=NetworkStatus(status) if status else None,
            q=filters["q"] or None,
            group=group or None,
            region=region or None,
            cursor=cursor or None,
            limit=DIRECTORY_PAGE,
        )
    except DomainError as exc:
        error = exc.detail
    context = {"views": views, "next_cursor": next_cursor, "filters": filters, "error": error, "paged": bool(cursor)}
    return render(request, viewer, "networks.html", context, status_code=422 if error else 200, title=gettext("Networks"))


@router.get("/networks/new")
async def new_network_page(request: Request, session: SessionDep, viewer: ViewerDep, participant: PageParticipant):
    affiliation = await networks.current_affiliation(session, participant.id)
    return render(
        request,
        viewer,
        "network_new.html",
        {"form": {"membership_policy": "open"}, "errors": {}, "affiliation": affiliation},
        title=gettext("Found a network"),
    )


@router.post("/networks/new")
async def found_network(
    request: Request, session: WritingSessionDep, _csrf: Csrf, settings: SettingsDep, viewer: ViewerDep, participant: PageParticipant
):
    form = await fields(request)
    taxonomy: Taxonomy = request.app.state.taxonomy
    try:
        body = parse(
            NetworkCreate,
            {key: form.get(key, "") for key in ("name", "issue", "aims", "intended_outcome")}
            | {"membership_policy": form.get("membership_policy") or "open"}
            # New networks count only verified members unless the founder chooses otherwise.
            | {"charter": {"verified_only": form.get("counts") != "everyone"}},
        )
        view, error = await attempt(session, lambda: networks.found_network(session, taxonomy, participant.id, body))
        if error is not None:
            raise FormInvalid(field_errors(error))
        assert view is not None  # `attempt` returns the result when there is no error
    except FormInvalid as invalid:
        affiliation = await networks.current_affiliation(session, participant.id)
        context = {"form": form, "errors": invalid.errors, "affiliation": affiliation}
        return render(request, viewer, "network_new.html", context, status_code=422, title=gettext("Found a network"))
    return redirect(
        f"/networks/{view.network.slug}",
        viewer,
        settings,
        flash=("ok", formatted("You founded %(name)s. Invite experts from other groups and regions to join.", name=view.network.name)),
    )


@router.get("/networks/{slug}")
async def network_page(request: Request, slug: str, session: SessionDep, viewer: ViewerDep):
    return await render_network_page(request, session, viewer, slug)


async def render_network_page(request: Request, session, viewer, slug: str, failed: FailedForm | None = None):
    """The network page; with `failed`, one of its forms (starting a norm, applying, deciding an application) is shown
    again with its messages beside the fields and what was entered (422)."""
    taxonomy: Taxonomy = request.app.state.taxonomy
    network = await networks.get_network(session, slug)
    view = await networks.network_view(session, network)
    charter, verdict, member_count = await networks.formation(session, taxonomy, slug)
    roster, more_members = await networks.members(session, slug, limit=ROSTER_LIMIT)
    verdicts = await evidence.verdicts(session, [member.participant_id for member in roster], taxonomy.vouches_needed)
    me = viewer.participant
    my_role = next((member.role for member in roster if me is not None and member.participant_id == me.id), None)
    my_application = None
    applications: list[networks.ApplicationView] = []
    affiliation = None
    if me is not None:
        affiliation = await networks.current_affiliation(session, me.id)
        my_application = await session.scalar(
            select(Application).where(
                Application.network_id == network.id, Application.participant_id == me.id, Application.status == ApplicationStatus.pending
            )
        )
        if my_role is MemberRole.convener:
            applications, _ = await networks.list_applications(session, me.id, slug, limit=100)
    context = {
        "network": network,
        "view": view,
        "charter": charter,
        "verdict": verdict,
        "member_count": member_count,
        "roster": roster,
        "badges": {member.participant_id: verdicts.badge(member.participant_id) for member in roster},
        "more_members": more_members is not None,
        "my_role": my_role,
        "my_application": my_application,
        "applications": applications,
        "affiliation": affiliation,
        "norms": await norms.list_norms(session, slug),
        "by_application": network.membership_policy is MembershipPolicy.by_application,
        "failed": failed,
        "follow": await follow_state(session, viewer, Target.network, str(network.id)),
    }
    return render(request, viewer, "network.html", context, status_code=failed.status_code if failed else 200, title=network.name)


@router.post("/networks/{slug}/join")
async def join(
    request: Request,
    slug: str,
    session: WritingSessionDep,
    _csrf: Csrf,
    settings: SettingsDep,
    viewer: ViewerDep,
    participant: PageParticipant,
):
    form = await fields(request)
    taxonomy: Taxonomy = request.app.state.taxonomy
    back = f"/networks/{slug}"
    entered = {"motivation": form.get("motivation", "").replace("\r\n", "\n")}

    async def again(errors: dict[str, str | Markup], status_code: int = 422):
        return await render_network_page(request, session, viewer, slug, FailedForm("apply", errors, entered, status_code))

    try:
        body = parse(JoinIn, entered)
    except FormInvalid as invalid:
        return await again(beside(invalid.errors, ("motivation",)))
    result, error = await attempt(session, lambda: networks.join(session, taxonomy, participant.id, slug, body.motivation))
    if error is not None:
        _not_found_is_final(error)
        return await again({"_": refusal(error, reader_zone(viewer.zone_name), back).html()}, error.status_code)
    if isinstance(result, networks.MemberView):
        return redirect(back, viewer, settings, flash=("ok", gettext("You are now a member of this network.")))
    return redirect(back, viewer, settings, flash=("ok", gettext("Your application is sent; a convener will decide on it.")))


@router.get("/networks/{slug}/leave")
async def leave_page(request: Request, slug: str, session: SessionDep, viewer: ViewerDep, participant: PageParticipant):
    """Leaving asks first, on a page of its own, so it works without JavaScript."""
    network = await networks.get_network(session, slug)
    role = await membership.member_role(session, network.id, participant.id)
    return render(
        request, viewer, "network_leave.html", {"network": network, "role": role}, title=formatted("Leave %(name)s", name=network.name)
    )


@router.post("/networks/{slug}/leave")
async def leave(
    request: Request,
    slug: str,
    session: WritingSessionDep,
    _csrf: Csrf,
    settings: SettingsDep,
    viewer: ViewerDep,
    participant: PageParticipant,
):
    form = await fields(request)
    if form.get("confirm") != "yes":
        return redirect(f"/networks/{slug}/leave", viewer, settings)
    taxonomy: Taxonomy = request.app.state.taxonomy
    _, error = await attempt(session, lambda: networks.leave(session, taxonomy, participant.id, slug))
    if error is not None:
        _not_found_is_final(error)
        detail = error.detail
        if error.code == "last_convener":
            detail = "You are the last convener of this network: appoint another member as convener first."
        return redirect(f"/networks/{slug}", viewer, settings, flash=("error", detail))
    return redirect(f"/networks/{slug}", viewer, settings, flash=("ok", gettext("You have left this network.")))


# The charter form's fields, and where a refusal of each (as the API names it) is shown.
CHARTER_FIELDS = {
    "required_groups": "required_groups",
    "min_regions": "min_regions",
    "signoff.quorum": "quorum",
    "signoff.threshold": "threshold",
    "signoff.min_ballot_hours": "min_ballot_hours",
}


async def _charter_page(
    request: Request, session, viewer, slug: str, form: dict | None = None, errors: dict | None = None, status_code: int = 200
):
    network = await networks.get_network(session, slug)
    current = await networks.charter_of(session, network)
    if form is None:
        form = {
            "required_groups": list(current.required_groups),
            "min_regions": str(current.min_regions),
            "quorum": current.quorum,
            "threshold": current.threshold,
            "min_ballot_hours": str(current.min_ballot_hours),
        }
    context = {
        "network": network,
        "charter": current,
        "history": await networks.charter_history(session, network),
        "convener": await membership.is_convener(session, network.id, viewer.participant.id if viewer.participant else None),
        "form": form,
        "errors": errors or {},
    }
    return render(
        request, viewer, "network_charter.html", context, status_code=status_code, title=formatted("Charter of %(name)s", name=network.name)
    )


@router.get("/networks/{slug}/charter")
async def charter_page(request: Request, slug: str, session: SessionDep, viewer: ViewerDep):
    return await _charter_page(request, session, viewer, slug)


@router.post("/networks/{slug}/charter")
async def amend_charter(
    request: Request,
    slug: str,
    session: WritingSessionDep,
    _csrf: Csrf,
    settings: SettingsDep,
    viewer: ViewerDep,
    participant: PageParticipant,
):
    """Conveners amend the charter: a new version for ballots opened from now on."""
    posted = await request.form()
    form: dict = {key: str(posted.get(key, "")).strip() for key in ("min_regions", "quorum", "threshold", "min_ballot_hours")}
    form["required_groups"] = [str(value) for value in posted.getlist("required_groups")]
    taxonomy: Taxonomy = request.app.state.taxonomy
    try:
        counts = {}
        for name, label in (("min_regions", "The number of regions"), ("min_ballot_hours", "The ballot duration")):
            if not form[name].isdigit():
                raise FormInvalid({name: f"{label} must be a whole number"})
            counts[name] = int(form[name])
        body = parse(
            CharterPatch,
            {
                "required_groups": form["required_groups"],
                "min_regions": counts["min_regions"],
                "signoff": {"quorum": form["quorum"], "threshold": form["threshold"], "min_ballot_hours": counts["min_ballot_hours"]},
            },
        )
        view, error = await attempt(session, lambda: networks.amend_charter(session, taxonomy, participant.id, slug, body))
        if error is not None:
            if error.status_code in (403, 404):
                raise error  # not a convener, or no such network: nothing to correct in the form
            raise FormInvalid(field_errors(error))
    except FormInvalid as invalid:
        errors = {CHARTER_FIELDS.get(field, "_" if field not in form else field): message for field, message in invalid.errors.items()}
        return await _charter_page(request, session, viewer, slug, form, errors, status_code=422)
    assert view is not None  # `attempt` returns the result when there is no error
    return redirect(
        f"/networks/{slug}/charter",
        viewer,
        settings,
        flash=(
            "ok",
            formatted(
                "Charter v%(number)s is in force; ballots already open keep the terms they opened under.", number=view.charter.version
            ),
        ),
    )


@router.post("/networks/{slug}/applications/{application_id}/{decision}")
async def decide(
    request: Request,
    slug: str,
    application_id: uuid.UUID,
    decision: str,
    session: WritingSessionDep,
    _csrf: Csrf,
    settings: SettingsDep,
    viewer: ViewerDep,
    participant: PageParticipant,
):
    if decision not in ("approve", "decline"):
        raise NetworkNotFound("There is no such action on applications")
    form = await fields(request)
    taxonomy: Taxonomy = request.app.state.taxonomy
    back = f"/networks/{slug}#applications"
    entered = {"note": form.get("note", "").replace("\r\n", "\n")}

    async def again(errors: dict[str, str | Markup], status_code: int = 422):
        failed = FailedForm(f"decide-{application_id}", errors, entered, status_code)
        return await render_network_page(request, session, viewer, slug, failed)

    try:
        note = parse(DecisionIn, {"note": entered["note"] or None}).note
    except FormInvalid as invalid:
        return await again(beside(invalid.errors, ("note",)))
    view, error = await attempt(
        session,
        lambda: networks.decide_application(
            session, taxonomy, participant.id, slug, application_id, approve=decision == "approve", note=note
        ),
    )
    if error is not None:
        _not_found_is_final(error)
        return await again({"_": refusal(error, reader_zone(viewer.zone_name), back.split("#", 1)[0]).html()}, error.status_code)
    assert view is not None  # `attempt` returns the result when there is no error
    if decision == "approve":
        done = formatted("The application of %(name)s is approved: they are now a member.", name=view.name)
    else:
        done = formatted("The application of %(name)s is declined.", name=view.name)
    return redirect(back, viewer, settings, flash=("ok", done))


@router.post("/networks/{slug}/conveners")
async def appoint_convener(
    request: Request,
    slug: str,
    session: WritingSessionDep,
    _csrf: Csrf,
    settings: SettingsDep,
    viewer: ViewerDep,
    participant: PageParticipant,
):
    form = await fields(request)
    back = f"/networks/{slug}#roster"
    try:
        target = uuid.UUID(form.get("participant_id", ""))
    except ValueError:
        return redirect(back, viewer, settings, flash=("error", gettext("Choose a member to appoint.")))
    view, error = await attempt(session, lambda: networks.appoint_convener(session, participant.id, slug, target))
    if error is not None:
        _not_found_is_final(error)
        return redirect(back, viewer, settings, refused=error)
    assert view is not None  # `attempt` returns the result when there is no error
    return redirect(back, viewer, settings, flash=("ok", formatted("%(name)s is now a convener.", name=view.name)))


def _not_found_is_final(error: DomainError) -> None:
    # A network that does not exist has no page to go back to.
    if isinstance(error, NetworkNotFound):
        raise error
