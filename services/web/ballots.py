"""Pages for ballots on a norm's versions: the ballot page with its live tally chart, the vote form,
the convener's open and close forms, and the small JSON the page polls to update while the ballot is open."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Hashable
from datetime import datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup
from sqlalchemy import select

from networks import membership
from networks import service as networks
from norms import ballots, signoff
from norms.errors import BallotNotFound, NormNotFound
from norms.models import Norm
from norms.schemas import BallotCreate, BallotOut, ElectorOut, OutcomeOut, PolicyOut, VoteIn
from norms.signoff import Elector, Policy, Position
from services.api.deps import SessionDep, SettingsDep, WritingSessionDep
from services.web.forms import FailedForm, FormInvalid, attempt, fields, parse, redirect, refusal
from services.web.i18n import formatted, gettext
from services.web.session import Csrf, PageParticipant, Viewer, ViewerDep
from services.web.templating import reader_zone, render, templates

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
    zone = reader_zone(viewer.zone_name)
    return {
        "ballots": listed,
        "can_open": await _is_convener(session, norm, viewer) and not any(b.status == "open" for b in listed),
        # In the reader's zone, as the form reads it back (see `_closing`).
        "default_closes_at": (now + timedelta(days=DEFAULT_BALLOT_DAYS)).astimezone(zone).strftime("%Y-%m-%dT%H:%M"),
        "zone": zone.key,
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


def _names(people: list[str]) -> str:
    """ "Ana", "Ana and Bo", "Ana, Bo and Cy"."""
    return people[0] if len(people) == 1 else f"{', '.join(people[:-1])} and {people[-1]}"


def still_needs(ballot: BallotOut, labels: dict[str, str]) -> tuple[list[str], dict[tuple[str, str], str]]:
    """What adoption still needs, in sentences naming this electorate's people (the sign-off rule's `prospects`),
    each need said once; and, for the tallies chart, one sentence per tally that does not pass yet."""
    votes = {vote.participant_id: vote.position.value for vote in ballot.votes}
    return needs(ballot.policy, ballot.electorate, votes, ballot.outcome, labels)


def needs(
    policy: PolicyOut,
    electors: list[ElectorOut],
    votes: dict[uuid.UUID, str],
    outcome: OutcomeOut,
    labels: dict[str, str],
    *,
    what: str = "This ballot",
) -> tuple[list[str], dict[tuple[str, str], str]]:
    """`still_needs` for any votes over an electorate — a ballot's, or a sense check's answers counted as votes."""
    electorate = [Elector(e.participant_id, e.stakeholder_group, e.region, e.organisation) for e in electors]
    counted: dict[Hashable, Position | str] = {pid: value for pid, value in votes.items()}
    outlook = signoff.prospects(Policy.parse(policy.quorum, policy.threshold), electorate, counted)
    people: dict[Hashable, ElectorOut] = {e.participant_id: e for e in electors}
    name: dict[Hashable, str] = {pid: elector.name for pid, elector in people.items()}
    position: dict[Hashable, str] = {pid: value for pid, value in votes.items()}
    lines = [f"{what} cannot adopt the version: {_plain(problem, labels)}" for problem in outlook.problems]
    per_tally: dict[tuple[str, str], str] = {}

    if outlook.required:
        who = [f"{name[pid]} ({labels.get(people[pid].stakeholder_group, people[pid].stakeholder_group)})" for pid in outlook.required]
        lines.append(
            f"{_names(who)}, who {'has' if len(who) == 1 else 'have'} not voted yet, must {'approve' if len(who) == 1 else 'all approve'}"
        )
        for t in outcome.groups + outcome.regions:
            if t.passes:
                continue
            theirs = [name[pid] for pid in outlook.required if t.key in (people[pid].stakeholder_group, people[pid].region)]
            if theirs:
                per_tally[(t.dimension, t.key)] = f"Passes if {_names(theirs)} {'approves' if len(theirs) == 1 else 'approve'}"

    said: dict[str, list[str]] = {}
    for need in outlook.reach:
        waiting = len(need.waiting)
        listed = f" ({_names([name[pid] for pid in need.waiting])})" if waiting <= 5 else ""
        if need.approvals == 0:
            body = f"{need.votes} of the {waiting} electors yet to vote{listed} must vote, in any position, to reach the quorum"
        else:
            body = (
                f"at least {need.approvals} of the {waiting} {'elector' if waiting == 1 else 'electors'} yet to vote{listed} must approve"
            )
            if need.votes > need.approvals:
                body += f", and {need.votes - need.approvals} more must vote, in any position"
        said.setdefault(body, []).append(labels.get(need.key, need.key))
        per_tally[(need.dimension.value, need.key)] = body[:1].upper() + body[1:]
    lines += [f"{_names(places)}: {body}" for body, places in said.items()]

    blocked: dict[tuple, list[tuple[str, str]]] = {}
    for block in outlook.blocked:
        objecting, abstaining = len(block.objecting), len(block.abstaining)
        if block.electors == 1:
            only = (block.objecting + block.abstaining)[0]
            reason = f"its only elector, {name[only]}, {'objects' if objecting else 'abstains'}"
        else:
            parts = [f"{objecting} of its {block.electors} electors {'objects' if objecting == 1 else 'object'}"] if objecting else []
            parts += [f"{abstaining} {'abstains' if abstaining == 1 else 'abstain'}"] if abstaining else []
            reason = " and ".join(parts) or "its approvals are not enough"
        label = labels.get(block.key, block.key)
        blocked.setdefault(tuple(block.change), []).append((label, reason))
        change = _change(block.change, name, position)
        per_tally[(block.dimension.value, block.key)] = f"Cannot pass with the votes still to come: {reason}; {change} would let it pass"
    for change_set, places in blocked.items():
        distinct = {reason for _, reason in places}
        if len(distinct) == 1:  # one reason for all of them, said once
            reasons = places[0][1] if len(places) == 1 else places[0][1].replace("its ", "their ", 1)
        else:
            reasons = "; ".join(f"{label}: {reason}" for label, reason in places)
        subject = _names([label for label, _ in places])
        lines.append(
            f"{subject} cannot pass with the votes still to come ({reasons}); "
            f"{_change(change_set, name, position)} would let {'it' if len(places) == 1 else 'them'} pass"
        )
    return lines, per_tally


def _change(voters: tuple, name: dict, position: dict) -> str:
    if len(voters) == 1:
        [voter] = voters
        return f"{name[voter]} changing {'an objection' if position[voter] == 'object' else 'an abstention'} to an approval"
    return f"{_names([name[v] for v in voters])} changing their votes to approvals"


async def _context(session, request: Request, viewer: Viewer, network, norm: Norm, ballot: BallotOut) -> dict:
    taxonomy = request.app.state.taxonomy
    now = request.app.state.clock.now()
    labels = {t.key: t.label for t in ballot.outcome.groups + ballot.outcome.regions}
    me = viewer.participant.id if viewer.participant else None
    my_vote = next((vote for vote in ballot.votes if vote.participant_id == me), None)
    is_open = ballot.status == "open" and now < ballot.closes_at
    convener = await _is_convener(session, norm, viewer)
    needs, per_tally = still_needs(ballot, labels) if is_open else ([], {})
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
        "missing": needs if is_open else [_plain(line, labels) for line in ballot.outcome.missing],
        "tallies": [
            (
                title,
                [
                    {
                        "tally": t,
                        "missing": ([per_tally[(t.dimension, t.key)]] if (t.dimension, t.key) in per_tally else [])
                        if is_open
                        else [_plain(line, labels) for line in t.missing],
                    }
                    for t in listed
                ],
            )
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
    # Polled every few seconds: the browser revalidates (If-None-Match) and an unchanged ballot costs a 304, not its tallies again.
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    etag = f'"{hashlib.sha256(content).hexdigest()[:32]}"'
    headers = {"Cache-Control": "private, no-cache", "ETag": etag, "Vary": "Cookie"}
    if etag in (tag.strip().removeprefix("W/") for tag in request.headers.get("if-none-match", "").split(",")):
        return Response(status_code=304, headers=headers)
    return Response(content, media_type="application/json", headers=headers)


def _closing(value: str, zone: ZoneInfo) -> str:
    """The form's `datetime-local` value, read in the reader's zone (UTC without JavaScript), as ISO 8601 with its zone."""
    value = value.strip()
    if not value:
        return value
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)).isoformat()


async def _norm_page_again(request: Request, session, viewer: Viewer, slug: str, norm_slug: str, failed: FailedForm):
    # The norm page renders the ballots panel and imports this module, hence the late import.
    from services.web.norms import render_norm_page

    return await render_norm_page(request, session, viewer, slug, norm_slug, failed)


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
    zone = reader_zone(form.get("zone") or viewer.zone_name)
    entered = {"version": form.get("version", ""), "closes_at": form.get("closes_at", ""), "zone": zone.key}
    try:
        body = parse(BallotCreate, {"version": entered["version"], "closes_at": _closing(entered["closes_at"], zone)})
    except FormInvalid as invalid:
        errors: dict[str, str | Markup] = {
            "closes_at" if key.startswith("closes_at") else "version" if key.startswith("version") else "_": message
            for key, message in invalid.errors.items()
        }
        if "closes_at" in errors:
            errors["closes_at"] = "Enter the date and time voting closes"
        return await _norm_page_again(request, session, viewer, slug, norm_slug, FailedForm("open-ballot", errors, entered))
    ballot_id, error = await attempt(
        session,
        lambda: ballots.open_ballot(
            session, request.app.state.clock, participant.id, norm.id, body, vouches_needed=request.app.state.taxonomy.vouches_needed
        ),
    )
    if error is not None:
        if error.status_code in (403, 404):
            raise error  # not a convener: there is no form of theirs to show again
        said = refusal(error, zone, _norm_path(slug, norm)).html()
        failed = FailedForm("open-ballot", {"closes_at" if error.code == "closes_at_invalid" else "_": said}, entered, error.status_code)
        return await _norm_page_again(request, session, viewer, slug, norm_slug, failed)
    assert ballot_id is not None  # `attempt` returns the result when there is no error
    return redirect(
        ballot_path(slug, norm, ballot_id),
        viewer,
        settings,
        flash=("ok", formatted("The ballot on v%(number)s is open. Every member at this moment is an elector.", number=body.version)),
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
            raise FormInvalid({"position": gettext("Choose approve, object or abstain")})
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
    said = {
        "approve": gettext("Your approval is counted. You can change it until the ballot closes."),
        "object": gettext("Your objection is counted. You can change it until the ballot closes."),
        "abstain": gettext("Your abstention is counted. You can change it until the ballot closes."),
    }[body.position.value]
    return redirect(
        ballot_path(slug, norm, ballot_id),
        viewer,
        settings,
        flash=("ok", said),
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
        return redirect(back, viewer, settings, refused=error)
    return redirect(back, viewer, settings, flash=("ok", gettext("The ballot is closed; its result is final.")))
