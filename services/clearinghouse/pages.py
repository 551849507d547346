"""The clearing house's pages: home, entry pages, collections, topics, subscription help, staff curation,
and the staff's view of failed publications and deliveries.

They use the web layer's layout, session and forms; every staff form calls the same use cases
as the API (`curation`), so pages and API audit the same acts the same way.
"""

from __future__ import annotations

import uuid
from fractions import Fraction

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from sqlalchemy import select

from networks.models import Network
from networks.taxonomy import Taxonomy
from norms import consultations
from services.accounts import twofactor
from services.accounts.models import Participant, Role
from services.api.deps import SessionDep, SettingsDep, WritingSessionDep
from services.clearinghouse import curation, entries, feeds, followup, publication
from services.clearinghouse.entries import HUB_PATH, KEYS_PATH
from services.clearinghouse.feeds import FeedFormat
from services.clearinghouse.models import Collection, EntryCuration, FeedEntry
from services.clearinghouse.schemas import CollectionCreate, CollectionUpdate, CurationIn, TopicCreate
from services.kit.errors import Forbidden
from services.notifications.models import Target
from services.web import i18n
from services.web.ballots import weight
from services.web.forms import FailedForm, FormInvalid, attempt, beside, parse, redirect, refusal
from services.web.notifications import follow_state, follow_states
from services.web.session import Csrf, PageParticipant, Viewer, ViewerDep
from services.web.templating import reader_zone, render

router = APIRouter(include_in_schema=False)

LATEST = 20
FEATURED = 6


def _staff(viewer: Viewer) -> Participant:
    participant = viewer.participant
    if participant is None or participant.role not in (Role.staff, Role.admin):
        raise Forbidden("These pages are for clearing-house staff")
    twofactor.require_for_role(participant, viewer.account_session is not None and viewer.account_session.two_factor)
    return participant


def _subscribe_links(base: str) -> dict[str, str]:
    return {
        "atom": f"{base}/feeds/norms.atom",
        "json": f"{base}/feeds/norms.json",
        "rest": f"{base}/api/v1/clearinghouse/entries",
        "hub": base + HUB_PATH,
        "key_set": base + KEYS_PATH,
    }


# --- Public pages ----------------------------------------------------------------------------


@router.get("/clearinghouse")
async def home(request: Request, session: SessionDep, viewer: ViewerDep, settings: SettingsDep) -> HTMLResponse:
    base = settings.base_url
    latest, _ = await feeds.select_entries(session, feeds.make_query(FeedFormat.json, limit=LATEST))
    featured_rows = (
        await session.scalars(
            select(FeedEntry)
            .join(EntryCuration, EntryCuration.entry_id == FeedEntry.id)
            .where(EntryCuration.featured.is_(True))
            .order_by(EntryCuration.featured_at.desc())
            .limit(FEATURED)
        )
    ).all()
    context = {
        "latest": await entries.views(session, latest, details=False),
        "featured": await entries.views(session, featured_rows, details=False),
        "collections": await curation.list_collections(session, base),
        "topics": await curation.list_topics(session),
        "links": _subscribe_links(base),
        "is_staff": viewer.participant is not None and viewer.participant.role in (Role.staff, Role.admin),
        "follow": await follow_state(session, viewer, Target.clearinghouse, ""),
        "consultations": await consultations.views(
            session,
            await consultations.list_consultations(session, request.app.state.clock.now(), status="open", limit=LATEST),
            request.app.state.clock.now(),
            base,
        ),
    }
    return render(request, viewer, "clearinghouse/home.html", context, title="Clearing house")


