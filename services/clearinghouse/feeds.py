"""The feeds: which entries a feed URL selects, its canonical address, and its Atom, JSON Feed and REST documents.

One `FeedQuery` describes a feed whether it arrives as a request or as a WebSub `hub.topic`,
so the `rel="self"` a subscriber reads and the topic it subscribes to are the same string.
"""

from __future__ import annotations

import enum
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from networks.models import Network
from networks.taxonomy import Taxonomy
from services.audit import tree_heads
from services.clearinghouse import entries as published
from services.clearinghouse.entries import EntryView
from services.clearinghouse.errors import CollectionNotFound, FilterInvalid, HubRequestInvalid, TopicNotFound
from services.clearinghouse.models import Collection, CollectionEntry, EntryTopic, FeedEntry, FeedEntryRegion, Topic
from services.kit.pagination import decode_cursor, encode_cursor
from services.kit.xmltext import xml_text
from services.search import index as search_index
from services.search import service as search
from services.search.models import Kind
from services.search.text import MAX_QUERY_CHARS

_Row = TypeVar("_Row", bound=tuple[object, ...])

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
FEED_AUTHOR = "CoGov clearing house"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
# The namespace of CoGov's Atom extension elements.
NAMESPACE = "urn:cogov:atom:1"
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# Region codes come from the taxonomy (`western_europe_others`).
_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_PATHS = [
    (re.compile(r"^/feeds/norms\.(atom|json)$"), None),
    (re.compile(r"^/feeds/collections/([a-z0-9]+(?:-[a-z0-9]+)*)\.(atom|json)$"), "collection"),
    (re.compile(r"^/api/v1/clearinghouse/entries$"), "rest"),
    (re.compile(r"^/feeds/consultations\.(atom|json)$"), "consultations"),
    (re.compile(r"^/feeds/networks/([a-z0-9]+(?:-[a-z0-9]+)*)/activity\.(atom|json)$"), "activity"),
]
FILTERS = ("network", "q", "region", "topic")


class FeedFormat(enum.StrEnum):
    atom = "atom"
    json = "json"
    rest = "rest"


CONTENT_TYPES = {
    FeedFormat.atom: "application/atom+xml; charset=utf-8",
    FeedFormat.json: "application/feed+json; charset=utf-8",
    FeedFormat.rest: "application/json",
}


@dataclass(frozen=True)
class FeedQuery:
    """A feed: its format, an optional collection, filters, size, and (REST only) `since` and a cursor."""

    format: FeedFormat
    collection: str | None = None
    topic: str | None = None
    network: str | None = None
    region: str | None = None
    limit: int = DEFAULT_LIMIT
    since: datetime | None = None
    cursor: str | None = None
    # Words the entries must contain (a saved search), as services/search reads them.
    q: str | None = None
    # Only entries no later adoption of their norm replaced.
    in_force: bool = False
    # The feed of open public consultations (filtered by network only) rather than of adopted norms.
    consultations: bool = False
    # A network's public activity (versions, ballots, consultations, adoptions): `network` names it.
    activity: bool = False

    @property
    def path(self) -> str:
        if self.activity:
            return f"/feeds/networks/{self.network}/activity.{self.format.value}"
        if self.consultations:
            return f"/feeds/consultations.{self.format.value}"
        if self.format is FeedFormat.rest:
            return "/api/v1/clearinghouse/entries"
        if self.collection:
            return f"/feeds/collections/{self.collection}.{self.format.value}"
        return f"/feeds/norms.{self.format.value}"

    def params(self) -> list[tuple[str, str]]:
        if self.activity:
            return []
        pairs = [(name, getattr(self, name)) for name in FILTERS if getattr(self, name)]
        if self.in_force:
            pairs.append(("in_force", "true"))
        if self.limit != DEFAULT_LIMIT:
            pairs.append(("limit", str(self.limit)))
        if self.since is not None:
            pairs.append(("since", self.since.isoformat()))
        if self.cursor:
            pairs.append(("cursor", self.cursor))
        return sorted(pairs)

    def url(self, base_url: str) -> str:
        """The canonical address: what `rel="self"` says and what a WebSub subscription names."""
        query = urlencode(self.params())
        return f"{base_url}{self.path}" + (f"?{query}" if query else "")

    @property
    def topic_url_form(self) -> FeedQuery:
        """The feed as a WebSub topic: the first page, whatever page was asked for."""
        return replace(self, cursor=None, since=None)

    def describe(self) -> str:
        parts = [f"{name} {getattr(self, name)}" for name in FILTERS if getattr(self, name)]
        if self.in_force:
            parts.append("in force")
        return ", ".join(parts)


