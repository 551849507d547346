"""HTTP for the clearing house: feeds, entries, the key set, curation and the WebSub hub."""

from __future__ import annotations

import gzip
import hashlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Form, Header, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from networks.router import TaxonomyDep
from norms.ballot_router import ClockDep
from norms.schemas import LanguageCode
from services.accounts import twofactor
from services.api.deps import (
    CursorQuery,
    KnownQueryOnly,
    OptionalSignedIn,
    SessionDep,
    SettingsDep,
    StaffParticipant,
    WritingSessionDep,
)
from services.api.errors import validation_errors
from services.audit import tree_heads
from services.clearinghouse import activity_feed, consultation_feed, curation, entries, entry_router, feeds, pages, publication, websub
from services.clearinghouse import keys as keys_
from services.clearinghouse.entries import HUB_PATH, KEYS_PATH
from services.clearinghouse.errors import FilterInvalid, NotCurators
from services.clearinghouse.feeds import FeedFormat, FeedQuery
from services.clearinghouse.feedstate import Rendered
from services.clearinghouse.schemas import (
    CollectionCreate,
    CollectionOut,
    CollectionUpdate,
    CurationIn,
    EntryOut,
    PublicationStatus,
    SubscriptionStatus,
    TopicCreate,
    TopicOut,
    TopicUpdate,
)
from services.kit.errors import DomainError
from services.kit.pagination import Page
from services.runtime import ClearingHouse
from services.search.text import MAX_QUERY_CHARS
from services.settings import Settings


def get_clearinghouse(request: Request) -> ClearingHouse:
    return request.app.state.clearinghouse


ClearingHouseDep = Annotated[ClearingHouse, Depends(get_clearinghouse)]


class MachineRoute(APIRoute):
    """Feeds, the key set and the hub answer programs, not browsers: their errors stay JSON
    `{"detail", "code"}` (as under /api/) whatever the page layer makes of other paths' errors."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return head_of(request, await handler(request))
            except DomainError as exc:
                return JSONResponse({"detail": exc.detail, "code": exc.code, **exc.extra}, status_code=exc.status_code)
            except RequestValidationError as exc:
                found = validation_errors(exc)
                detail = "; ".join(f"{error['field']}: {error['message']}" for error in found)
                return JSONResponse({"detail": detail, "code": "validation_error", "errors": found}, status_code=422)

        return route


def head_of(request: Request, response: Response) -> Response:
    """For a HEAD request, the GET answer's status and headers (its Content-Length too) without its body."""
    if request.method != "HEAD":
        return response
    head = Response(status_code=response.status_code)
    head.raw_headers = list(response.raw_headers)  # the GET answer's, its Content-Length included
    return head


def head_route(router: APIRouter, path: str, endpoint: Callable[..., Awaitable[Response]], name: str, **options: Any) -> None:
    """Answer HEAD on `path` as its GET (RFC 9110 9.3.2), through the same endpoint and `head_of`; the OpenAPI
    document describes the GET alone."""
    router.add_api_route(path, endpoint, methods=["HEAD"], include_in_schema=False, name=f"{name}_head", **options)


feeds_router = APIRouter(tags=["clearing house: feeds"], route_class=MachineRoute)
api = APIRouter(prefix="/api/v1", tags=["clearing house"])
hub = APIRouter(tags=["clearing house: WebSub hub"], route_class=MachineRoute)

TopicFilter = Annotated[str | None, Query(max_length=80, description="Entries curated under this topic (slug)")]
NetworkFilter = Annotated[str | None, Query(max_length=80, description="Entries of this network (slug)")]
RegionFilter = Annotated[str | None, Query(max_length=80, description="Entries whose electors in this region approved")]
FeedLimit = Annotated[int | None, Query(description=f"Entries in the document (default {feeds.DEFAULT_LIMIT}, at most {feeds.MAX_LIMIT})")]
WordsFilter = Annotated[
    str | None, Query(max_length=MAX_QUERY_CHARS, description='Entries containing these words: "a phrase", -excluded, prefix*')
]
FEED_RESPONSES: dict[int | str, dict[str, Any]] = {304: {"description": "Not modified since the ETag or date given"}}


