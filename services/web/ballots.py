"""Pages for ballots on a norm's versions: the ballot page with its live tally chart, the vote form,
the convener's open and close forms, and the small JSON the page polls to update while the ballot is open."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from fractions import Fraction

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from networks import membership
from networks import service as networks
from norms import ballots
from norms.errors import BallotNotFound, NormNotFound
from norms.models import Norm
from norms.schemas import BallotCreate, BallotOut, VoteIn
from services.api.deps import SessionDep, SettingsDep, WritingSessionDep
from services.web.forms import FormInvalid, attempt, fields, parse, redirect
from services.web.session import Csrf, PageParticipant, Viewer, ViewerDep
from services.web.templating import render, templates

router = APIRouter(include_in_schema=False)

# How often an open ballot's page asks for the latest tallies (milliseconds).
POLL_MS = 2000
DEFAULT_BALLOT_DAYS = 7
POSITIONS = (("approve", "Approve"), ("object", "Object"), ("abstain", "Abstain"))


async def _find(session, network_slug: str, norm_slug: str) -> tuple:
    network = await networks.get_network(session, network_slug)
    norm = await session.scalar(select(Norm).where(Norm.network_id == network.id, Norm.slug == norm_slug))
    if norm is None:
        raise NormNotFound(f"The network {network.name} has no norm at this address")
    return network, norm


def _norm_path(network_slug: str, norm: Norm) -> str:
    return f"/networks/{network_slug}/norms/{norm.slug}"


def ballot_path(network_slug: str, norm: Norm, ballot_id: uuid.UUID) -> str:
    return f"{_norm_path(network_slug, norm)}/ballots/{ballot_id}"


async def _is_convener(session, norm: Norm, viewer: Viewer) -> bool:
    return await membership.is_convener(session, norm.network_id, viewer.participant.id if viewer.participant else None)


async def panel(session, request: Request, norm: Norm, viewer: Viewer) -> dict:
    """What the norm page shows about ballots: the list, and whether the viewer may open one (with a default deadline)."""
    listed = await ballots.list_ballots(session, norm)
    now = request.app.state.clock.now()
    return {
        "ballots": listed,
        "can_open": await _is_convener(session, norm, viewer) and not any(b.status == "open" for b in listed),
        "default_closes_at": (now + timedelta(days=DEFAULT_BALLOT_DAYS)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M"),
    }


def weight(value: str | None) -> str:
    """An exact weight as a person reads it: "3/2" → "1 1/2", "0" → "0"."""
    if value is None:
        return "—"
    share = Fraction(value)
    whole, rest = divmod(share.numerator, share.denominator)
    if rest == 0:
        return str(whole)
    return f"{whole} {rest}/{share.denominator}" if whole else f"{rest}/{share.denominator}"


def _percent(part: float, whole: float) -> float:
    return round(100 * part / whole, 2) if whole else 0.0


def _plain(line: str, labels: dict[str, str]) -> str:
    """A rule's sentence with group and region codes replaced by their names ("civil_society" → "Civil society")."""
    for code, label in labels.items():
        line = re.sub(rf"(?<![\w-]){re.escape(code)}(?![\w-])", label, line)
    return line[:1].upper() + line[1:]