def _chart(record: dict, taxonomy: Taxonomy) -> list[tuple[str, list[dict]]]:
    """The signed record's tallies, drawn as the ballot page draws them: per group, then per region."""

    def share(value: str | None) -> float:
        return 0.0 if value is None else float(Fraction(value))

    def percent(part: float, whole: float) -> float:
        return round(100 * part / whole, 2) if whole else 0.0

    outcome = record.get("outcome", {})
    threshold = share(record.get("policy", {}).get("threshold"))
    charts = []
    for title, key, labels in (("Stakeholder groups", "groups", taxonomy.groups), ("Regions", "regions", taxonomy.regions)):
        rows = []
        for tally in outcome.get(key, []):
            counted = share(tally["approvals"]) + share(tally["objections"])
            rows.append(
                tally
                | {
                    "label": labels.get(tally["key"], tally["key"]),
                    "voted_pct": percent(tally["voted"], tally["electors"]),
                    "quorum_pct": percent(tally["turnout_needed"], tally["electors"]),
                    "approve_pct": percent(share(tally["approvals"]), counted),
                    "object_pct": percent(share(tally["objections"]), counted),
                    "threshold_pct": percent(threshold, 1),
                    "approvals_text": weight(tally["approvals"]),
                    "objections_text": weight(tally["objections"]),
                    "abstentions_text": weight(tally["abstentions"]),
                    "support_text": None if tally["support"] is None else weight(tally["support"]),
                }
            )
        charts.append((title, rows))
    return charts


async def _collection_titles(session, slugs: list[str]) -> dict[str, str]:
    """Collections' titles by slug, for the pages that list an entry's collections by name."""
    if not slugs:
        return {}
    return dict((await session.execute(select(Collection.slug, Collection.title).where(Collection.slug.in_(slugs)))).tuples().all())


@router.get("/clearinghouse/{network}/{norm}/v{version:int}")
async def entry_page(
    request: Request, network: str, norm: str, version: int, session: SessionDep, viewer: ViewerDep, settings: SettingsDep
) -> HTMLResponse:
    entry = await entries.entry_by_path(session, network, norm, version)
    [view] = await entries.views(session, [entry])
    published = entries.out(settings.base_url, view)
    # `?lang=` also picks the interface language (services/web/i18n.py): a reader of a translation reads the page in it.
    asked = i18n.supported(request.query_params.get("lang"))
    translation = next((t for t in view.translations if t.language == asked), None)
    interface = i18n.current().code
    languages = [
        {
            "code": code,
            "name": i18n.LANGUAGES[code].name,
            "href": entries.page_path(entry) + ("" if code == view.language else f"?lang={code}"),
            "current": code == (translation.language if translation else view.language),
            "authentic": code == view.language,
        }
        for code in [view.language, *(t.language for t in view.translations)]
    ]
    others = (
        await session.scalars(select(FeedEntry).where(FeedEntry.norm_id == entry.norm_id).order_by(FeedEntry.version_number.desc()))
    ).all()
    norm_path = entries.norm_path(entry)
    in_force = await entries.in_force_for_norm(session, entry.norm_id) if view.superseded_by else None
    context = {
        "superseded_by": view.superseded_by,
        "in_force": in_force,
        "in_force_path": entries.page_path(in_force) if in_force else None,
        "entry": published,
        "view": view,
        "translation": translation,
        "text_languages": languages,
        "authentic_language": view.language,
        "authentic_language_name": entries.language_name(view.language, i18n.LANGUAGES[interface].locale),
        "chart": _chart(entry.record, request.app.state.taxonomy),
        "ballot_path": f"{norm_path}/ballots/{entry.record.get('ballot_id')}",
        "votes": entry.record.get("votes", []),
        "policy": entry.record.get("policy", {}),
        "published_versions": others,
        "norm_path": norm_path,
        "links": _subscribe_links(settings.base_url),
        "is_staff": viewer.participant is not None and viewer.participant.role in (Role.staff, Role.admin),
        "follow_up": await followup.table(session, entry),
        "collection_titles": await _collection_titles(session, published.curation.collections),
    }
    return render(request, viewer, "clearinghouse/entry.html", context, title=f"{entry.title} v{entry.version_number}")