def make_query(
    format: FeedFormat,
    *,
    collection: str | None = None,
    topic: str | None = None,
    network: str | None = None,
    region: str | None = None,
    limit: int | None = None,
    since: datetime | None = None,
    cursor: str | None = None,
    q: str | None = None,
    in_force: bool = False,
    consultations: bool = False,
    activity: bool = False,
) -> FeedQuery:
    """A query from request parameters, shape-checked (FilterInvalid); existence is `check`'s job."""
    if consultations and (topic or region or collection or limit or cursor or since):
        raise FilterInvalid("the consultations feed takes one filter, network")
    if activity and (not network or topic or region or collection or limit or cursor or since or q or in_force):
        raise FilterInvalid("a network's activity feed takes no filter")
    if q is not None and len(q) > MAX_QUERY_CHARS:
        raise FilterInvalid(f"q has {len(q)} characters; use at most {MAX_QUERY_CHARS}")
    for name, value in (("topic", topic), ("network", network), ("collection", collection)):
        if value is not None and not _SLUG.fullmatch(value):
            raise FilterInvalid(f"{name} must be a slug (lowercase letters, digits and hyphens), not {value[:80]!r}")
    if region is not None and not _CODE.fullmatch(region):
        raise FilterInvalid(f"region must be a region code such as africa, not {region[:80]!r}")
    if limit is not None and not 1 <= limit <= MAX_LIMIT:
        raise FilterInvalid(f"limit must be between 1 and {MAX_LIMIT}")
    if since is not None and since.tzinfo is None:
        raise FilterInvalid("since must carry a time zone, e.g. 2026-01-31T12:00:00Z")
    return FeedQuery(
        format=format,
        collection=collection,
        topic=topic or None,
        network=network or None,
        region=region or None,
        limit=limit or DEFAULT_LIMIT,
        since=since,
        cursor=cursor or None,
        q=q.strip() or None if q is not None else None,
        in_force=in_force,
        consultations=consultations,
        activity=activity,
    )


def parse_topic(url: str, base_url: str) -> FeedQuery:
    """The feed a WebSub `hub.topic` names, or HubRequestInvalid when it is not a feed of this clearing house."""
    examples = (
        f"{base_url}/feeds/norms.atom, {base_url}/feeds/norms.json, {base_url}/feeds/collections/SLUG.atom, "
        f"{base_url}/feeds/consultations.atom, {base_url}/feeds/networks/SLUG/activity.atom"
    )
    not_ours = HubRequestInvalid(f"hub.topic must be a feed of this clearing house, such as {examples}")
    try:
        split, base = urlsplit(url), urlsplit(base_url)
    except ValueError as exc:
        raise not_ours from exc
    if (split.scheme.lower(), split.netloc.lower()) != (base.scheme.lower(), base.netloc.lower()) or split.fragment:
        raise not_ours
    path = split.path
    prefix = base.path.rstrip("/")
    if prefix:
        if not path.startswith(prefix + "/"):
            raise not_ours
        path = path[len(prefix) :]
    found = next(((match, kind) for pattern, kind in _PATHS if (match := pattern.fullmatch(path))), None)
    if found is None:
        raise not_ours
    match, kind = found
    if kind == "activity":
        if split.query:
            raise HubRequestInvalid("hub.topic: a network's activity feed takes no parameter")
        return make_query(FeedFormat(match.group(2)), network=match.group(1), activity=True)
    if kind in (None, "consultations"):
        format, collection = FeedFormat(match.group(1)), None
    elif kind == "collection":
        format, collection = FeedFormat(match.group(2)), match.group(1)
    else:
        format, collection = FeedFormat.rest, None
    values: dict[str, str] = {}
    for name, value in parse_qsl(split.query, keep_blank_values=True):
        if name not in (*FILTERS, "limit", "in_force"):
            raise HubRequestInvalid(
                f"hub.topic has an unknown parameter {name[:40]!r}; feeds take {', '.join(FILTERS)}, in_force and limit"
            )
        if name in values:
            raise HubRequestInvalid(f"hub.topic gives {name} twice")
        values[name] = value
    limit = values.pop("limit", None)
    in_force = values.pop("in_force", None)
    if in_force not in (None, "true", "false"):
        raise HubRequestInvalid("hub.topic in_force must be true or false")
    if limit is not None and not (limit.isdigit() and 1 <= int(limit) <= MAX_LIMIT):
        raise HubRequestInvalid(f"hub.topic limit must be between 1 and {MAX_LIMIT}")
    try:
        return make_query(
            format,
            collection=collection,
            limit=int(limit) if limit else None,
            network=values.get("network"),
            region=values.get("region"),
            topic=values.get("topic"),
            q=values.get("q"),
            in_force=in_force == "true",
            consultations=kind == "consultations",
        )
    except FilterInvalid as exc:
        raise HubRequestInvalid(f"hub.topic: {exc.detail}") from exc


