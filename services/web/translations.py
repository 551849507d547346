"""Pages for a translation of a norm's version: its text in its own language, the live editor for members (the
norm page's, on the translation's document) and the convener's review."""

from __future__ import annotations

from fastapi import APIRouter, Request

from networks import membership
from networks import service as networks
from networks.models import MemberRole
from norms import service as norms
from norms import translations
from services.api.deps import SessionDep, SettingsDep, WritingSessionDep
from services.kit.errors import DomainError
from services.web import i18n
from services.web.forms import FailedForm, attempt, fields, redirect
from services.web.i18n import formatted, gettext
from services.web.norms import _find, _norm_path, _store, colour_slots, live_editor, plain_edit
from services.web.session import Csrf, PageParticipant, ViewerDep
from services.web.templating import bundle, render

router = APIRouter(include_in_schema=False)

TRANSLATION = "/networks/{slug}/norms/{norm_slug}/versions/{number}/translations/{language}"


def translation_path(network_slug: str, norm_slug: str, number: int, language: str) -> str:
    return f"/networks/{network_slug}/norms/{norm_slug}/versions/{number}/translations/{language}"


@router.get(TRANSLATION)
async def translation_page(request: Request, slug: str, norm_slug: str, number: int, language: str, session: SessionDep, viewer: ViewerDep):
    return await render_translation_page(request, session, viewer, slug, norm_slug, number, language)


async def render_translation_page(
    request: Request, session, viewer, slug: str, norm_slug: str, number: int, language: str, failed: FailedForm | None = None
):
    """The translation's page; with `failed`, its plain edit form shown open again with its messages and what was typed."""
    norm = await _find(session, slug, norm_slug)
    network = await networks.get_network(session, slug)
    translation = await translations.view(session, _store(request), norm, number, language)
    version = await norms.version_text(session, _store(request), norm, number)
    viewer_id = viewer.participant.id if viewer.participant else None
    role = await membership.member_role(session, norm.network_id, viewer_id)
    can_edit = role is not None and norm.status in norms.EDITABLE
    # Members write in the live editor; everyone else reads the text as the server has it now.
    editor = reader = None
    if can_edit:
        slots = await colour_slots(session, norm, [], viewer_id)
        editor = live_editor(request, viewer, translation.url, can_edit, slots, translation=True)
    else:  # followed as Server-Sent Events (static/reader.js), as the norm page's readers follow the norm
        events = f"/api/v1/norms/{norm.id}/versions/{number}/translations/{translation.language}/text/events"
        reader = {"events": events, "since": ",".join(sorted(translation.heads))}
    context = {
        "network": network,
        "norm": norm,
        "version": version,
        "translation": translation,
        "path": _norm_path(slug, norm),
        "here": translation_path(slug, norm.slug, number, translation.language),
        "member": role is not None,
        "can_edit": can_edit,
        "convener": role is MemberRole.convener,
        # Edited since the convener saw it: what is published (the reviewed text) is not what translators have now.
        "edited_since_review": translation.reviewed and sorted(translation.reviewed_heads or []) != sorted(translation.heads),
        "editor": editor,
        "reader": reader,
        "assets": bundle(),
        "failed": failed,
    }
    name = i18n.language_name(translation.language)
    status_code = failed.status_code if failed else 200
    return render(request, viewer, "translation.html", context, status_code=status_code, title=f"{translation.title} — v{number} ({name})")


@router.post(TRANSLATION + "/edit")
async def edit_translation(
    request: Request,
    slug: str,
    norm_slug: str,
    number: int,
    language: str,
    session: SessionDep,
    _csrf: Csrf,
    settings: SettingsDep,
    viewer: ViewerDep,
    participant: PageParticipant,
):
    """Without JavaScript, members write the whole translation in a form; it merges with what others wrote since."""
    norm = await _find(session, slug, norm_slug)
    store = _store(request)
    back = translation_path(slug, norm.slug, number, language)
    try:
        edit = await plain_edit(await fields(request), store, await translations.document_of(session, norm, number, language), session)
    except DomainError as error:
        if error.status_code == 404:
            raise
        return redirect(back, viewer, settings, refused=error)
    except ValueError:
        return redirect(back, viewer, settings, flash=("error", gettext("Reload the page and edit again.")))
    if edit.errors:
        failed = FailedForm("plain-edit", edit.errors, edit.entered)
        return await render_translation_page(request, session, viewer, slug, norm_slug, number, language, failed)
    if edit.request is None:
        return redirect(back, viewer, settings, flash=("ok", gettext("Nothing changed.")))
    try:
        await translations.edit(session, store, norm, number, language, participant, edit.request)
    except DomainError as error:
        return redirect(back, viewer, settings, refused=error)
    return redirect(back, viewer, settings, flash=("ok", gettext("Your edit is saved and merged with the others'.")))


@router.post(TRANSLATION + "/review")
async def review(
    request: Request,
    slug: str,
    norm_slug: str,
    number: int,
    language: str,
    session: WritingSessionDep,
    _csrf: Csrf,
    settings: SettingsDep,
    viewer: ViewerDep,
    participant: PageParticipant,
):
    """A convener marks the translation reviewed as it stands: that text is what the clearing house publishes."""
    norm = await _find(session, slug, norm_slug)
    back = translation_path(slug, norm.slug, number, language)
    now = request.app.state.clock.now()
    reviewed, error = await attempt(
        session, lambda: translations.review(session, _store(request), norm, number, language, participant, now)
    )
    if error is not None:
        if error.status_code == 404:
            raise error
        return redirect(back, viewer, settings, refused=error)
    assert reviewed is not None  # `attempt` returns the result when there is no error
    request.app.state.clearinghouse.cache.invalidate()
    said = formatted("The translation into %(language)s is marked reviewed as it reads now.", language=i18n.language_name(language))
    return redirect(back, viewer, settings, flash=("ok", said))