@router.get("/clearinghouse/collections/{slug}")
async def collection_page(request: Request, slug: str, session: SessionDep, viewer: ViewerDep, settings: SettingsDep) -> HTMLResponse:
    collection = await curation.collection_view(session, slug, settings.base_url)
    found, _ = await feeds.select_entries(session, feeds.make_query(FeedFormat.json, collection=slug, limit=feeds.MAX_LIMIT))
    context = {"collection": collection, "views": await entries.views(session, found, details=False)}
    return render(request, viewer, "clearinghouse/collection.html", context, title=collection.title)


@router.get("/clearinghouse/in-force")
async def in_force_page(request: Request, session: SessionDep, viewer: ViewerDep, settings: SettingsDep, cursor: str | None = None):
    query = feeds.make_query(FeedFormat.rest, limit=feeds.MAX_LIMIT, cursor=cursor, in_force=True)
    found, next_cursor = await feeds.select_entries(session, query)
    context = {
        "views": await entries.views(session, found, details=False),
        "next_cursor": next_cursor,
        "feeds": {
            format.value: feeds.make_query(format, in_force=True).url(settings.base_url) for format in (FeedFormat.atom, FeedFormat.json)
        },
    }
    return render(request, viewer, "clearinghouse/in_force.html", context, title="Norms in force")


@router.get("/clearinghouse/topics")
async def topics_page(request: Request, session: SessionDep, viewer: ViewerDep, settings: SettingsDep) -> HTMLResponse:
    topics = await curation.list_topics(session)
    context = {
        "topics": topics,
        "follows": await follow_states(session, viewer, Target.topic, [topic.slug for topic in topics]),
        "base": settings.base_url,
    }
    return render(request, viewer, "clearinghouse/topics.html", context, title="Topics")


@router.get("/clearinghouse/subscribe")
async def subscribe_help(request: Request, viewer: ViewerDep, settings: SettingsDep) -> HTMLResponse:
    context = {"links": _subscribe_links(settings.base_url), "base": settings.base_url}
    return render(request, viewer, "clearinghouse/subscribe.html", context, title="Subscribing to the clearing house")


# --- Staff curation --------------------------------------------------------------------------


@router.get("/clearinghouse/staff")
async def staff_home(
    request: Request, session: SessionDep, viewer: ViewerDep, participant: PageParticipant, settings: SettingsDep
) -> HTMLResponse:
    _staff(viewer)
    return await _render_staff_home(request, session, viewer, settings)


async def _render_staff_home(request: Request, session, viewer: Viewer, settings, failed: FailedForm | None = None) -> HTMLResponse:
    """The curation page; with `failed`, its topic or collection form shows its messages and what was entered."""
    rows = (await session.scalars(select(FeedEntry).order_by(FeedEntry.seq.desc()).limit(feeds.MAX_LIMIT))).all()
    troubles = await publication.status(session, attempts=settings.publication_attempts)
    context = {
        "views": await entries.views(session, rows, details=False),
        "topics": await curation.list_topics(session),
        "collections": await curation.list_collections(session, settings.base_url),
        "failed_publications": sum(p.status == "failed" for p in troubles.publications),
        "carried_over": await curation.carried_over_to_review(session),
        "failed": failed,
    }
    status_code = failed.status_code if failed else 200
    return render(request, viewer, "clearinghouse/staff.html", context, status_code=status_code, title="Curation")


async def _form(request: Request) -> tuple[dict[str, str], dict[str, list[str]]]:
    form = await request.form()
    single = {key: value for key, value in form.items() if isinstance(value, str) and key != "csrf_token"}
    multi = {key: [v for v in form.getlist(key) if isinstance(v, str) and v] for key in form.keys()}
    return single, multi


