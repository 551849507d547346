"""Pages for a norm: its text with the live editor, versions, history, authorship and diffs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from markupsafe import Markup
from sqlalchemy import select

from networks import membership
from networks import service as networks
from networks.models import MemberRole
from norms import ballots, document
from norms import service as norms
from norms.errors import InvalidHeads, NormNotFound
from norms.models import Norm
from norms.schemas import Authorship, EditRequest, NormCreate, Splice, VersionCreate
from norms.store import NormStore, parse_heads
from services.api.deps import SessionDep, SettingsDep, WritingSessionDep
from services.api.middleware import csp_nonce
from services.clearinghouse import entries
from services.kit.errors import DomainError
from services.kit.pagination import decode_cursor
from services.realtime.router import SYNC_PATH, create_ticket
from services.web import ballots as ballot_pages
from services.web import colours
from services.web import consultations as consultation_pages
from services.web.forms import FailedForm, FormInvalid, attempt, beside, fields, parse, redirect, refusal
from services.web.networks import render_network_page
from services.web.session import Csrf, PageParticipant, ViewerDep
from services.web.templating import bundle, reader_zone, render

router = APIRouter(include_in_schema=False)

RECENT_HISTORY = 8
HISTORY_PAGE = 50


def _store(request: Request) -> NormStore:
    return request.app.state.norm_store


async def _find(session, network_slug: str, norm_slug: str) -> Norm:
    network = await networks.get_network(session, network_slug)
    norm = await session.scalar(select(Norm).where(Norm.network_id == network.id, Norm.slug == norm_slug))
    if norm is None:
        raise NormNotFound(f"The network {network.name} has no norm at this address")
    return norm


async def _colour_slots(session, norm: Norm, authorship: Authorship, viewer_id: uuid.UUID | None) -> dict[uuid.UUID, int]:
    """Everyone's colour slot on this norm, the same on every page and in the live editor (see `colours`)."""
    authors = [span.participant.id for span in authorship.spans]
    members = await membership.member_ids(session, norm.network_id)
    return colours.assign([*authors, *members, *([viewer_id] if viewer_id else [])])


def _norm_path(network_slug: str, norm: Norm) -> str:
    return f"/networks/{network_slug}/norms/{norm.slug}"


@dataclass(frozen=True)
class AuthorSpan:
    text: str
    participant_id: uuid.UUID
    name: str
    colour_class: str


@router.post("/networks/{slug}/norms")
async def create_norm(
    request: Request,
    slug: str,
    session: WritingSessionDep,
    _csrf: Csrf,
    settings: SettingsDep,
    viewer: ViewerDep,
    participant: PageParticipant,
):
    form = await fields(request)
    back = f"/networks/{slug}"
    entered = {"title": form.get("title", ""), "text": form.get("text", "").replace("\r\n", "\n")}

    async def again(errors: dict[str, str | Markup], status_code: int = 422):
        return await render_network_page(request, session, viewer, slug, FailedForm("start-norm", errors, entered, status_code))

    try:
        body = parse(NormCreate, entered)
    except FormInvalid as invalid:
        errors = beside(invalid.errors, ("title", "text"))
        if "title" in errors and not 0 < len(entered["title"].strip()) <= 300:
            errors["title"] = "The norm needs a title (up to 300 characters)."
        return await again(errors)
    created, error = await attempt(session, lambda: norms.create_norm(session, _store(request), slug, participant, body))
    if error is not None:
        if isinstance(error, NormNotFound) or error.status_code == 404:
            raise error
        return await again({"_": refusal(error, reader_zone(viewer.zone_name), back).html()}, error.status_code)
    assert created is not None  # `attempt` returns the result when there is no error
    return redirect(
        f"/networks/{slug}/norms/{created.slug}",
        viewer,
        settings,
        flash=("ok", "The norm is created. Members of the network can now write it together."),
    )