async def check(session: AsyncSession, taxonomy: Taxonomy, query: FeedQuery) -> None:
    """Refuse a feed whose collection, topic, network or region does not exist."""
    if query.collection and await session.scalar(select(Collection.id).where(Collection.slug == query.collection)) is None:
        raise CollectionNotFound(f"No collection {query.collection!r}")
    if query.topic and await session.scalar(select(Topic.id).where(Topic.slug == query.topic)) is None:
        raise TopicNotFound(f"No topic {query.topic!r}; GET /api/v1/clearinghouse/topics lists them")
    if query.network and await session.scalar(select(Network.id).where(Network.slug == query.network)) is None:
        raise FilterInvalid(f"No network {query.network!r}")
    if query.region and query.region not in taxonomy.regions:
        raise FilterInvalid(f"region must be one of {', '.join(taxonomy.regions)}")


def _filtered(statement: Select[_Row], query: FeedQuery, dialect: str) -> Select[_Row]:
    if query.q:
        statement = statement.where(FeedEntry.id.in_(search.matching(dialect, query.q, Kind.entry)))
    if query.network:
        statement = statement.where(FeedEntry.network_slug == query.network)
    if query.topic:
        statement = statement.where(
            FeedEntry.id.in_(select(EntryTopic.entry_id).join(Topic, Topic.id == EntryTopic.topic_id).where(Topic.slug == query.topic))
        )
    if query.region:
        statement = statement.where(FeedEntry.id.in_(select(FeedEntryRegion.entry_id).where(FeedEntryRegion.region == query.region)))
    if query.since is not None:
        statement = statement.where(FeedEntry.published_at >= query.since)
    if query.in_force:
        statement = statement.where(published.is_in_force())
    return statement


@dataclass(frozen=True)
class FeedPage:
    """One page of a feed (RFC 5005 paged feeds): its entries, and the pages after and before it, if any."""

    entries: list[FeedEntry]
    next: FeedQuery | None
    previous: FeedQuery | None


def _ordered(query: FeedQuery):
    """The feed's entries with their paging key: newest first by `seq`, a collection in its curated order."""
    if query.collection:
        return (
            select(FeedEntry, CollectionEntry.position)
            .join(CollectionEntry, CollectionEntry.entry_id == FeedEntry.id)
            .join(Collection, Collection.id == CollectionEntry.collection_id)
            .where(Collection.slug == query.collection)
        )
    return select(FeedEntry, FeedEntry.seq)


async def select_page(session: AsyncSession, query: FeedQuery) -> FeedPage:
    """The page of the feed `query` names, with the queries of the next and the previous pages."""
    statement = _ordered(query)
    if query.collection:
        statement = statement.order_by(CollectionEntry.position)
        if query.cursor:
            (after,) = decode_cursor(query.cursor, int)
            statement = statement.where(CollectionEntry.position > after)
    else:
        statement = statement.order_by(FeedEntry.seq.desc())
        if query.cursor:
            (before,) = decode_cursor(query.cursor, int)
            statement = statement.where(FeedEntry.seq < before)
    if query.q:
        await search_index.catch_up(session)  # an entry published in this unit of work is matched too
    rows = (await session.execute(_filtered(statement, query, session.bind.dialect.name).limit(query.limit + 1))).all()
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    following = replace(query, cursor=encode_cursor(rows[-1][1])) if more and rows else None
    return FeedPage([row[0] for row in rows], following, await _previous(session, query, rows[0][1] if rows else None))