# --- Conditional GET -----------------------------------------------------------------------


def _not_modified(request: Request, etag: str, changed_at: datetime) -> bool:
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        # Weak comparison (RFC 9110 13.1.2): W/"x" matches "x".
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or etag.removeprefix("W/") in tags
    if_modified_since = request.headers.get("if-modified-since")
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return changed_at.replace(microsecond=0) <= since
    return False


async def serve(request: Request, query: FeedQuery) -> Response:
    """The feed's document, or 304, with ETag, Last-Modified and the hub and self links."""
    app_state = request.app.state
    settings: Settings = app_state.settings
    clearinghouse: ClearingHouse = app_state.clearinghouse
    state = await clearinghouse.cache.state(app_state.sessionmaker)
    base = settings.base_url
    address = query.url(base)
    tag = hashlib.sha256(f"{state.revision}|{address}".encode()).hexdigest()[:32]
    etag = f'W/"{tag}"'
    headers = {
        "ETag": etag,
        "Last-Modified": format_datetime(state.changed_at, usegmt=True),
        "Link": f'<{base}{HUB_PATH}>; rel="hub", <{query.topic_url_form.url(base)}>; rel="self"',
        "Cache-Control": "no-cache",
        "Vary": "Accept-Encoding",
    }
    if _not_modified(request, etag, state.changed_at):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    rendered = clearinghouse.cache.get(tag)
    if rendered is None:
        async with app_state.sessionmaker() as session:
            await feeds.check(session, app_state.taxonomy, query)
            body = await feeds.render(session, query, base, state.changed_at)
        rendered = Rendered(body, gzip.compress(body, 6) if len(body) > 1024 else None, feeds.CONTENT_TYPES[query.format])
        clearinghouse.cache.put(tag, rendered)
    if rendered.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
        return Response(rendered.gzipped, media_type=rendered.content_type, headers=headers | {"Content-Encoding": "gzip"})
    return Response(rendered.body, media_type=rendered.content_type, headers=headers)


# --- Feeds ---------------------------------------------------------------------------------


def _filters(request: Request) -> dict:
    # Read by hand rather than declared: feeds are the hottest path, and FastAPI's parameter
    # machinery costs more than the rest of a 304 answer (see bench/feeds.py).
    params = request.query_params
    limit = params.get("limit")
    if limit is not None and not limit.isdigit():
        raise FilterInvalid("limit must be a whole number")
    in_force = params.get("in_force", "false")
    if in_force not in ("true", "false"):
        raise FilterInvalid("in_force must be true or false")
    return {
        "topic": params.get("topic") or None,
        "network": params.get("network") or None,
        "region": params.get("region") or None,
        "limit": int(limit) if limit else None,
        "q": params.get("q") or None,
        "in_force": in_force == "true",
        "cursor": params.get("cursor") or None,
    }


FEED_PARAMETERS = [
    {
        "name": "q",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "maxLength": MAX_QUERY_CHARS},
        "description": 'Entries containing these words (a saved search): "a phrase", -excluded, prefix*',
    },
    {
        "name": "topic",
        "in": "query",
        "required": False,
        "schema": {"type": "string"},
        "description": "Entries curated under this topic (slug)",
    },
    {"name": "network", "in": "query", "required": False, "schema": {"type": "string"}, "description": "Entries of this network (slug)"},
    {
        "name": "region",
        "in": "query",
        "required": False,
        "schema": {"type": "string"},
        "description": "Entries whose electors in this region approved",
    },
    {
        "name": "in_force",
        "in": "query",
        "required": False,
        "schema": {"type": "boolean", "default": False},
        "description": "Only entries no later adoption of their norm replaced",
    },
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": feeds.MAX_LIMIT},
        "description": f"Entries in the document (default {feeds.DEFAULT_LIMIT})",
    },
    {
        "name": "cursor",
        "in": "query",
        "required": False,
        "schema": {"type": "string"},
        "description": "A page after the first: the address of a `next` or `previous` link (RFC 5005) carries it",
    },
]