@router.get("/networks/{slug}/norms/{norm_slug}")
async def norm_page(request: Request, slug: str, norm_slug: str, session: SessionDep, viewer: ViewerDep):
    return await render_norm_page(request, session, viewer, slug, norm_slug)


async def render_norm_page(request: Request, session, viewer, slug: str, norm_slug: str, failed: FailedForm | None = None):
    """The norm page; with `failed`, one of its forms is shown open again, with its messages and what was entered (422)."""
    norm = await _find(session, slug, norm_slug)
    network = await networks.get_network(session, slug)
    store = _store(request)
    view = await norms.norm_view(session, store, norm)
    versions = await norms.list_versions(session, norm)
    history, more_history = await norms.history(session, norm, None, RECENT_HISTORY)
    authorship = await norms.authorship(session, store, norm)
    viewer_id = viewer.participant.id if viewer.participant else None
    role = await membership.member_role(session, norm.network_id, viewer_id)
    member = role is not None
    can_edit = member and norm.status in norms.EDITABLE
    ballot_panel = await ballot_pages.panel(session, request, norm, viewer)
    comments = await consultation_pages.sidebar(session, store, request.app.state.diffs, norm, request.app.state.clock.now())
    convener = role is MemberRole.convener
    in_force = await ballots.adoption_in_force(session, norm.id)
    in_force_entry = await entries.entry_of_adoption(session, in_force.id) if in_force else None

    spans: list[AuthorSpan] = []
    authors: dict[uuid.UUID, dict] = {}
    slots = await _colour_slots(session, norm, authorship, viewer_id)
    for span in authorship.spans:
        who = span.participant
        colour_class = colours.css_class(slots[who.id])
        spans.append(AuthorSpan(view.text[span.start : span.end], who.id, who.display_name, colour_class))
        entry = authors.setdefault(who.id, {"name": who.display_name, "colour_class": colour_class, "characters": 0})
        entry["characters"] += span.end - span.start

    assets = bundle()
    editor = None
    if assets is not None and "editor.js" in assets:
        me = viewer.participant
        editor = {
            "documentUrl": view.url,
            "syncPath": SYNC_PATH,
            "ticketPath": "/web/sync-ticket",
            "csrfToken": viewer.csrf_token,
            "cspNonce": csp_nonce(request),  # for the <style> element CodeMirror writes
            "canEdit": can_edit,
            "wasmUrl": assets.get("automerge.wasm"),
            "me": {"participant": str(me.id), "name": me.display_name, "colour": colours.hue(slots[me.id])} if me else None,
            # Presence colours people by these slots rather than by the colour each browser sends.
            "colourSlots": {str(person): slot for person, slot in slots.items()},
            "comments": comments["live"] if comments else None,
        }
    context = {
        "network": network,
        "norm": norm,
        "view": view,
        "versions": versions,
        "history": history,
        "more_history": more_history is not None,
        "spans": spans,
        "authors": sorted(authors.values(), key=lambda author: -author["characters"]),
        "member": member,
        "can_edit": can_edit,
        "ballot_panel": ballot_panel,
        "comments": comments,
        "pieces": consultation_pages.passages(view.text, comments["marks"]) if comments else None,
        "convener": convener,
        "in_force": in_force,
        "in_force_entry": entries.page_path(in_force_entry) if in_force_entry else None,
        "editor": editor,
        "assets": assets,
        "path": _norm_path(slug, norm),
        "failed": failed,
    }
    return render(request, viewer, "norm.html", context, status_code=failed.status_code if failed else 200, title=view.title)


def _splice_between(old: str, new: str) -> Splice | None:
    """One splice that turns `old` into `new` (common prefix and suffix kept), or None if equal."""
    if old == new:
        return None
    prefix = 0
    limit = min(len(old), len(new))
    while prefix < limit and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and old[len(old) - 1 - suffix] == new[len(new) - 1 - suffix]:
        suffix += 1
    return Splice(index=prefix, delete=len(old) - prefix - suffix, insert=new[prefix : len(new) - suffix])


