"""Pages and forms for the drafting stage on a norm: discussion threads beside the text (polled live with an
ETag), suggested changes with their insertion and deletion marks, and sense checks with their tally by group
and region in a ballot's words. Every form works without JavaScript."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup, escape
from pydantic import BaseModel

from networks import membership
from networks import service as networks
from networks.models import MemberRole
from norms import anchoring, discussions, document, sensechecks, suggestions
from norms.drafting_models import Answer
from norms.drafting_schemas import (
    AnswerIn,
    Decision,
    DeclineIn,
    HideIn,
    PostCreate,
    PostOut,
    SenseCheckCreate,
    SenseCheckOut,
    SuggestionCreate,
    SuggestionRefresh,
    ThreadCreate,
    ThreadState,
)
from norms.models import Norm
from services.api.deps import SessionDep, SettingsDep, WritingSessionDep
from services.kit.errors import DomainError
from services.web import ballots as ballot_pages
from services.web.forms import FailedForm, FormInvalid, attempt, fields, parse, redirect, refusal
from services.web.i18n import formatted, gettext, lazy_gettext
from services.web.session import Csrf, PageParticipant, Viewer, ViewerDep
from services.web.templating import reader_zone, render, templates

router = APIRouter(include_in_schema=False)

# How often the norm page asks whether its discussion changed (milliseconds); unchanged answers are 304s.
POLL_MS = 5000
ANSWERS = (("agree", lazy_gettext("Agree")), ("disagree", lazy_gettext("Disagree")), ("abstain", lazy_gettext("Abstain")))


def _norm_path(network_slug: str, norm: Norm) -> str:
    return f"/networks/{network_slug}/norms/{norm.slug}"


def linked(post: PostOut, network_slug: str) -> Markup:
    """A post's body with each mention of a member linked to the network's roster (others stay plain text)."""
    if post.body is None:
        return Markup("")
    out, at = [], 0
    for mention in sorted(post.mentions, key=lambda m: m.start):
        out.append(escape(post.body[at : mention.start]))
        out.append(
            Markup('<a class="mention" href="/networks/{}#roster" data-participant="{}">{}</a>').format(
                network_slug, mention.participant.id, post.body[mention.start : mention.end]
            )
        )
        at = mention.end
    out.append(escape(post.body[at:]))
    return Markup("").join(out)


async def panel(session, request: Request, norm: Norm, network_slug: str, viewer: Viewer) -> dict:
    """What the norm page shows of the drafting stage."""
    store, diffs, now = request.app.state.norm_store, request.app.state.diffs, request.app.state.clock.now()
    me = viewer.participant.id if viewer.participant else None
    role = await membership.member_role(session, norm.network_id, me)
    threads = await discussions.threads(session, store, diffs, norm)
    checks = await sensechecks.list_for_norm(session, norm)
    return {
        "threads": threads,
        "passages": [
            {"id": str(t.id), "start": t.anchor.start, "end": t.anchor.end, "quote": t.anchor.quote, "heads": t.anchor.heads}
            for t in threads
            if t.anchor is not None and t.anchor.heads
        ],
        # Passages of the current text, marked for readers without the live editor.
        "marks": [
            (t.anchor.current_start, t.anchor.current_end, str(t.id))
            for t in threads
            if t.anchor is not None and t.anchor.state != "lost" and t.anchor.current_start is not None and t.anchor.current_end is not None
        ],
        "etag": await discussion_etag(session, norm),
        "poll_ms": POLL_MS,
        "suggestions": await suggestions.views(session, store, diffs, norm),
        "may_suggest": await suggestions.may_suggest(session, norm, me, now),
        "checks": [(check, sensechecks.is_open(check, now)) for check in checks],
        "member": role is not None,
        "convener": role is MemberRole.convener,
        "me": me,
        "linked": lambda post: linked(post, network_slug),
        "sense_path": lambda check_id: f"{_norm_path(network_slug, norm)}/sense-checks/{check_id}",
    }


async def discussion_etag(session, norm: Norm) -> str:
    count, latest = await discussions.last_change(session, norm)
    return '"' + hashlib.sha256(f"{count}:{latest.isoformat() if latest else ''}".encode()).hexdigest()[:20] + '"'


@router.get("/networks/{slug}/norms/{norm_slug}/discussion")
async def discussion_fragment(request: Request, slug: str, norm_slug: str, session: SessionDep, viewer: ViewerDep) -> Response:
    """The discussion beside the text, as HTML for the page's poll: 304 while nothing changed (If-None-Match)."""
    from services.web.norms import _find

    norm = await _find(session, slug, norm_slug)
    etag = await discussion_etag(session, norm)
    headers = {"ETag": etag, "Cache-Control": "no-cache", "Vary": "Cookie"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    network = await networks.get_network(session, slug)
    drafting = await panel(session, request, norm, slug, viewer)
    html = templates.get_template("_discussion.html").render(
        drafting=drafting, norm=norm, network=network, path=_norm_path(slug, norm), failed=None, csrf_field=_csrf(viewer)
    )
    return HTMLResponse(html, headers=headers)


def _csrf(viewer: Viewer) -> Markup:
    from services.web.session import CSRF_FIELD

    return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, viewer.csrf_token)