def _add_feed(
    path: str,
    endpoint: Callable[..., Awaitable[Response]],
    summary: str,
    name: str,
    *,
    parameters: list[dict[str, Any]] = FEED_PARAMETERS,
) -> None:
    """A feed document's GET (and HEAD) route: the endpoint answers with the document (or 304) itself;
    `parameters` documents the query parameters it reads."""
    feeds_router.add_api_route(
        path,
        endpoint,
        methods=["GET"],
        summary=summary,
        response_class=Response,
        responses=FEED_RESPONSES,
        name=name,
        openapi_extra={"parameters": parameters},
    )
    head_route(feeds_router, path, endpoint, name, response_class=Response)


def _feed_route(format: FeedFormat, path: str, summary: str) -> None:
    async def feed(request: Request) -> Response:
        return await serve(request, feeds.make_query(format, **_filters(request)))

    _add_feed(path, feed, summary, f"feed_{format.value}")


def _collection_route(format: FeedFormat, path: str, summary: str) -> None:
    async def feed(request: Request, slug: str) -> Response:
        return await serve(request, feeds.make_query(format, collection=slug, **_filters(request)))

    _add_feed(path, feed, summary, f"collection_feed_{format.value}")


_feed_route(FeedFormat.atom, "/feeds/norms.atom", "Adopted norms as Atom (RFC 4287)")
_feed_route(FeedFormat.json, "/feeds/norms.json", "Adopted norms as JSON Feed 1.1")
_collection_route(FeedFormat.atom, "/feeds/collections/{slug}.atom", "A curated collection as Atom")
_collection_route(FeedFormat.json, "/feeds/collections/{slug}.json", "A curated collection as JSON Feed 1.1")


def _consultations_route(format: FeedFormat, summary: str) -> None:
    async def feed(request: Request, session: SessionDep) -> Response:
        settings: Settings = request.app.state.settings
        base = settings.base_url
        query = feeds.make_query(format, consultations=True, network=request.query_params.get("network") or None)
        await feeds.check(session, request.app.state.taxonomy, query)
        body, content_type, changed_at = await consultation_feed.render(session, query, base, request.app.state.clock.now())
        etag = f'W/"{hashlib.sha256(body).hexdigest()[:32]}"'
        # No Last-Modified: a consultation closing changes the feed at no stored moment, so only the ETag says so.
        headers = {
            "ETag": etag,
            "Cache-Control": "no-cache",
            "Link": f'<{base}{HUB_PATH}>; rel="hub", <{query.url(base)}>; rel="self"',
        }
        if request.headers.get("if-none-match") is not None and _not_modified(request, etag, changed_at):
            return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
        return Response(body, media_type=content_type, headers=headers)

    _add_feed(consultation_feed.PATHS[format], feed, summary, f"consultations_feed_{format.value}", parameters=[FEED_PARAMETERS[1]])


_consultations_route(FeedFormat.atom, "Open public consultations as Atom (RFC 4287)")
_consultations_route(FeedFormat.json, "Open public consultations as JSON Feed 1.1")