@router.post("/networks/{slug}/norms/{norm_slug}/edit")
async def edit_text(
    request: Request,
    slug: str,
    norm_slug: str,
    session: SessionDep,
    _csrf: Csrf,
    settings: SettingsDep,
    viewer: ViewerDep,
    participant: PageParticipant,
):
    """Without JavaScript, members edit the whole text in a form; it merges with what others wrote since."""
    norm = await _find(session, slug, norm_slug)
    store = _store(request)
    form = await fields(request)
    back = _norm_path(slug, norm)
    new_text = form.get("text", "").replace("\r\n", "\n")
    new_title = form.get("title", "").strip()
    try:
        base_heads = [head for head in form.get("base_heads", "").split(",") if head]
        heads = parse_heads(base_heads) if base_heads else None
        async with store.reading(norm.document_id, session=session) as doc:
            if heads is not None and not all(document.has_change(doc, head) for head in heads):
                raise InvalidHeads("The page you edited is from a history this norm does not have; reload it")
            old_text, old_title = document.read_text(doc, heads), document.read_title(doc, heads)
    except (DomainError, ValueError) as exc:
        return redirect(back, viewer, settings, flash=("error", getattr(exc, "detail", "Reload the page and edit again.")))
    entered = {"title": form.get("title", ""), "text": new_text, "base_heads": form.get("base_heads", "")}
    try:
        # The boxes checked whole, as for a new norm: a refusal gives the index in what was typed.
        parse(NormCreate, {"title": new_title or old_title, "text": new_text})
    except FormInvalid as invalid:
        errors = {
            ("title" if field.startswith("title") else "text" if field.startswith("text") else "_"): m
            for field, m in invalid.errors.items()
        }
        return await render_norm_page(request, session, viewer, slug, norm_slug, FailedForm("plain-edit", dict(errors), entered))
    splice = _splice_between(old_text, new_text)
    title = new_title if new_title and new_title != old_title else None
    if splice is None and title is None:
        return redirect(back, viewer, settings, flash=("ok", "Nothing changed."))
    try:
        request_body = parse(
            EditRequest, {"base_heads": base_heads or None, "splices": [splice.model_dump()] if splice else [], "title": title}
        )
    except FormInvalid as invalid:
        errors = {("title" if field.startswith("title") else "_"): message for field, message in invalid.errors.items()}
        return await render_norm_page(request, session, viewer, slug, norm_slug, FailedForm("plain-edit", dict(errors), entered))
    try:
        await norms.edit(session, store, norm, participant, request_body)
    except DomainError as error:
        return redirect(back, viewer, settings, refused=error)
    return redirect(back, viewer, settings, flash=("ok", "Your edit is saved and merged with the others'."))


@router.post("/networks/{slug}/norms/{norm_slug}/versions")
async def create_version(
    request: Request,
    slug: str,
    norm_slug: str,
    session: WritingSessionDep,
    _csrf: Csrf,
    settings: SettingsDep,
    viewer: ViewerDep,
    participant: PageParticipant,
):
    norm = await _find(session, slug, norm_slug)
    form = await fields(request)
    back = _norm_path(slug, norm) + "#versions"
    entered = {"label": form.get("label", ""), "note": form.get("note", "").replace("\r\n", "\n")}
    try:
        if not entered["label"].strip():
            raise FormInvalid({"label": "A version needs a label (up to 120 characters)"})
        body = parse(VersionCreate, entered)
    except FormInvalid as invalid:
        errors = {
            ("label" if field.startswith("label") else "note" if field.startswith("note") else "_"): m
            for field, m in invalid.errors.items()
        }
        return await render_norm_page(request, session, viewer, slug, norm_slug, FailedForm("tag-version", dict(errors), entered))
    version, error = await attempt(session, lambda: norms.create_version(session, _store(request), norm, participant, body))
    if error is not None:
        if error.status_code in (403, 404):
            raise error
        said = refusal(error, reader_zone(viewer.zone_name), back).html()
        failed = FailedForm("tag-version", {"_": said}, entered, error.status_code)
        return await render_norm_page(request, session, viewer, slug, norm_slug, failed)
    assert version is not None  # `attempt` returns the result when there is no error
    return redirect(back, viewer, settings, flash=("ok", f"Version v{version.number} “{version.label}” is tagged."))