@router.get("/clearinghouse/staff/entries/{entry_id}")
async def staff_entry(
    request: Request, entry_id: uuid.UUID, session: SessionDep, viewer: ViewerDep, participant: PageParticipant, settings: SettingsDep
) -> HTMLResponse:
    _staff(viewer)
    return await _render_staff_entry(request, session, viewer, settings, entry_id)


async def _render_staff_entry(
    request: Request, session, viewer: Viewer, settings, entry_id: uuid.UUID, failed: FailedForm | None = None
) -> HTMLResponse:
    """An entry's curation page; with `failed`, its form shows its messages and what was entered and ticked."""
    entry = await entries.get_entry(session, entry_id)
    [view] = await entries.views(session, [entry])
    context = {
        "entry": entries.out(settings.base_url, view),
        "topics": await curation.list_topics(session),
        "others": (
            await session.scalars(select(FeedEntry).where(FeedEntry.id != entry.id).order_by(FeedEntry.seq.desc()).limit(feeds.MAX_LIMIT))
        ).all(),
        "networks": (await session.scalars(select(Network).order_by(Network.name))).all(),
        "failed": failed,
    }
    title = f"Curate {entry.title} v{entry.version_number}"
    return render(
        request, viewer, "clearinghouse/staff_entry.html", context, status_code=failed.status_code if failed else 200, title=title
    )


# Where a refusal of curation is shown, by how `curation.curate_entry` words what it could not find.
_CURATION_FIELDS = (
    ("Unknown topic", "topics"),
    ("No published entry", "related_entries"),
    ("An entry is not related to itself", "related_entries"),
    ("No network", "related_networks"),
)


@router.post("/clearinghouse/staff/entries/{entry_id}")
async def staff_entry_save(
    request: Request,
    entry_id: uuid.UUID,
    session: WritingSessionDep,
    _csrf: Csrf,
    viewer: ViewerDep,
    participant: PageParticipant,
    settings: SettingsDep,
) -> Response:
    _staff(viewer)
    single, multi = await _form(request)
    back = f"/clearinghouse/staff/entries/{entry_id}"
    await entries.get_entry(session, entry_id)  # an entry that does not exist has no page to come back to
    names = ("summary", "featured", "topics", "related_entries", "related_networks")
    entered = {"summary": single.get("summary", "").replace("\r\n", "\n"), "featured": "on" if single.get("featured") == "on" else ""}
    ticked = {name: multi.get(name, []) for name in names[2:]}

    async def again(errors: dict[str, str | Markup], status_code: int = 422) -> HTMLResponse:
        failed = FailedForm("curation", errors, entered, status_code, ticked)
        return await _render_staff_entry(request, session, viewer, settings, entry_id, failed)

    try:
        body = parse(CurationIn, {"summary": entered["summary"], "featured": entered["featured"] == "on"} | ticked)
    except FormInvalid as invalid:
        return await again(beside(invalid.errors, names))
    now = request.app.state.clock.now()
    changed, error = await attempt(
        session, lambda: curation.curate_entry(session, now, participant, entry_id, body, base_url=settings.base_url)
    )
    if error is not None:
        said = refusal(error, reader_zone(viewer.zone_name), back).html()
        name = next((name for start, name in _CURATION_FIELDS if error.detail.startswith(start)), "_")
        return await again({name: said}, error.status_code)
    if changed:
        request.app.state.clearinghouse.cache.invalidate()
        request.app.state.clearinghouse.nudge()
    return redirect(
        back, viewer, settings, flash=("ok", "Saved; each change is in the public audit log." if changed else "Nothing changed.")
    )


@router.post("/clearinghouse/staff/entries/{entry_id}/reviewed")
async def staff_entry_reviewed(
    entry_id: uuid.UUID,
    session: WritingSessionDep,
    _csrf: Csrf,
    viewer: ViewerDep,
    participant: PageParticipant,
    settings: SettingsDep,
):
    _staff(viewer)
    _, error = await attempt(session, lambda: curation.mark_reviewed(session, participant, entry_id))
    if error is not None:
        raise error
    return redirect("/clearinghouse/staff", viewer, settings, flash=("ok", "Marked as reviewed; this is in the public audit log."))