async def _context(session, request: Request, viewer: Viewer, network, norm: Norm, ballot: BallotOut) -> dict:
    taxonomy = request.app.state.taxonomy
    now = request.app.state.clock.now()
    labels = {t.key: t.label for t in ballot.outcome.groups + ballot.outcome.regions}
    me = viewer.participant.id if viewer.participant else None
    my_vote = next((vote for vote in ballot.votes if vote.participant_id == me), None)
    is_open = ballot.status == "open" and now < ballot.closes_at
    convener = await _is_convener(session, norm, viewer)
    # The adoption in force when this ballot opened, to show what the version changes.
    previous = next(
        (a for a in await ballots.list_adoptions(session, taxonomy, norm) if a.ballot_id != ballot.id and a.adopted_at <= ballot.opened_at),
        None,
    )
    return {
        "network": network,
        "norm": norm,
        "ballot": ballot,
        "norm_path": _norm_path(network.slug, norm),
        "ballot_path": ballot_path(network.slug, norm, ballot.id),
        "is_open": is_open,
        "missing": [_plain(line, labels) for line in ballot.outcome.missing],
        "tallies": [
            (title, [{"tally": t, "missing": [_plain(line, labels) for line in t.missing]} for t in listed])
            for title, listed in (("Stakeholder groups", ballot.outcome.groups), ("Regions", ballot.outcome.regions))
        ],
        "objections": [vote for vote in ballot.votes if vote.position == "object"],
        "waiting": [elector for elector in ballot.electorate if not elector.voted],
        "elector": me is not None and any(e.participant_id == me for e in ballot.electorate),
        "my_vote": my_vote,
        "convener": convener,
        "can_close": convener and is_open and (now >= ballot.convener_may_close_at or ballot.voted == ballot.electors),
        "previous_version": previous.version_number if previous and previous.version_number != ballot.version_number else None,
        "positions": POSITIONS,
        "poll_ms": POLL_MS,
        "weight": weight,
        "percent": _percent,
        "taxonomy": taxonomy,
    }


async def _ballot(session, request: Request, norm: Norm, ballot_id: uuid.UUID) -> BallotOut:
    ballot = await ballots.ballot_view(session, request.app.state.taxonomy, ballot_id)
    if ballot.norm_id != norm.id:
        raise BallotNotFound(f"No ballot with id {ballot_id} on this norm")
    return ballot


async def _page(
    session,
    request: Request,
    viewer: Viewer,
    slug: str,
    norm_slug: str,
    ballot_id: uuid.UUID,
    *,
    errors: dict[str, str] | None = None,
    form: dict | None = None,
    status_code: int = 200,
):
    network, norm = await _find(session, slug, norm_slug)
    ballot = await _ballot(session, request, norm, ballot_id)
    context = await _context(session, request, viewer, network, norm, ballot)
    context |= {"errors": errors or {}, "form": form or {}}
    return render(
        request, viewer, "ballot.html", context, status_code=status_code, title=f"Ballot on {ballot.version.title} v{ballot.version_number}"
    )


@router.get("/networks/{slug}/norms/{norm_slug}/ballots/{ballot_id}")
async def ballot_page(request: Request, slug: str, norm_slug: str, ballot_id: uuid.UUID, session: SessionDep, viewer: ViewerDep):
    return await _page(session, request, viewer, slug, norm_slug, ballot_id)


@router.get("/networks/{slug}/norms/{norm_slug}/ballots/{ballot_id}/live")
async def ballot_live(request: Request, slug: str, norm_slug: str, ballot_id: uuid.UUID, session: SessionDep, viewer: ViewerDep):
    """What the open ballot's page polls: its status, the outcome in a sentence, and the tallies, votes and missing list as HTML."""
    network, norm = await _find(session, slug, norm_slug)
    ballot = await _ballot(session, request, norm, ballot_id)
    context = await _context(session, request, viewer, network, norm, ballot)
    html = templates.get_template("_ballot_live.html").render(context)
    body = {
        "status": "open" if context["is_open"] else "closed",
        "adopted": ballot.outcome.adopted,
        "voted": ballot.voted,
        "electors": ballot.electors,
        "html": html,
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


def _closing(value: str) -> str:
    """The form's `datetime-local` value, read as UTC, as ISO 8601 with its zone."""
    value = value.strip()
    if not value:
        return value
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).isoformat()