# --- Forms -----------------------------------------------------------------------------------


async def _act(
    request: Request,
    session,
    viewer: Viewer,
    settings,
    norm: Norm,
    form_name: str,
    entered: dict[str, str],
    model: type[BaseModel],
    data: dict[str, Any],
    action: Callable[[Any], Awaitable[object]],
    done: str,
    anchor: str,
    blank: str = "",
    *,
    savepoint: bool = True,
):
    """Parse `data` into `model`, run `action` with it, and go back to the norm page (#`anchor`) with `done`;
    refused, the norm page comes back with the form `form_name` open, its message and what was entered.
    `savepoint=False` for an action that commits on its own (one that writes the norm's document)."""
    from services.web.norms import render_norm_page

    slug = await _slug(session, norm)
    back = _norm_path(slug, norm)

    async def again(message: str | Markup, status_code: int = 422):
        failed = FailedForm(form_name, {"_": message}, entered, status_code)
        return await render_norm_page(request, session, viewer, slug, norm.slug, failed)

    try:
        body = parse(model, data)
    except FormInvalid as invalid:
        empty = not any(value.strip() for value in entered.values())
        return await again((blank or gettext("Fill this in.")) if empty else "; ".join(invalid.errors.values()))
    error: DomainError | None = None
    if savepoint:
        _, error = await attempt(session, lambda: action(body))
    else:
        try:
            await action(body)
        except DomainError as refused:
            error = refused
    if error is not None:
        return await again(_said(error, viewer, back), error.status_code)
    return redirect(f"{back}#{anchor}", viewer, settings, flash=("ok", done))


def _said(error: DomainError, viewer: Viewer, back: str) -> Markup:
    said = refusal(error, reader_zone(viewer.zone_name), back).html()
    current = error.extra.get("current")
    if isinstance(current, str):
        said += Markup(" The passage now reads: “{}”.").format(current)
    return said


async def _norm(session, norm_id: uuid.UUID) -> Norm:
    from norms import service as norms

    return await norms.get_norm(session, norm_id)


def _text(form: dict[str, str], name: str) -> str:
    return form.get(name, "").replace("\r\n", "\n")


@router.post("/norms/{norm_id}/threads")
async def open_thread(
    request: Request,
    norm_id: uuid.UUID,
    session: WritingSessionDep,
    _csrf: Csrf,
    settings: SettingsDep,
    viewer: ViewerDep,
    participant: PageParticipant,
):
    norm = await _norm(session, norm_id)
    form = await fields(request)
    entered = {"body": _text(form, "body"), "quote": form.get("quote", "")}
    anchor: dict[str, object] | None = None
    if entered["quote"].strip():
        async with request.app.state.norm_store.reading(norm.document_id) as doc:
            text = document.read_text(doc)
        try:
            start, end = anchoring.locate(entered["quote"], text, norm.version_count)
        except anchoring.AnchorInvalid as invalid:
            from services.web.norms import render_norm_page

            failed = FailedForm(
                "new-thread", {"_": invalid.detail.replace(f"the text of v{norm.version_count}", "the current text")}, entered
            )
            return await render_norm_page(request, session, viewer, await _slug(session, norm), norm.slug, failed)
        anchor = {"start": start, "end": end}
    store = request.app.state.norm_store
    return await _act(
        request,
        session,
        viewer,
        settings,
        norm,
        "new-thread",
        entered,
        ThreadCreate,
        {"body": entered["body"], "anchor": anchor},
        lambda body: discussions.open_thread(session, store, request.app.state.clock.now(), participant, norm, body),
        gettext("Your thread is open."),
        "discussion",
        gettext("Write what you want to discuss."),
    )