async def _previous(session: AsyncSession, query: FeedQuery, first_key: int | None) -> FeedQuery | None:
    """The page before one that starts at `first_key`: the `limit` entries just before it in feed order."""
    if not query.cursor:
        return None  # the first page
    if first_key is None:
        return replace(query, cursor=None)
    statement = _ordered(query)
    if query.collection:
        statement = statement.where(CollectionEntry.position < first_key).order_by(CollectionEntry.position.desc())
    else:
        statement = statement.where(FeedEntry.seq > first_key).order_by(FeedEntry.seq)
    keys = [row[1] for row in (await session.execute(_filtered(statement, query, session.bind.dialect.name).limit(query.limit + 1))).all()]
    # The page before ends just past the (limit + 1)th entry before this one; with fewer, it is the first page.
    return replace(query, cursor=encode_cursor(keys[query.limit]) if len(keys) > query.limit else None)


async def select_entries(session: AsyncSession, query: FeedQuery) -> tuple[list[FeedEntry], str | None]:
    """The entries of the feed in feed order (newest first; a collection in its curated order) and the next cursor."""
    page = await select_page(session, query)
    return page.entries, page.next.cursor if page.next else None


async def entries_containing(session: AsyncSession, query: FeedQuery, entry_ids: Sequence[uuid.UUID]) -> bool:
    """Whether the feed's first page holds any of these entries (the consultations feed holds none)."""
    if query.consultations or query.activity:
        return False
    found, _ = await select_entries(session, query.topic_url_form)
    wanted = set(entry_ids)
    return any(entry.id in wanted for entry in found)


# --- Documents ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedMeta:
    title: str
    description: str
    self_url: str
    home_url: str
    hub_url: str
    updated: datetime
    # The newest signed head of the audit log (`tree_heads.out`), carried at feed level.
    tree_head: tree_heads.PublishedHead | None = None
    # RFC 5005 paging: this page's own address (the feed's on its first page), the first page, and its neighbours.
    page_url: str | None = None
    first_url: str | None = None
    next_url: str | None = None
    previous_url: str | None = None


async def meta(session: AsyncSession, query: FeedQuery, base_url: str, updated: datetime, page: FeedPage | None = None) -> FeedMeta:
    if query.collection:
        collection = (await session.scalars(select(Collection).where(Collection.slug == query.collection))).one()
        title, description = f"{collection.title} · CoGov clearing house", collection.description or collection.title
        home = f"{base_url}/clearinghouse/collections/{collection.slug}"
    else:
        title = "Adopted norms · CoGov clearing house"
        description = "Norms adopted by CoGov networks under a multistakeholder sign-off rule, with signed adoption records."
        home = f"{base_url}/clearinghouse"
    if query.describe():
        title += f" ({query.describe()})"
    head = await tree_heads.latest(session)
    paged = page is not None and (page.next is not None or page.previous is not None)
    return FeedMeta(
        title,
        description,
        query.topic_url_form.url(base_url),
        home,
        base_url + published.HUB_PATH,
        updated,
        tree_heads.out(base_url, head) if head else None,
        page_url=query.url(base_url),
        first_url=query.topic_url_form.url(base_url) if paged else None,
        next_url=page.next.url(base_url) if page and page.next else None,
        previous_url=page.previous.url(base_url) if page and page.previous else None,
    )


class _EntryLinks(BaseExtension):
    """Feed half of the extension that writes each entry's links (feedgen 1.0 drops `rel` on entry links),
    and the feed's `cogov:treeHead`."""

    def __init__(self) -> None:
        self.tree_head: tree_heads.PublishedHead | None = None

    def extend_ns(self) -> dict[str, str]:
        return {"cogov": NAMESPACE}

    def extend_atom(self, feed: etree._Element) -> etree._Element:
        if self.tree_head:
            head, signature = self.tree_head, self.tree_head["signature"]
            statement = head["tree_head"]
            # The signed statement's members as attributes (numbers as decimal text), the signature as content.
            attributes = {"href": head["url"], "number": str(head["number"]), "keys": head["keys_url"]}
            element = etree.SubElement(
                feed, f"{{{NAMESPACE}}}treeHead", attrib=attributes | {name: str(value) for name, value in statement.items()}
            )
            signed = etree.SubElement(element, f"{{{NAMESPACE}}}signature", alg=signature["alg"], kid=signature["kid"])
            signed.text = signature["value"]
        return feed


XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


class _EntryLinksEntry(BaseEntryExtension):
    def __init__(self) -> None:
        self.links: list[dict[str, str]] = []
        self.language: str | None = None
        self.translations: list[tuple[dict[str, str], str]] = []

    def extend_atom(self, entry: etree._Element) -> etree._Element:
        for link in self.links:
            etree.SubElement(entry, "link", attrib={name: xml_text(value) for name, value in link.items()})
        content = entry.find("content")  # feedgen writes Atom's elements unqualified, under the feed's default namespace
        if self.language and content is not None:
            # The entry's own text is authentic in the norm's language; each translation says its own.
            content.set(XML_LANG, self.language)
        for attributes, text in self.translations:
            element = etree.SubElement(entry, f"{{{NAMESPACE}}}translation", attrib={name: xml_text(v) for name, v in attributes.items()})
            element.text = xml_text(text)
        return entry


def atom(meta_: FeedMeta, views: Sequence[EntryView], base_url: str) -> bytes:
    """RFC 4287: feed id, title, updated, author, self and hub links; each entry's id is its URN, with full text.

    Every string goes through `xml_text`: a stored character XML cannot carry shows as U+FFFD.
    """
    x = xml_text
    feed = FeedGenerator()
    feed.register_extension("cogov", _EntryLinks, _EntryLinksEntry, atom=True, rss=False)
    feed.id(x(meta_.self_url))
    feed.title(x(meta_.title))
    feed.subtitle(x(meta_.description))
    feed.updated(meta_.updated)
    feed.author(name=FEED_AUTHOR, uri=x(base_url))
    feed.link(href=x(meta_.page_url or meta_.self_url), rel="self", type=CONTENT_TYPES[FeedFormat.atom].split(";")[0])
    feed.link(href=x(meta_.hub_url), rel="hub")
    for rel, href in (("first", meta_.first_url), ("previous", meta_.previous_url), ("next", meta_.next_url)):
        if href:
            feed.link(href=x(href), rel=rel, type=CONTENT_TYPES[FeedFormat.atom].split(";")[0])
    feed.link(href=x(meta_.home_url), rel="alternate", type="text/html")
    feed.language("en")
    feed.generator("CoGov", uri=x(base_url))
    feed.cogov.tree_head = meta_.tree_head
    for view in views:
        entry = view.entry
        item = feed.add_entry(order="append")
        item.id(x(entry.urn))
        item.title(x(entry.title) or x(entry.urn))  # Atom needs a title; an empty one shows as the URN
        item.published(entry.adopted_at)
        item.updated(view.updated)
        item.author(name=x(view.network_name), uri=x(published.network_url(base_url, entry.network_slug)))
        item.content(x(entry.text), type="text")
        if view.summary:
            item.summary(x(view.summary))
        for topic in view.topics:
            item.category(term=x(topic.slug), label=x(topic.label), scheme=x(f"{base_url}/clearinghouse/topics"))
        successor = view.superseded_by
        if successor is not None:
            item.category(term="superseded", label=f"Superseded by v{successor.version_number}", scheme=x(f"{base_url}/clearinghouse"))
        successor_links = []
        if successor is not None:
            # RFC 5829: the entry of the version that replaced this one.
            href = published.permalink(base_url, successor)
            successor_links.append({"rel": "successor-version", "type": "text/html", "href": href, "title": x(successor.urn)})
        item.cogov.language = view.language
        label = published.translation_label(view.language)
        item.cogov.translations = [
            (
                {
                    XML_LANG: translation.language,
                    "title": translation.title,
                    "label": label,
                    "href": f"{published.entry_url(base_url, entry.id)}?lang={translation.language}",
                    "reviewed": _rfc3339(translation.reviewed_at),
                },
                translation.text,
            )
            for translation in view.translations
        ]
        translated_links = [
            {
                "rel": "alternate",
                "type": "text/html",
                "hreflang": translation.language,
                "title": f"{translation.title} ({label})",
                "href": published.translated_permalink(base_url, entry, translation.language),
            }
            for translation in view.translations
        ]
        item.cogov.links = [
            *successor_links,
            {"rel": "alternate", "type": "text/html", "hreflang": view.language, "href": published.permalink(base_url, entry)},
            *translated_links,
            {
                "rel": "related",
                "type": "application/json",
                "title": "Signed adoption record",
                "href": published.entry_url(base_url, entry.id),
            },
        ]
    return feed.atom_str(pretty=False)


