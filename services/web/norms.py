"""Pages for a norm: its text with the live editor, versions, history, authorship and diffs."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from markupsafe import Markup
from sqlalchemy import select

from networks import membership
from networks import service as networks
from networks.models import MemberRole
from norms import ballots, document, suggestions, translations
from norms import service as norms
from norms.diff import splice_between
from norms.errors import InvalidHeads, NormNotFound
from norms.models import Norm
from norms.schemas import EditRequest, NormCreate, TranslationCreate, VersionCreate
from norms.store import NormStore, parse_heads
from services.api.deps import SessionDep, SettingsDep, WritingSessionDep
from services.api.middleware import csp_nonce
from services.clearinghouse import entries
from services.kit.errors import DomainError
from services.kit.pagination import decode_cursor
from services.notifications.models import Target
from services.realtime.router import SYNC_PATH, create_ticket
from services.web import ballots as ballot_pages
from services.web import colours, i18n
from services.web import consultations as consultation_pages
from services.web import drafting as drafting_pages
from services.web.forms import FailedForm, FormInvalid, attempt, beside, fields, parse, redirect, refusal
from services.web.i18n import formatted, gettext
from services.web.networks import render_network_page
from services.web.notifications import follow_state
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


async def colour_slots(session, norm: Norm, authors: list[uuid.UUID], viewer_id: uuid.UUID | None) -> dict[uuid.UUID, int]:
    """Everyone's colour slot on this norm (its `authors` first), the same on every page and in the live editor
    (see `colours`)."""
    members = await membership.member_ids(session, norm.network_id)
    return colours.assign([*authors, *members, *([viewer_id] if viewer_id else [])])


def _norm_path(network_slug: str, norm: Norm) -> str:
    return f"/networks/{network_slug}/norms/{norm.slug}"


def live_editor(
    request: Request,
    viewer,
    document_url: str,
    can_edit: bool,
    slots: dict[uuid.UUID, int],
    comments: dict | None = None,
    *,
    translation: bool = False,
) -> dict | None:
    """How a page boots the live editor (frontend/src/editor.js) on the Automerge document at `document_url`, a
    norm's or a translation's; None when the bundle is not built (the page then shows the server's text)."""
    assets = bundle()
    if assets is None or "editor.js" not in assets:
        return None
    me = viewer.participant
    return {
        "documentUrl": document_url,
        "syncPath": SYNC_PATH,
        "ticketPath": "/web/sync-ticket",
        "csrfToken": viewer.csrf_token,
        "cspNonce": csp_nonce(request),  # for the <style> element CodeMirror writes
        "canEdit": can_edit,
        "wasmUrl": assets.get("automerge.wasm"),
        "me": {"participant": str(me.id), "name": me.display_name, "colour": colours.hue(slots[me.id])} if me else None,
        # Presence colours people by these slots rather than by the colour each browser sends.
        "colourSlots": {str(person): slot for person, slot in slots.items()},
        "comments": comments,
        "words": editor_words(translation=translation),
    }


def editor_words(*, translation: bool = False) -> dict[str, Any]:
    """What the live editor says (its status line, its text's label) in the page's language; counts in each plural
    form of the language, `{n}` for the number (frontend/src/change-count.js `pluralText`)."""
    return {
        "label": gettext("Text of the translation") if translation else gettext("Text of the norm"),
        "labelReadOnly": gettext("Text of the translation (read-only, updates live)")
        if translation
        else gettext("Text of the norm (read-only, updates live)"),
        "connecting": gettext("Connecting…"),
        "connected": gettext("Connected — all changes saved"),
        "sending": i18n.plural_forms("Connected — sending %(n)s unsynced change…", "Connected — sending %(n)s unsynced changes…"),
        "offline": i18n.plural_forms("Offline — %(n)s unsynced change", "Offline — %(n)s unsynced changes"),
        "offlineSaved": i18n.plural_forms(
            "Offline — %(n)s unsynced change, saved on this device", "Offline — %(n)s unsynced changes, saved on this device"
        ),
        "reconnecting": i18n.plural_forms("Reconnecting… %(n)s unsynced change", "Reconnecting… %(n)s unsynced changes"),
        "reconnectingSaved": i18n.plural_forms(
            "Reconnecting… %(n)s unsynced change, saved on this device", "Reconnecting… %(n)s unsynced changes, saved on this device"
        ),
        "signedOut": gettext("signed out: reload the page to edit"),
        "confirm": gettext("Confirm your address to edit"),
    }


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
    entered = {
        "title": form.get("title", ""),
        "text": form.get("text", "").replace("\r\n", "\n"),
        "language": form.get("language") or i18n.current().code,
    }

    async def again(errors: dict[str, str | Markup], status_code: int = 422):
        return await render_network_page(request, session, viewer, slug, FailedForm("start-norm", errors, entered, status_code))

    try:
        body = parse(NormCreate, entered)
    except FormInvalid as invalid:
        errors = beside(invalid.errors, ("title", "text", "language"))
        if "language" in errors:
            errors["language"] = gettext("Choose one of the languages offered.")
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
        flash=("ok", gettext("The norm is created. Members of the network can now write it together.")),
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
    drafting = await drafting_pages.panel(session, request, norm, slug, viewer)
    in_force = await ballots.adoption_in_force(session, norm.id)
    in_force_entry = await entries.entry_of_adoption(session, in_force.id) if in_force else None

    spans: list[AuthorSpan] = []
    authors: dict[uuid.UUID, dict] = {}
    slots = await colour_slots(session, norm, [span.participant.id for span in authorship.spans], viewer_id)
    for span in authorship.spans:
        who = span.participant
        colour_class = colours.css_class(slots[who.id])
        spans.append(AuthorSpan(view.text[span.start : span.end], who.id, who.display_name, colour_class))
        entry = authors.setdefault(who.id, {"name": who.display_name, "colour_class": colour_class, "characters": 0})
        entry["characters"] += span.end - span.start

    # Who can edit gets the live editor (after the text, which the page already shows); everyone else
    # follows the text as Server-Sent Events (static/reader.js), without the editor or WebAssembly,
    # unless comments are anchored in it: the editor's anchors follow their passages through edits.
    assets = bundle()
    editor = reader = None
    if not can_edit and not comments:
        reader = {"events": f"/api/v1/norms/{norm.id}/text/events", "since": ",".join(sorted(view.heads))}
    else:
        editor = live_editor(request, viewer, view.url, can_edit, slots, comments["live"] if comments else None)
    context = {
        "network": network,
        "norm": norm,
        "view": view,
        "versions": versions,
        "translated": await translations.languages_by_version(session, norm),
        "history": history,
        "more_history": more_history is not None,
        "spans": spans,
        "authors": sorted(authors.values(), key=lambda author: -author["characters"]),
        "member": member,
        "can_edit": can_edit,
        "ballot_panel": ballot_panel,
        "drafting": drafting,
        "comments": comments,
        "lines": consultation_pages.lines(view.text, (comments["marks"] if comments else []) + drafting["marks"]),
        # The discussion sits beside the text (with the consultation's comments) when there is something to show or write.
        "beside": bool(comments or drafting["threads"] or drafting["member"]),
        "convener": convener,
        "in_force": in_force,
        "in_force_entry": entries.page_path(in_force_entry) if in_force_entry else None,
        "editor": editor,
        "reader": reader,
        "assets": assets,
        "path": _norm_path(slug, norm),
        "failed": failed,
        "follow": await follow_state(session, viewer, Target.norm, str(norm.id)),
        # The change count's words in this language, for the page's script to keep it current.
        "change_forms": i18n.plural_forms("%(n)s change", "%(n)s changes"),
    }
    return render(request, viewer, "norm.html", context, status_code=failed.status_code if failed else 200, title=view.title)


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
    back = _norm_path(slug, norm)
    try:
        edit = await plain_edit(await fields(request), store, norm.document_id, session)
    except DomainError as error:
        return redirect(back, viewer, settings, refused=error)
    except ValueError:
        return redirect(back, viewer, settings, flash=("error", gettext("Reload the page and edit again.")))
    if edit.errors:
        return await render_norm_page(request, session, viewer, slug, norm_slug, FailedForm("plain-edit", edit.errors, edit.entered))
    if edit.request is None:
        return redirect(back, viewer, settings, flash=("ok", gettext("Nothing changed.")))
    try:
        await norms.edit(session, store, norm, participant, edit.request)
    except DomainError as error:
        return redirect(back, viewer, settings, refused=error)
    return redirect(back, viewer, settings, flash=("ok", gettext("Your edit is saved and merged with the others'.")))


@dataclass
class PlainEdit:
    """The whole-text form of a norm's or a translation's page, read: what was typed (to show again), the errors
    by field, and the edit to apply (None when nothing changed)."""

    entered: dict[str, str]
    errors: dict[str, str]
    request: EditRequest | None


async def plain_edit(form: dict[str, str], store: NormStore, document_id: bytes, session) -> PlainEdit:
    """The edit that turns the text the form was loaded with (at its `base_heads`) into what was typed, so that it
    merges with whatever others wrote since; raises InvalidHeads (or ValueError) for heads the document lacks."""
    new_text = form.get("text", "").replace("\r\n", "\n")
    new_title = form.get("title", "").strip()
    base_heads = [head for head in form.get("base_heads", "").split(",") if head]
    heads = parse_heads(base_heads) if base_heads else None
    async with store.reading(document_id, session=session) as doc:
        if heads is not None and not all(document.has_change(doc, head) for head in heads):
            raise InvalidHeads("The page you edited is from a history this text does not have; reload it")
        old_text, old_title = document.read_text(doc, heads), document.read_title(doc, heads)
    entered = {"title": form.get("title", ""), "text": new_text, "base_heads": form.get("base_heads", "")}
    try:
        # The boxes checked whole, as for a new norm: a refusal gives the index in what was typed.
        parse(NormCreate, {"title": new_title or old_title, "text": new_text})
    except FormInvalid as invalid:
        errors = {
            ("title" if field.startswith("title") else "text" if field.startswith("text") else "_"): m
            for field, m in invalid.errors.items()
        }
        return PlainEdit(entered, errors, None)
    splice = splice_between(old_text, new_text)
    title = new_title if new_title and new_title != old_title else None
    if splice is None and title is None:
        return PlainEdit(entered, {}, None)
    try:
        request = parse(EditRequest, {"base_heads": base_heads or None, "splices": [asdict(splice)] if splice else [], "title": title})
    except FormInvalid as invalid:
        return PlainEdit(entered, {("title" if field.startswith("title") else "_"): m for field, m in invalid.errors.items()}, None)
    return PlainEdit(entered, {}, request)


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
            raise FormInvalid({"label": gettext("A version needs a label (up to 120 characters)")})
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
    return redirect(
        back,
        viewer,
        settings,
        flash=("ok", formatted("Version v%(number)s “%(label)s” is tagged.", number=version.number, label=version.label)),
    )


@router.get("/networks/{slug}/norms/{norm_slug}/versions/{number}")
async def version_page(request: Request, slug: str, norm_slug: str, number: int, session: SessionDep, viewer: ViewerDep):
    return await render_version_page(request, session, viewer, slug, norm_slug, number)


async def render_version_page(request: Request, session, viewer, slug: str, norm_slug: str, number: int, failed: FailedForm | None = None):
    """A version's text and its translations; with `failed`, the form to start one shown open again with its message."""
    norm = await _find(session, slug, norm_slug)
    network = await networks.get_network(session, slug)
    version = await norms.version_text(session, _store(request), norm, number)
    listed = await translations.listing(session, norm, number)
    member = await membership.member_role(session, norm.network_id, viewer.participant.id if viewer.participant else None) is not None
    taken = {norm.language, *(translation.language for translation in listed)}
    context = {
        "network": network,
        "norm": norm,
        "version": version,
        "path": _norm_path(slug, norm),
        "version_count": norm.version_count,
        "translations": listed,
        "member": member,
        # The languages a member may translate this version into: the six, less the original's and those begun.
        "untranslated": [code for code in i18n.LANGUAGES if code not in taken],
        "failed": failed,
    }
    status_code = failed.status_code if failed else 200
    return render(request, viewer, "version.html", context, status_code=status_code, title=f"{version.title} — v{version.number}")


@router.post("/networks/{slug}/norms/{norm_slug}/versions/{number}/translations")
async def create_translation(
    request: Request,
    slug: str,
    norm_slug: str,
    number: int,
    session: WritingSessionDep,
    _csrf: Csrf,
    settings: SettingsDep,
    viewer: ViewerDep,
    participant: PageParticipant,
):
    """A member starts a translation of the version from its page, and goes to the translation to write it."""
    norm = await _find(session, slug, norm_slug)
    form = await fields(request)
    entered = {"language": form.get("language") or i18n.current().code}
    here = f"{_norm_path(slug, norm)}/versions/{number}"

    async def again(errors: dict[str, str | Markup], status_code: int = 422):
        failed = FailedForm("translate", errors, entered, status_code)
        return await render_version_page(request, session, viewer, slug, norm_slug, number, failed)

    try:
        body = parse(TranslationCreate, entered)
    except FormInvalid:
        return await again({"language": gettext("Choose one of the languages offered.")})
    created, error = await attempt(session, lambda: translations.create(session, _store(request), norm, number, participant, body))
    if error is not None:
        if error.status_code in (403, 404):
            raise error
        return await again({"_": refusal(error, reader_zone(viewer.zone_name), here).html()}, error.status_code)
    assert created is not None  # `attempt` returns the result when there is no error
    said = formatted(
        "The translation into %(language)s is started: replace the original's words with yours.", language=i18n.language_name(body.language)
    )
    return redirect(f"{here}/translations/{body.language}", viewer, settings, flash=("ok", said))


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
    return render(
        request,
        viewer,
        "diff.html",
        context,
        status_code=200 if error is None else 422,
        title=formatted("Changes in %(title)s", title=norm.title),
    )


@router.get("/networks/{slug}/norms/{norm_slug}/history")
async def history_page(request: Request, slug: str, norm_slug: str, session: SessionDep, viewer: ViewerDep, cursor: str = "", at: str = ""):
    norm = await _find(session, slug, norm_slug)
    network = await networks.get_network(session, slug)
    before = decode_cursor(cursor, int)[0] if cursor else None
    entries, next_cursor = await norms.history(session, norm, before, HISTORY_PAGE)
    authorship = await norms.authorship(session, _store(request), norm)
    viewer_id = viewer.participant.id if viewer.participant else None
    known = await colour_slots(session, norm, [span.participant.id for span in authorship.spans], viewer_id)
    # Past writers whose text is gone and who left the network come after everyone else.
    slots = colours.assign([*known, *(entry.participant.id for entry in entries)])
    snapshot = None
    if at:
        try:
            snapshot = await norms.text_at(session, _store(request), norm, at)
        except DomainError as exc:
            raise InvalidHeads("No change with this hash in this norm's history") from exc
    decided = await suggestions.decided(session, norm)
    context = {
        "network": network,
        "norm": norm,
        "decided": decided,
        "accepted_in": {change: item for item in decided if item.status == "accepted" for change in item.changes},
        "entries": entries,
        "next_cursor": next_cursor,
        "snapshot": snapshot,
        "path": _norm_path(slug, norm),
        "colour_class": lambda participant_id: colours.css_class(slots[participant_id]),
    }
    return render(request, viewer, "history.html", context, title=formatted("History of %(title)s", title=norm.title))


@router.post("/web/sync-ticket")
async def sync_ticket(_csrf: Csrf, settings: SettingsDep, participant: PageParticipant) -> JSONResponse:
    """A single-use ticket for the live editor's sync socket, for the signed-in browser (CSRF header required)."""
    ticket = await create_ticket(participant, settings)
    return JSONResponse(ticket.model_dump(mode="json"), status_code=201, headers={"Cache-Control": "no-store"})