async def _slug(session, norm: Norm) -> str:
    from networks.models import Network

    return (await session.get_one(Network, norm.network_id)).slug


@router.post("/threads/{thread_id}/reply")
async def reply(
    request: Request,
    thread_id: uuid.UUID,
    session: WritingSessionDep,
    _csrf: Csrf,
    settings: SettingsDep,
    viewer: ViewerDep,
    participant: PageParticipant,
):
    thread, norm = await discussions.find_thread(session, thread_id)
    entered = {"body": _text(await fields(request), "body")}
    return await _act(
        request,
        session,
        viewer,
        settings,
        norm,
        f"reply-{thread.id}",
        entered,
        PostCreate,
        entered,
        lambda body: discussions.reply(session, request.app.state.clock.now(), participant, thread.id, body),
        gettext("Your reply is published."),
        f"thread-{thread.id}",
        gettext("Write your reply."),
    )


@router.post("/threads/{thread_id}/status")
async def thread_status(
    request: Request,
    thread_id: uuid.UUID,
    session: WritingSessionDep,
    _csrf: Csrf,
    settings: SettingsDep,
    viewer: ViewerDep,
    participant: PageParticipant,
):
    thread, norm = await discussions.find_thread(session, thread_id)
    entered = {"status": (await fields(request)).get("status", "")}
    return await _act(
        request,
        session,
        viewer,
        settings,
        norm,
        f"status-{thread.id}",
        entered,
        ThreadState,
        entered,
        lambda body: discussions.set_status(session, request.app.state.clock.now(), participant, thread.id, body),
        gettext("The thread is resolved.") if entered["status"] == "resolved" else gettext("The thread is open again."),
        f"thread-{thread.id}",
    )


@router.post("/posts/{post_id}/hide")
async def hide_post(
    request: Request,
    post_id: uuid.UUID,
    session: WritingSessionDep,
    _csrf: Csrf,
    settings: SettingsDep,
    viewer: ViewerDep,
    participant: PageParticipant,
):
    from norms.drafting_models import ThreadPost

    post = await session.get(ThreadPost, post_id)
    if post is None:
        raise discussions.PostNotFound()
    thread, norm = await discussions.find_thread(session, post.thread_id)
    entered = {"reason": _text(await fields(request), "reason")}
    return await _act(
        request,
        session,
        viewer,
        settings,
        norm,
        f"hide-{post.id}",
        entered,
        HideIn,
        entered,
        lambda body: discussions.hide_post(session, request.app.state.clock.now(), participant, post.id, body),
        gettext("The post is hidden; its reason is shown in its place."),
        f"thread-{thread.id}",
        gettext("Give the public reason for hiding it."),
    )


# --- Suggested changes -------------------------------------------------------------------------


@router.post("/norms/{norm_id}/suggestions")
async def suggest(
    request: Request,
    norm_id: uuid.UUID,
    session: WritingSessionDep,
    _csrf: Csrf,
    settings: SettingsDep,
    viewer: ViewerDep,
    participant: PageParticipant,
):
    norm = await _norm(session, norm_id)
    form = await fields(request)
    entered = {"quote": form.get("quote", ""), "replacement": _text(form, "replacement"), "note": _text(form, "note")}
    store = request.app.state.norm_store
    async with store.reading(norm.document_id) as doc:
        text, heads = document.read_text(doc), document.heads_hex(doc)
    try:
        start, end = anchoring.locate(entered["quote"], text, norm.version_count)
    except anchoring.AnchorInvalid as invalid:
        from services.web.norms import render_norm_page

        message = gettext("Copy the words you want to change from the text.") if not entered["quote"].strip() else invalid.detail
        failed = FailedForm("suggest", {"_": message.replace(f"the text of v{norm.version_count}", "the current text")}, entered)
        return await render_norm_page(request, session, viewer, await _slug(session, norm), norm.slug, failed)
    data = {
        "passage": {"start": start, "end": end, "quote": text[start:end], "heads": heads},
        "replacement": entered["replacement"],
        "note": entered["note"] or None,
    }
    return await _act(
        request,
        session,
        viewer,
        settings,
        norm,
        "suggest",
        entered,
        SuggestionCreate,
        data,
        lambda body: suggestions.suggest(session, store, request.app.state.clock.now(), participant, norm, body),
        gettext("Your suggestion is waiting for a member to accept or decline it."),
        "suggestions",
    )