@router.post("/networks/{slug}/norms/{norm_slug}/ballots")
async def open_ballot(
    request: Request,
    slug: str,
    norm_slug: str,
    session: WritingSessionDep,
    _csrf: Csrf,
    settings: SettingsDep,
    viewer: ViewerDep,
    participant: PageParticipant,
):
    _network, norm = await _find(session, slug, norm_slug)
    form = await fields(request)
    back = _norm_path(slug, norm) + "#ballots"
    try:
        body = parse(BallotCreate, {"version": form.get("version", ""), "closes_at": _closing(form.get("closes_at", ""))})
    except FormInvalid as invalid:
        named = {"version": "Version", "closes_at": "Closing time"}
        message = "; ".join(f"{named.get(k, k)}: {v}" for k, v in invalid.errors.items())
        return redirect(back, viewer, settings, flash=("error", message))
    ballot_id, error = await attempt(session, lambda: ballots.open_ballot(session, request.app.state.clock, participant.id, norm.id, body))
    if error is not None:
        return redirect(back, viewer, settings, flash=("error", error.detail))
    assert ballot_id is not None  # `attempt` returns the result when there is no error
    return redirect(
        ballot_path(slug, norm, ballot_id),
        viewer,
        settings,
        flash=("ok", f"The ballot on v{body.version} is open. Every member at this moment is an elector."),
    )


@router.post("/networks/{slug}/norms/{norm_slug}/ballots/{ballot_id}/vote")
async def vote(
    request: Request,
    slug: str,
    norm_slug: str,
    ballot_id: uuid.UUID,
    session: WritingSessionDep,
    _csrf: Csrf,
    settings: SettingsDep,
    viewer: ViewerDep,
    participant: PageParticipant,
):
    _network, norm = await _find(session, slug, norm_slug)
    form = await fields(request)
    entered = {"position": form.get("position", ""), "reason": form.get("reason", "").replace("\r\n", "\n").strip()}
    try:
        if not entered["position"]:
            raise FormInvalid({"position": "Choose approve, object or abstain"})
        body = parse(VoteIn, {"position": entered["position"], "reason": entered["reason"] or None})
    except FormInvalid as invalid:
        errors = {
            ("position" if key.startswith("position") else "reason" if key.startswith("reason") else "_"): message
            for key, message in invalid.errors.items()
        }
        if "position" in errors and not errors["position"].startswith("Choose"):
            errors["position"] = "Choose approve, object or abstain"
        return await _page(session, request, viewer, slug, norm_slug, ballot_id, errors=errors, form=entered, status_code=422)
    await _ballot(session, request, norm, ballot_id)
    _, error = await attempt(session, lambda: ballots.cast_vote(session, request.app.state.clock, participant.id, ballot_id, body))
    if error is not None:
        return await _page(
            session, request, viewer, slug, norm_slug, ballot_id, errors={"_": error.detail}, form=entered, status_code=error.status_code
        )
    said = {"approve": "approval", "object": "objection", "abstain": "abstention"}[body.position.value]
    return redirect(
        ballot_path(slug, norm, ballot_id),
        viewer,
        settings,
        flash=("ok", f"Your {said} is counted. You can change it until the ballot closes."),
    )


@router.post("/networks/{slug}/norms/{norm_slug}/ballots/{ballot_id}/close")
async def close(
    request: Request,
    slug: str,
    norm_slug: str,
    ballot_id: uuid.UUID,
    session: WritingSessionDep,
    _csrf: Csrf,
    settings: SettingsDep,
    viewer: ViewerDep,
    participant: PageParticipant,
):
    _network, norm = await _find(session, slug, norm_slug)
    await _ballot(session, request, norm, ballot_id)
    back = ballot_path(slug, norm, ballot_id)
    _, error = await attempt(session, lambda: ballots.close_by_convener(session, request.app.state.clock, participant.id, ballot_id))
    if error is not None:
        return redirect(back, viewer, settings, flash=("error", error.detail))
    return redirect(back, viewer, settings, flash=("ok", "The ballot is closed; its result is final."))