@router.post("/clearinghouse/staff/topics")
async def staff_topic_create(
    request: Request, session: WritingSessionDep, _csrf: Csrf, viewer: ViewerDep, participant: PageParticipant, settings: SettingsDep
) -> Response:
    _staff(viewer)
    single, _ = await _form(request)
    entered = {"label": single.get("label", ""), "description": single.get("description", "").replace("\r\n", "\n")}

    async def again(errors: dict[str, str | Markup], status_code: int = 422) -> HTMLResponse:
        return await _render_staff_home(request, session, viewer, settings, FailedForm("topic", errors, entered, status_code))

    try:
        body = parse(TopicCreate, entered)
    except FormInvalid as invalid:
        return await again(beside(invalid.errors, ("label", "description")))
    topic, error = await attempt(session, lambda: curation.create_topic(session, request.app.state.clock.now(), participant, body))
    if error is not None:
        said = refusal(error, reader_zone(viewer.zone_name), "/clearinghouse/staff").html()
        return await again({"label" if error.code == "slug_taken" else "_": said}, error.status_code)
    assert topic is not None  # `attempt` returns the result when there is no error
    return redirect("/clearinghouse/staff#topics", viewer, settings, flash=("ok", f"Topic “{topic.label}” added."))


@router.post("/clearinghouse/staff/collections")
async def staff_collection_create(
    request: Request, session: WritingSessionDep, _csrf: Csrf, viewer: ViewerDep, participant: PageParticipant, settings: SettingsDep
) -> Response:
    _staff(viewer)
    single, _ = await _form(request)
    entered = {"title": single.get("title", ""), "description": single.get("description", "").replace("\r\n", "\n")}

    async def again(errors: dict[str, str | Markup], status_code: int = 422) -> HTMLResponse:
        return await _render_staff_home(request, session, viewer, settings, FailedForm("collection", errors, entered, status_code))

    try:
        body = parse(CollectionCreate, entered)
    except FormInvalid as invalid:
        return await again(beside(invalid.errors, ("title", "description")))
    made, error = await attempt(
        session, lambda: curation.create_collection(session, request.app.state.clock.now(), participant, body, base_url=settings.base_url)
    )
    if error is not None:
        said = refusal(error, reader_zone(viewer.zone_name), "/clearinghouse/staff").html()
        return await again({"title" if error.code == "slug_taken" else "_": said}, error.status_code)
    assert made is not None  # `attempt` returns the result when there is no error
    request.app.state.clearinghouse.cache.invalidate()
    return redirect(
        f"/clearinghouse/staff/collections/{made.slug}", viewer, settings, flash=("ok", "Collection created: now choose its entries.")
    )


@router.get("/clearinghouse/staff/collections/{slug}")
async def staff_collection(
    request: Request, slug: str, session: SessionDep, viewer: ViewerDep, participant: PageParticipant, settings: SettingsDep
) -> HTMLResponse:
    _staff(viewer)
    return await _render_staff_collection(request, session, viewer, settings, slug)


async def _render_staff_collection(request: Request, session, viewer: Viewer, settings, slug: str, failed: FailedForm | None = None):
    """A collection's page; with `failed`, its form shows its messages and what was entered and ticked."""
    collection = await curation.collection_view(session, slug, settings.base_url)
    positions = {ref.id: index for index, ref in enumerate(collection.entries, start=1)}
    rows = (await session.scalars(select(FeedEntry).order_by(FeedEntry.seq.desc()).limit(feeds.MAX_LIMIT))).all()
    context = {"collection": collection, "rows": rows, "positions": positions, "failed": failed}
    status_code = failed.status_code if failed else 200
    return render(
        request, viewer, "clearinghouse/staff_collection.html", context, status_code=status_code, title=f"Curate {collection.title}"
    )