@router.get("/networks/{slug}/norms/{norm_slug}/versions/{number}")
async def version_page(request: Request, slug: str, norm_slug: str, number: int, session: SessionDep, viewer: ViewerDep):
    norm = await _find(session, slug, norm_slug)
    network = await networks.get_network(session, slug)
    version = await norms.version_text(session, _store(request), norm, number)
    context = {"network": network, "norm": norm, "version": version, "path": _norm_path(slug, norm), "version_count": norm.version_count}
    return render(request, viewer, "version.html", context, title=f"{version.title} — v{version.number}")


@router.get("/networks/{slug}/norms/{norm_slug}/diff")
async def diff_page(request: Request, slug: str, norm_slug: str, session: SessionDep, viewer: ViewerDep, from_: str = "", to: str = ""):
    norm = await _find(session, slug, norm_slug)
    network = await networks.get_network(session, slug)
    versions = await norms.list_versions(session, norm)
    # Query parameters are named from/to, as in the API; `from` is a Python keyword.
    from_ref = (
        request.query_params.get("from")
        or from_
        or (str(versions[-2].number) if len(versions) >= 2 else str(versions[-1].number) if versions else "current")
    )
    to_ref = request.query_params.get("to") or to or (str(versions[-1].number) if len(versions) >= 2 else "current")
    result = None
    error = None
    try:
        result = await norms.word_diff(session, _store(request), request.app.state.diffs, norm, from_ref, to_ref)
    except DomainError as exc:
        error = exc.detail
    context = {
        "network": network,
        "norm": norm,
        "versions": versions,
        "from_ref": from_ref,
        "to_ref": to_ref,
        "result": result,
        "error": error,
        "path": _norm_path(slug, norm),
    }
    return render(request, viewer, "diff.html", context, status_code=200 if error is None else 422, title=f"Changes in {norm.title}")


@router.get("/networks/{slug}/norms/{norm_slug}/history")
async def history_page(request: Request, slug: str, norm_slug: str, session: SessionDep, viewer: ViewerDep, cursor: str = "", at: str = ""):
    norm = await _find(session, slug, norm_slug)
    network = await networks.get_network(session, slug)
    before = decode_cursor(cursor, int)[0] if cursor else None
    entries, next_cursor = await norms.history(session, norm, before, HISTORY_PAGE)
    authorship = await norms.authorship(session, _store(request), norm)
    known = await _colour_slots(session, norm, authorship, viewer.participant.id if viewer.participant else None)
    # Past writers whose text is gone and who left the network come after everyone else.
    slots = colours.assign([*known, *(entry.participant.id for entry in entries)])
    snapshot = None
    if at:
        try:
            snapshot = await norms.text_at(session, _store(request), norm, at)
        except DomainError as exc:
            raise InvalidHeads("No change with this hash in this norm's history") from exc
    context = {
        "network": network,
        "norm": norm,
        "entries": entries,
        "next_cursor": next_cursor,
        "snapshot": snapshot,
        "path": _norm_path(slug, norm),
        "colour_class": lambda participant_id: colours.css_class(slots[participant_id]),
    }
    return render(request, viewer, "history.html", context, title=f"History of {norm.title}")


@router.post("/web/sync-ticket")
async def sync_ticket(_csrf: Csrf, settings: SettingsDep, participant: PageParticipant) -> JSONResponse:
    """A single-use ticket for the live editor's sync socket, for the signed-in browser (CSRF header required)."""
    ticket = await create_ticket(participant, settings)
    return JSONResponse(ticket.model_dump(mode="json"), status_code=201, headers={"Cache-Control": "no-store"})