def _activity_route(format: FeedFormat, summary: str) -> None:
    async def feed(request: Request, session: SessionDep, slug: str) -> Response:
        from networks.service import get_network

        settings: Settings = request.app.state.settings
        base = settings.base_url
        network = await get_network(session, slug)  # 404 for a network that does not exist
        query = feeds.make_query(format, network=network.slug, activity=True)
        body, content_type, changed_at = await activity_feed.render(session, network, query, base)
        etag = f'W/"{hashlib.sha256(body).hexdigest()[:32]}"'
        headers = {
            "ETag": etag,
            "Cache-Control": "no-cache",
            "Last-Modified": format_datetime(changed_at, usegmt=True),
            "Link": f'<{base}{HUB_PATH}>; rel="hub", <{query.url(base)}>; rel="self"',
        }
        if _not_modified(request, etag, changed_at):
            return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
        return Response(body, media_type=content_type, headers=headers)

    _add_feed(
        f"/feeds/networks/{{slug}}/activity.{format.value}",
        feed,
        summary,
        f"network_activity_feed_{format.value}",
        parameters=[{"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}, "description": "The network's slug"}],
    )


_activity_route(FeedFormat.atom, "A network's activity (versions, ballots, consultations, adoptions) as Atom (RFC 4287)")
_activity_route(FeedFormat.json, "A network's activity (versions, ballots, consultations, adoptions) as JSON Feed 1.1")


@feeds_router.get(KEYS_PATH, summary="The clearing house's public keys (JWK set)")
async def keys(session: SessionDep, clearinghouse: ClearingHouseDep):
    """Every Ed25519 key that has signed entries (old keys stay listed after rotation), the current one first."""
    return JSONResponse(await keys_.key_set(session, clearinghouse.key), headers={"Cache-Control": "public, max-age=300"})


head_route(feeds_router, KEYS_PATH, keys, "keys")


@feeds_router.get(tree_heads.WELL_KNOWN_PATH, summary="The newest signed head of the audit log's Merkle tree")
async def well_known_tree_head(session: SessionDep, settings: SettingsDep):
    """The same signed tree head as GET /api/v1/audit/tree-head."""
    head = tree_heads.out(settings.base_url, await tree_heads.newest(session))
    return JSONResponse(head, headers={"Cache-Control": "no-cache"})


head_route(feeds_router, tree_heads.WELL_KNOWN_PATH, well_known_tree_head, "well_known_tree_head")


# --- Entries -------------------------------------------------------------------------------


@api.get("/clearinghouse/entries", response_model=Page[EntryOut], responses=FEED_RESPONSES, dependencies=KnownQueryOnly)
async def list_entries(
    request: Request,
    topic: TopicFilter = None,
    network: NetworkFilter = None,
    region: RegionFilter = None,
    since: Annotated[datetime | None, Query(description="Entries published at or after this time (ISO 8601 with zone)")] = None,
    cursor: CursorQuery = None,
    limit: FeedLimit = None,
    q: WordsFilter = None,
    in_force: Annotated[bool, Query(description="Only entries no later adoption of their norm replaced")] = False,
):
    """Published entries, newest first, each complete and verifiable; same filters as the feeds, with ETag and 304.
    A query parameter not listed here is refused (422), never ignored."""
    query = feeds.make_query(
        FeedFormat.rest, topic=topic, network=network, region=region, limit=limit, since=since, cursor=cursor, in_force=in_force, q=q
    )
    return head_of(request, await serve(request, query))


head_route(api, "/clearinghouse/entries", list_entries, "list_entries", dependencies=KnownQueryOnly)


@api.get("/clearinghouse/entries/{entry_id}", response_model=EntryOut)
async def get_entry(entry_id: uuid.UUID, session: SessionDep, settings: SettingsDep, lang: LanguageCode | None = None):
    """One entry: save it as ENTRY.json and check it offline with `cogov verify ENTRY.json`.

    `?lang=` answers with a reviewed translation's title and text (`authentic` false, labelled as a translation;
    404 if the entry has none in that language); the signed record stays the authentic text's."""
    entry = await entries.get_entry(session, entry_id)
    [view] = await entries.views(session, [entry])
    return entries.out(settings.base_url, view, lang)


async def _immutable(entry_id: uuid.UUID, session: WritingSessionDep, participant: StaffParticipant):
    await entries.get_entry(session, entry_id)
    raise NotCurators(
        "A published entry's text, adoption record and place in the feeds never change: "
        "staff curate it through PATCH /api/v1/clearinghouse/entries/{id}/curation"
    )


for _method in ("PUT", "PATCH", "DELETE"):
    api.add_api_route(
        "/clearinghouse/entries/{entry_id}",
        _immutable,
        methods=[_method],
        status_code=403,
        include_in_schema=False,
        name=f"entry_immutable_{_method.lower()}",
    )


@api.patch("/clearinghouse/entries/{entry_id}/curation", response_model=EntryOut)
async def curate_entry(
    session: WritingSessionDep,
    entry_id: uuid.UUID,
    body: CurationIn,
    participant: StaffParticipant,
    clock: ClockDep,
    settings: SettingsDep,
    clearinghouse: ClearingHouseDep,
):
    """Staff: set the summary, topics, featured flag, related entries and related networks (each field given replaces
    what is there). Every change is in the public audit log. Text, record and presence cannot be changed (403)."""
    changed = await curation.curate_entry(session, clock.now(), participant, entry_id, body, base_url=settings.base_url)
    if changed:
        clearinghouse.cache.invalidate()
        clearinghouse.nudge()
    [view] = await entries.views(session, [await entries.get_entry(session, entry_id)])
    return entries.out(settings.base_url, view)


# --- Publication status (staff) -------------------------------------------------------------


@api.get("/clearinghouse/publication", response_model=PublicationStatus)
async def publication_status(session: SessionDep, participant: StaffParticipant, settings: SettingsDep):
    """Staff: adoptions whose publication failed (given up after COGOV_PUBLICATION_ATTEMPTS tries, or waiting to be
    tried again) and WebSub deliveries that failed, each with its error."""
    return await publication.status(session, attempts=settings.publication_attempts)


@api.post("/clearinghouse/publication/{event_id}/retry", status_code=status.HTTP_204_NO_CONTENT)
async def retry_publication(
    session: WritingSessionDep, event_id: int, participant: StaffParticipant, clock: ClockDep, clearinghouse: ClearingHouseDep
):
    """Staff: try a failed publication again now, its tries counted afresh (once its cause is gone). Audited."""
    await publication.retry(session, clock.now(), participant, event_id)
    clearinghouse.nudge()


# --- Topics and collections ----------------------------------------------------------------


@api.get("/clearinghouse/topics", response_model=list[TopicOut])
async def list_topics(session: SessionDep):
    """The topics vocabulary."""
    return await curation.list_topics(session)


@api.post("/clearinghouse/topics", response_model=TopicOut, status_code=status.HTTP_201_CREATED)
async def create_topic(session: WritingSessionDep, body: TopicCreate, participant: StaffParticipant, clock: ClockDep):
    """Staff: add a topic (slug from the label unless given)."""
    return await curation.create_topic(session, clock.now(), participant, body)


@api.patch("/clearinghouse/topics/{slug}", response_model=TopicOut)
async def update_topic(
    session: WritingSessionDep,
    slug: str,
    body: TopicUpdate,
    participant: StaffParticipant,
    clock: ClockDep,
    clearinghouse: ClearingHouseDep,
):
    """Staff: relabel or describe a topic."""
    topic = await curation.update_topic(session, clock.now(), participant, slug, body)
    clearinghouse.cache.invalidate()
    return topic


@api.get("/clearinghouse/collections", response_model=list[CollectionOut])
async def list_collections(session: SessionDep, settings: SettingsDep):
    """Curated collections with their entries and feed addresses."""
    return await curation.list_collections(session, settings.base_url)


@api.post("/clearinghouse/collections", response_model=CollectionOut, status_code=status.HTTP_201_CREATED)
async def create_collection(
    session: WritingSessionDep,
    body: CollectionCreate,
    participant: StaffParticipant,
    clock: ClockDep,
    settings: SettingsDep,
    clearinghouse: ClearingHouseDep,
):
    """Staff: create a collection (title, description, ordered entries); it gets its own Atom and JSON feeds."""
    collection = await curation.create_collection(session, clock.now(), participant, body, base_url=settings.base_url)
    clearinghouse.cache.invalidate()
    return await curation.collection_view(session, collection.slug, settings.base_url)


@api.get("/clearinghouse/collections/{slug}", response_model=CollectionOut)
async def get_collection(slug: str, session: SessionDep, settings: SettingsDep):
    return await curation.collection_view(session, slug, settings.base_url)


@api.patch("/clearinghouse/collections/{slug}", response_model=CollectionOut)
async def update_collection(
    session: WritingSessionDep,
    slug: str,
    body: CollectionUpdate,
    participant: StaffParticipant,
    clock: ClockDep,
    settings: SettingsDep,
    clearinghouse: ClearingHouseDep,
):
    """Staff: retitle, describe or reorder a collection; `entries` replaces its list. Subscribers of its feeds are
    notified of entries added."""
    await curation.update_collection(session, clock.now(), participant, slug, body, base_url=settings.base_url)
    clearinghouse.cache.invalidate()
    clearinghouse.nudge()
    return await curation.collection_view(session, slug, settings.base_url)


# --- WebSub hub ----------------------------------------------------------------------------


@hub.post(HUB_PATH, status_code=status.HTTP_202_ACCEPTED)
async def websub_request(
    request: Request,
    clock: ClockDep,
    taxonomy: TaxonomyDep,
    settings: SettingsDep,
    clearinghouse: ClearingHouseDep,
    mode: Annotated[str | None, Form(alias="hub.mode")] = None,
    topic: Annotated[str | None, Form(alias="hub.topic")] = None,
    callback: Annotated[str | None, Form(alias="hub.callback")] = None,
    lease_seconds: Annotated[str | None, Form(alias="hub.lease_seconds")] = None,
    secret: Annotated[str | None, Form(alias="hub.secret")] = None,
):
    """W3C WebSub subscribe/unsubscribe (form-encoded `hub.*` fields). Answers 202 at once; the hub then verifies intent
    with a GET to the callback carrying `hub.challenge`, which must be echoed (signed in `X-Hub-Signature` with the
    request's `hub.secret`, so a callback can refuse a secret it did not send). Nothing changes before then. Refusals
    answer 422 with the reason, also shown by GET /api/v1/websub/subscriptions."""
    request_id = await websub.receive(
        request.app.state.sessionmaker,
        clock,
        taxonomy,
        websub.HubForm(mode=mode, topic=topic, callback=callback, lease_seconds=lease_seconds, secret=secret),
        base_url=settings.base_url,
        allow_private=settings.allow_private_callbacks,
    )
    clearinghouse.nudge()
    return {"detail": "Accepted: the hub will verify intent with a GET to the callback", "request_id": request_id}


@api.get("/websub/subscriptions", response_model=SubscriptionStatus, tags=["clearing house: WebSub hub"])
async def subscription_status(
    session: SessionDep,
    signed_in: OptionalSignedIn,
    clock: ClockDep,
    callback: Annotated[str, Query(max_length=2000)],
    topic: Annotated[str, Query(max_length=2000)],
    x_hub_signature: Annotated[str | None, Header(description="sha256=HMAC-SHA256(secret, callback), hex")] = None,
):
    """A subscription's state, its recent requests and delivery attempts: for whoever proves the verified subscription's
    secret, or staff (secrets of pending or refused requests prove nothing)."""
    staff = signed_in is not None and twofactor.privileged(signed_in.participant, signed_in.session.two_factor)
    return await websub.status(session, callback=callback, topic=topic, proof=x_hub_signature, staff=staff, now=clock.now())


def install(app: FastAPI) -> None:
    """Mount the feeds; call before other routers, since routes match in order and feeds are the most requested paths."""
    app.include_router(feeds_router)


def install_api(app: FastAPI) -> None:
    """Mount the entries, exports, follow-up, curation and WebSub hub endpoints, and the clearing house's pages."""
    app.include_router(entry_router.router)  # first: `/entries/{id}.md` is not an entry id
    app.include_router(api)
    app.include_router(hub)
    app.include_router(pages.router)