@router.post("/clearinghouse/staff/collections/{slug}")
async def staff_collection_save(
    request: Request,
    slug: str,
    session: WritingSessionDep,
    _csrf: Csrf,
    viewer: ViewerDep,
    participant: PageParticipant,
    settings: SettingsDep,
) -> Response:
    _staff(viewer)
    single, multi = await _form(request)
    back = f"/clearinghouse/staff/collections/{slug}"
    await curation.collection_view(session, slug, settings.base_url)  # a collection that does not exist has no page
    entered = {key: value.replace("\r\n", "\n") for key, value in single.items()}

    async def again(errors: dict[str, str | Markup], status_code: int = 422):
        failed = FailedForm("collection", errors, entered, status_code, {"entries": multi.get("entries", [])})
        return await _render_staff_collection(request, session, viewer, settings, slug, failed)

    # Ticked entries, in the order of the positions typed beside them (unnumbered ones last, newest first).
    chosen = multi.get("entries", [])

    def position(entry_id: str) -> tuple[int, int]:
        typed = single.get(f"position-{entry_id}", "")
        return (int(typed), chosen.index(entry_id)) if typed.isdigit() else (10**6, chosen.index(entry_id))

    try:
        body = parse(
            CollectionUpdate,
            {
                "title": single.get("title", ""),
                "description": single.get("description", "").replace("\r\n", "\n"),
                "entries": sorted(chosen, key=position),
            },
        )
    except FormInvalid as invalid:
        return await again(beside(invalid.errors, ("title", "description", "entries")))
    _, error = await attempt(
        session,
        lambda: curation.update_collection(session, request.app.state.clock.now(), participant, slug, body, base_url=settings.base_url),
    )
    if error is not None:
        said = refusal(error, reader_zone(viewer.zone_name), back).html()
        return await again({"entries" if error.code == "entry_not_found" else "_": said}, error.status_code)
    request.app.state.clearinghouse.cache.invalidate()
    request.app.state.clearinghouse.nudge()
    return redirect(back, viewer, settings, flash=("ok", "Collection saved; the change is in the public audit log."))


# --- Publication status ----------------------------------------------------------------------

PUBLICATION_PAGE = "/clearinghouse/staff/publication"


@router.get(PUBLICATION_PAGE)
async def staff_publication(
    request: Request, session: SessionDep, viewer: ViewerDep, participant: PageParticipant, settings: SettingsDep
) -> HTMLResponse:
    _staff(viewer)
    return await _render_publication(request, session, viewer, settings)


async def _render_publication(request: Request, session, viewer: Viewer, settings, failed: FailedForm | None = None):
    """The publication page; with `failed`, why a retry was refused, beside its row."""
    context = {"status": await publication.status(session, attempts=settings.publication_attempts), "failed": failed}
    status_code = failed.status_code if failed else 200
    return render(request, viewer, "clearinghouse/staff_publication.html", context, status_code=status_code, title="Publication")


@router.post(PUBLICATION_PAGE + "/{event_id}/retry")
async def staff_publication_retry(
    request: Request,
    event_id: int,
    session: WritingSessionDep,
    _csrf: Csrf,
    viewer: ViewerDep,
    participant: PageParticipant,
    settings: SettingsDep,
) -> Response:
    _staff(viewer)
    _, error = await attempt(session, lambda: publication.retry(session, request.app.state.clock.now(), participant, event_id))
    if error is not None:
        said = refusal(error, reader_zone(viewer.zone_name), PUBLICATION_PAGE).html()
        return await _render_publication(
            request, session, viewer, settings, FailedForm(f"retry-{event_id}", {"_": said}, {}, error.status_code)
        )
    request.app.state.clearinghouse.nudge()
    return redirect(
        PUBLICATION_PAGE,
        viewer,
        settings,
        flash=("ok", "Queued: the worker publishes it now, or marks it failed again with the new error."),
    )