def _rfc3339(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _successor(base_url: str, successor: FeedEntry | None) -> dict[str, str] | None:
    return {"urn": successor.urn, "url": published.permalink(base_url, successor)} if successor else None


def json_feed(meta_: FeedMeta, views: Sequence[EntryView], base_url: str) -> bytes:
    """JSON Feed 1.1 with a WebSub hub; each item carries its signed record under `_cogov`."""
    items = []
    for view in views:
        entry = view.entry
        item = {
            "id": entry.urn,
            "url": published.permalink(base_url, entry),
            "title": entry.title,
            "content_text": entry.text,
            "language": view.language,
            "date_published": _rfc3339(entry.adopted_at),
            "date_modified": _rfc3339(view.updated),
            "authors": [{"name": view.network_name, "url": published.network_url(base_url, entry.network_slug)}],
            "_cogov": {
                "entry_url": published.entry_url(base_url, entry.id),
                "network": entry.network_slug,
                "version": entry.version_number,
                "featured": view.featured,
                "record": entry.record,
                "signature": {"alg": "EdDSA", "kid": entry.kid, "value": entry.signature},
                "keys_url": base_url + published.KEYS_PATH,
                "in_force": view.superseded_by is None,
                "superseded_by": _successor(base_url, view.superseded_by),
                "authentic_language": view.language,
                # Reviewed translations, each labelled: never the authentic text, which `content_text` is.
                "translations": [
                    {
                        "language": translation.language,
                        "title": translation.title,
                        "content_text": translation.text,
                        "label": published.translation_label(view.language),
                        "url": published.translated_permalink(base_url, entry, translation.language),
                        "entry_url": f"{published.entry_url(base_url, entry.id)}?lang={translation.language}",
                        "date_reviewed": _rfc3339(translation.reviewed_at),
                    }
                    for translation in view.translations
                ],
            },
        }
        if view.summary:
            item["summary"] = view.summary
        if view.topics:
            item["tags"] = [topic.slug for topic in view.topics]
        items.append(item)
    document: dict[str, object] = {
        "version": JSON_FEED_VERSION,
        "title": meta_.title,
        "home_page_url": meta_.home_url,
        "feed_url": meta_.self_url,
        "description": meta_.description,
        "authors": [{"name": FEED_AUTHOR, "url": base_url}],
        "language": "en",
        "hubs": [{"type": "WebSub", "url": meta_.hub_url}],
        "items": items,
    }
    if meta_.next_url:
        document["next_url"] = meta_.next_url
    extension: dict = {}
    if meta_.tree_head:
        extension["tree_head"] = meta_.tree_head
    if meta_.previous_url:
        extension["previous_url"] = meta_.previous_url  # JSON Feed has `next_url` only
    if extension:
        document["_cogov"] = extension
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


async def render(session: AsyncSession, query: FeedQuery, base_url: str, updated: datetime) -> bytes:
    """The feed's document as it stands in `session` (which may hold uncommitted publications)."""
    page = await select_page(session, query)
    if query.format is FeedFormat.rest:
        views = await published.views(session, page.entries)
        document = {
            "items": [json.loads(published.out(base_url, view).model_dump_json()) for view in views],
            "next_cursor": page.next.cursor if page.next else None,
        }
        return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    views = await published.views(session, page.entries, details=False)
    meta_ = await meta(session, query, base_url, updated, page)
    return atom(meta_, views, base_url) if query.format is FeedFormat.atom else json_feed(meta_, views, base_url)
