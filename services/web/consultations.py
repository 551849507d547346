"""Pages for public consultations: the consultation with its version's text, anchored comments, replies,
resolutions, moderation and (once closed) its summary; the forms that open, comment on and answer one."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time

from fastapi import APIRouter, Request
from markupsafe import Markup

from networks import membership
from networks.models import MemberRole, Network
from norms import anchoring, consultations
from norms import service as norms
from norms.consultation_schemas import CommentCreate, ConsultationCreate, Moderation, ReplyCreate, Resolution
from norms.models import Norm, NormVersion
from services.api.deps import SessionDep, SettingsDep, WritingSessionDep
from services.clearinghouse import websub
from services.web.forms import FailedForm, FormInvalid, attempt, fields, parse, redirect, refusal
from services.web.i18n import formatted, gettext
from services.web.session import Csrf, PageParticipant, ViewerDep
from services.web.templating import reader_zone, render

router = APIRouter(include_in_schema=False)


def _now(request: Request) -> datetime:
    return request.app.state.clock.now()


def _store(request: Request):
    return request.app.state.norm_store


def page_path(consultation_id: uuid.UUID) -> str:
    return f"/consultations/{consultation_id}"


def passages(text: str, anchored: list[tuple[int, int, str]]) -> list[dict]:
    """The text cut into plain runs and marked passages (overlaps merged into the first one), for rendering."""
    pieces, at = [], 0
    for start, end, comment_id in sorted(anchored):
        if start < at:
            continue
        if start > at:
            pieces.append({"text": text[at:start], "comment": None})
        pieces.append({"text": text[start:end], "comment": comment_id})
        at = end
    if at < len(text):
        pieces.append({"text": text[at:], "comment": None})
    return pieces


def lines(text: str, anchored: list[tuple[int, int, str]]) -> list[dict]:
    """The text's lines, each with its range and its pieces (as `passages` cuts them), so a keyboard user can
    choose a line as the passage; a marked passage across lines is marked in each."""
    result: list[dict] = [{"start": 0, "end": 0, "pieces": []}]
    at = 0
    for piece in passages(text, anchored):
        parts = piece["text"].split("\n")
        for number, part in enumerate(parts):
            if number:
                at += 1
                result.append({"start": at, "end": at, "pieces": []})
            if part:
                result[-1]["pieces"].append({"text": part, "comment": piece["comment"]})
                at += len(part)
                result[-1]["end"] = at
    return result


async def sidebar(session, store, diffs, norm: Norm, now: datetime) -> dict | None:
    """What the norm page shows beside its text: the latest consultation and its comments mapped onto the current text."""
    found = await consultations.list_consultations(session, now, norm_id=norm.id, limit=1)
    if not found:
        return None
    consultation = found[0]
    version = await session.get(NormVersion, consultation.version_id)
    anchors = {anchor.comment_id: anchor for anchor in await consultations.current_anchors(session, store, diffs, consultation)}
    listed = [c for c in await consultations.comments(session, consultation.id) if not c.hidden]
    return {
        "consultation": consultation,
        "open": consultations.is_open(consultation, now),
        "comments": [{"comment": c, "anchor": anchors.get(c.id)} for c in listed],
        # Passages in the current text, marked in the page's plain text for readers without the live editor.
        "marks": [(a.start, a.end, str(a.comment_id)) for a in anchors.values() if a.state != "lost"],
        # For the live editor, which follows each passage from the version's text through every later edit.
        "live": {
            "heads": version.heads,
            "comments": [
                {"id": str(c.id), "start": c.anchor.start, "end": c.anchor.end, "quote": c.anchor.quote} for c in listed if c.anchor
            ],
        },
    }


@router.get("/consultations/{consultation_id}")
async def consultation_page(request: Request, consultation_id: uuid.UUID, session: SessionDep, viewer: ViewerDep, settings: SettingsDep):
    return await _render_page(request, session, viewer, settings, consultation_id)


async def _render_page(request: Request, session, viewer, settings, consultation_id: uuid.UUID, failed: FailedForm | None = None):
    """The consultation page; with `failed`, its comment form shows its messages and what was entered (422)."""
    consultation = await consultations.get_consultation(session, consultation_id)
    now = _now(request)
    view = await consultations.view(session, consultation, now, settings.base_url)
    norm = await session.get_one(Norm, consultation.norm_id)
    version = await session.get_one(NormVersion, consultation.version_id)
    text = version.text
    listed = await consultations.comments(session, consultation.id)
    role = await membership.member_role(session, norm.network_id, viewer.participant.id if viewer.participant else None)
    versions = await norms.list_versions(session, norm)
    context = {
        "consultation": view,
        "network": await session.get_one(Network, norm.network_id),
        "norm": norm,
        "norm_path": f"/networks/{view.network}/norms/{norm.slug}",
        "text": text,
        "lines": lines(text, [(c.anchor.start, c.anchor.end, str(c.id)) for c in listed if c.anchor and not c.hidden]),
        "comments": listed,
        "member": role is not None,
        "convener": role is MemberRole.convener,
        "versions": versions,
        "summary": view.summary,
        "path": page_path(consultation.id),
        "failed": failed,
    }
    status_code = failed.status_code if failed else 200
    return render(
        request,
        viewer,
        "consultation.html",
        context,
        status_code=status_code,
        title=formatted("Consultation on %(title)s", title=norm.title),
    )


def _closing(value: str) -> str:
    """A date (end of that day, UTC) or a datetime from the form, as ISO 8601 with a zone."""
    value = value.strip()
    if len(value) == 10:
        try:
            return datetime.combine(datetime.fromisoformat(value).date(), time(23, 59), tzinfo=UTC).isoformat()
        except ValueError:
            return value
    return value if not value or value.endswith("Z") or "+" in value[10:] else value + "+00:00"


@router.post("/norms/{norm_id}/consultations")
async def open_consultation(
    request: Request,
    norm_id: uuid.UUID,
    session: WritingSessionDep,
    _csrf: Csrf,
    settings: SettingsDep,
    viewer: ViewerDep,
    participant: PageParticipant,
):
    norm = await norms.get_norm(session, norm_id)
    network = await session.get_one(Network, norm.network_id)
    form = await fields(request)
    entered = {key: form.get(key, "").replace("\r\n", "\n") for key in ("version", "closes_at", "question")}

    async def again(errors: dict[str, str | Markup], status_code: int = 422):
        # The norm page renders this page's sidebar and imports this module, hence the late import.
        from services.web.norms import render_norm_page

        failed = FailedForm("open-consultation", errors, entered, status_code)
        return await render_norm_page(request, session, viewer, network.slug, norm.slug, failed)

    try:
        body = parse(
            ConsultationCreate,
            {"version": entered["version"], "closes_at": _closing(entered["closes_at"]), "question": entered["question"]},
        )
    except FormInvalid as invalid:
        errors: dict[str, str | Markup] = {}
        for field, message in invalid.errors.items():
            name = next((known for known in ("version", "closes_at", "question") if field.startswith(known)), "_")
            errors.setdefault(name, "Choose the day comments close" if name == "closes_at" else message)
        return await again(errors)
    made, error = await attempt(session, lambda: consultations.open_consultation(session, _now(request), participant, norm, body))
    if error is not None:
        if error.status_code in (403, 404):
            raise error
        said = refusal(error, reader_zone(viewer.zone_name), f"/networks/{network.slug}/norms/{norm.slug}").html()
        return await again({"closes_at" if error.code == "closes_at_invalid" else "_": said}, error.status_code)
    assert made is not None  # `attempt` returns the result when there is no error
    await websub.announce_consultation(session, made, now=_now(request), base_url=settings.base_url)
    request.app.state.clearinghouse.nudge()
    return redirect(
        page_path(made.id),
        viewer,
        settings,
        flash=("ok", formatted("Version v%(number)s is open for public comment.", number=made.version_number)),
    )


@router.post("/consultations/{consultation_id}/comments")
async def comment(
    request: Request,
    consultation_id: uuid.UUID,
    session: WritingSessionDep,
    _csrf: Csrf,
    settings: SettingsDep,
    viewer: ViewerDep,
    participant: PageParticipant,
):
    consultation = await consultations.get_consultation(session, consultation_id)
    form = await fields(request)
    back = page_path(consultation.id)
    entered = {key: form.get(key, "") for key in ("body", "quote", "start", "end")}

    async def again(errors: dict[str, str | Markup], status_code: int = 422):
        failed = FailedForm("comment", errors, entered, status_code)
        return await _render_page(request, session, viewer, settings, consultation.id, failed)

    anchor: dict[str, object] | None = None
    if form.get("start") and form.get("end"):
        anchor = {"start": form["start"], "end": form["end"], "quote": form.get("quote") or None}
    elif form.get("quote", "").strip():
        # Typed rather than selected (from a keyboard, a screen reader, or without JavaScript): found in the text.
        version = await session.get_one(NormVersion, consultation.version_id)
        try:
            start, end = anchoring.locate(form["quote"], version.text, version.number)
        except anchoring.AnchorInvalid as invalid:
            return await again({"quote": invalid.detail})
        anchor = {"start": start, "end": end}
    try:
        body = parse(CommentCreate, {"body": form.get("body", "").replace("\r\n", "\n"), "anchor": anchor})
    except FormInvalid as invalid:
        errors: dict[str, str | Markup] = {}
        for field, message in invalid.errors.items():
            name = "body" if field.startswith("body") else "quote" if field.startswith("anchor") else "_"
            errors.setdefault(name, "Write your comment" if name == "body" and not form.get("body", "").strip() else message)
        return await again(errors)
    _, error = await attempt(
        session, lambda: consultations.add_comment(session, _store(request), _now(request), participant, consultation, body)
    )
    if error is not None:
        said = refusal(error, reader_zone(viewer.zone_name), back).html()
        return await again({"quote" if error.code == "anchor_invalid" else "_": said}, error.status_code)
    return redirect(back + "#comments", viewer, settings, flash=("ok", gettext("Your comment is published.")))


async def _comment_action(
    request: Request,
    session,
    viewer,
    settings,
    comment_id: uuid.UUID,
    form: str,
    field: str,
    entered: dict[str, str],
    blank: str,
    model,
    data: dict,
    action,
    done: str,
):
    """One of the forms under a comment (reply, mark addressed, decline, hide), named `form` (with the comment's id,
    as its field's element id is): refused, the page comes back with that form open, its message beside `field`
    (`blank` when the field was left empty) and what was entered."""
    comment, consultation, _ = await consultations.find_comment(session, comment_id)
    back = page_path(consultation.id) + f"#comment-{comment.id}"

    async def again(message: str | Markup, status_code: int = 422):
        failed = FailedForm(f"{form}-{comment.id}", {field: message}, entered, status_code)
        return await _render_page(request, session, viewer, settings, consultation.id, failed)

    try:
        body = parse(model, data)
    except FormInvalid as invalid:
        return await again(blank if not entered.get(field, "").strip() else "; ".join(invalid.errors.values()))
    _, error = await attempt(session, lambda: action(body))
    if error is not None:  # the comment was found above: what is missing now is what the form named (a version)
        return await again(refusal(error, reader_zone(viewer.zone_name), back.split("#", 1)[0]).html(), error.status_code)
    return redirect(back, viewer, settings, flash=("ok", done))


@router.post("/comments/{comment_id}/reply")
async def reply(
    request: Request,
    comment_id: uuid.UUID,
    session: WritingSessionDep,
    _csrf: Csrf,
    settings: SettingsDep,
    viewer: ViewerDep,
    participant: PageParticipant,
):
    form = await fields(request)
    entered = {"body": form.get("body", "").replace("\r\n", "\n")}
    return await _comment_action(
        request,
        session,
        viewer,
        settings,
        comment_id,
        "reply",
        "body",
        entered,
        "Write your reply.",
        ReplyCreate,
        entered,
        lambda body: consultations.reply(session, _now(request), participant, comment_id, body),
        "Your reply is published.",
    )


@router.post("/comments/{comment_id}/resolve")
async def resolve(
    request: Request,
    comment_id: uuid.UUID,
    session: WritingSessionDep,
    _csrf: Csrf,
    settings: SettingsDep,
    viewer: ViewerDep,
    participant: PageParticipant,
):
    form = await fields(request)
    data = {"status": form.get("status", ""), "version": form.get("version") or None, "reason": form.get("reason") or None}
    declined = form.get("status") == "declined"
    entered = {"version": form.get("version", ""), "reason": form.get("reason", "").replace("\r\n", "\n")}
    return await _comment_action(
        request,
        session,
        viewer,
        settings,
        comment_id,
        "declined" if declined else "addressed",
        "reason" if declined else "version",
        entered,
        "Give the reason for declining." if declined else "Choose the version that addresses the comment.",
        Resolution,
        data,
        lambda body: consultations.resolve(session, _now(request), participant, comment_id, body),
        "The comment is marked.",
    )


@router.post("/comments/{comment_id}/hide")
async def hide(
    request: Request,
    comment_id: uuid.UUID,
    session: WritingSessionDep,
    _csrf: Csrf,
    settings: SettingsDep,
    viewer: ViewerDep,
    participant: PageParticipant,
):
    form = await fields(request)
    entered = {"reason": form.get("reason", "")}
    return await _comment_action(
        request,
        session,
        viewer,
        settings,
        comment_id,
        "hide",
        "reason",
        entered,
        "Give the public reason for hiding.",
        Moderation,
        entered,
        lambda body: consultations.hide(session, _now(request), participant, comment_id, body),
        "The comment is hidden.",
    )


@router.post("/consultations/{consultation_id}/close")
async def close(
    request: Request,
    consultation_id: uuid.UUID,
    session: WritingSessionDep,
    _csrf: Csrf,
    settings: SettingsDep,
    viewer: ViewerDep,
    participant: PageParticipant,
):
    consultation = await consultations.get_consultation(session, consultation_id)
    _, error = await attempt(session, lambda: consultations.close_consultation(session, _now(request), participant, consultation))
    back = page_path(consultation.id)
    if error is not None:
        return redirect(back, viewer, settings, refused=error)
    return redirect(back, viewer, settings, flash=("ok", gettext("The consultation is closed.")))