async def _decide(request: Request, session, viewer, settings, participant, suggestion_id: uuid.UUID, kind: str):
    found, norm = await suggestions.get(session, suggestion_id)
    form = await fields(request)
    entered = {"reason": _text(form, "reason")}
    store, now = request.app.state.norm_store, request.app.state.clock.now()
    if kind == "accept":
        return await _act(
            request, session, viewer, settings, norm, f"decide-{found.id}", entered, Decision, {"reason": entered["reason"] or None},
            lambda body: suggestions.accept(session, store, now, participant, found.id, body),
            gettext("Accepted: the text now has the suggested words, credited to their author."), f"suggestion-{found.id}",
            savepoint=False,
        )  # fmt: skip
    if kind == "decline":
        return await _act(
            request, session, viewer, settings, norm, f"decide-{found.id}", entered, DeclineIn, entered,
            lambda body: suggestions.decline(session, now, participant, found.id, body),
            gettext("Declined, with your reason."), f"suggestion-{found.id}", gettext("Give the reason for declining."),
        )  # fmt: skip
    return await _act(
        request, session, viewer, settings, norm, f"decide-{found.id}", entered, SuggestionRefresh, {},
        lambda body: suggestions.refresh(session, store, now, participant, found.id, body),
        gettext("Your suggestion now stands on the passage as it reads today."), f"suggestion-{found.id}",
    )  # fmt: skip


@router.post("/suggestions/{suggestion_id}/{kind}")
async def decide(
    request: Request,
    suggestion_id: uuid.UUID,
    kind: str,
    session: WritingSessionDep,
    _csrf: Csrf,
    settings: SettingsDep,
    viewer: ViewerDep,
    participant: PageParticipant,
):
    """Accept, decline or refresh a suggestion from the norm page."""
    if kind not in ("accept", "decline", "refresh"):
        raise suggestions.SuggestionNotFound("No such action on a suggestion")
    return await _decide(request, session, viewer, settings, participant, suggestion_id, kind)


# --- Sense checks ------------------------------------------------------------------------------


@router.post("/norms/{norm_id}/sense-checks")
async def ask(
    request: Request,
    norm_id: uuid.UUID,
    session: WritingSessionDep,
    _csrf: Csrf,
    settings: SettingsDep,
    viewer: ViewerDep,
    participant: PageParticipant,
):
    norm = await _norm(session, norm_id)
    form = await fields(request)
    entered = {"question": _text(form, "question"), "version": form.get("version", "")}
    data = {"question": entered["question"], "version": entered["version"] or None}
    made: dict[str, uuid.UUID] = {}

    async def action(body: SenseCheckCreate) -> None:
        made["id"] = (await sensechecks.ask(session, request.app.state.clock.now(), participant, norm, body)).id

    response = await _act(
        request, session, viewer, settings, norm, "sense-check", entered, SenseCheckCreate, data, action,
        gettext("The sense check is open: members can answer now."), "sense-checks", gettext("Write the question to the members."),
    )  # fmt: skip
    if "id" in made:
        return redirect(
            f"{_norm_path(await _slug(session, norm), norm)}/sense-checks/{made['id']}",
            viewer,
            settings,
            flash=("ok", gettext("The sense check is open: members can answer now.")),
        )
    return response


async def _sense_context(session, request: Request, viewer: Viewer, check: SenseCheckOut, norm: Norm) -> dict:
    labels = {t.key: t.label for t in check.outcome.groups + check.outcome.regions}
    votes = {a.participant_id: sensechecks.POSITION[a.answer].value for a in check.answers}
    is_open = check.status == "open"
    missing, per_tally = ballot_pages.needs(check.policy, check.electorate, votes, check.outcome, labels, what="A ballot now")
    me = viewer.participant.id if viewer.participant else None
    return {
        "check": check,
        "norm": norm,
        "path": _norm_path(check.network, norm),
        "is_open": is_open,
        "missing": missing if not check.would_pass else [],
        "per_tally": per_tally,
        "waiting": [e for e in check.electorate if not e.voted],
        "elector": me is not None and any(e.participant_id == me for e in check.electorate),
        "my_answer": next((a for a in check.answers if a.participant_id == me), None),
        "convener": await membership.is_convener(session, norm.network_id, me),
        "answers": ANSWERS,
        "weight": ballot_pages.weight,
        "percent": ballot_pages._percent,
        "taxonomy": request.app.state.taxonomy,
    }


async def _sense_page(
    request: Request, session, viewer: Viewer, slug: str, norm_slug: str, check_id: uuid.UUID, failed: FailedForm | None = None
):
    from services.web.norms import _find

    norm = await _find(session, slug, norm_slug)
    found = await sensechecks.get(session, check_id)
    if found.norm_id != norm.id:
        raise sensechecks.SenseCheckNotFound()
    check = await sensechecks.view(session, request.app.state.taxonomy, request.app.state.clock.now(), found)
    network = await networks.get_network(session, slug)
    context = await _sense_context(session, request, viewer, check, norm) | {"network": network, "failed": failed}
    return render(
        request,
        viewer,
        "sense_check.html",
        context,
        status_code=failed.status_code if failed else 200,
        title=formatted("Sense check: %(question)s", question=check.question[:60]),
    )


@router.get("/networks/{slug}/norms/{norm_slug}/sense-checks/{check_id}")
async def sense_check_page(request: Request, slug: str, norm_slug: str, check_id: uuid.UUID, session: SessionDep, viewer: ViewerDep):
    return await _sense_page(request, session, viewer, slug, norm_slug, check_id)


@router.post("/sense-checks/{check_id}/answer")
async def answer(
    request: Request,
    check_id: uuid.UUID,
    session: WritingSessionDep,
    _csrf: Csrf,
    settings: SettingsDep,
    viewer: ViewerDep,
    participant: PageParticipant,
):
    check = await sensechecks.get(session, check_id)
    norm = await session.get_one(Norm, check.norm_id)
    slug = await _slug(session, norm)
    form = await fields(request)
    entered = {"answer": form.get("answer", ""), "reason": _text(form, "reason")}
    here = f"{_norm_path(slug, norm)}/sense-checks/{check.id}"

    async def again(message: str | Markup, status_code: int = 422):
        return await _sense_page(
            request, session, viewer, slug, norm.slug, check.id, FailedForm("answer", {"_": message}, entered, status_code)
        )

    try:
        body = parse(AnswerIn, {"answer": entered["answer"], "reason": entered["reason"] or None})
    except FormInvalid as invalid:
        if entered["answer"] == Answer.disagree and not entered["reason"].strip():
            return await again(gettext("Disagreeing needs a reason; it is shown with your answer."))
        return await again(gettext("Choose agree, disagree or abstain.") if not entered["answer"] else "; ".join(invalid.errors.values()))
    _, error = await attempt(session, lambda: sensechecks.answer(session, request.app.state.clock.now(), participant, check, body))
    if error is not None:
        return await again(_said(error, viewer, here), error.status_code)
    return redirect(
        here + "#outcome",
        viewer,
        settings,
        flash=("ok", gettext("Your answer is counted; you can change it until the sense check closes.")),
    )


@router.post("/sense-checks/{check_id}/close")
async def close(
    request: Request,
    check_id: uuid.UUID,
    session: WritingSessionDep,
    _csrf: Csrf,
    settings: SettingsDep,
    viewer: ViewerDep,
    participant: PageParticipant,
):
    check = await sensechecks.get(session, check_id)
    norm = await session.get_one(Norm, check.norm_id)
    here = f"{_norm_path(await _slug(session, norm), norm)}/sense-checks/{check.id}"
    _, error = await attempt(session, lambda: sensechecks.close(session, request.app.state.clock.now(), participant, check))
    if error is not None:
        return redirect(here, viewer, settings, refused=error)
    return redirect(here, viewer, settings, flash=("ok", gettext("The sense check is closed.")))
