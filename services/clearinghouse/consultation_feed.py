"""The feed of open public consultations, as Atom (RFC 4287) and JSON Feed 1.1, in the shape of the norms feeds:
filtered by `?network=`, naming the WebSub hub, and pushed to its subscribers when a consultation opens."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from feedgen.feed import FeedGenerator
from sqlalchemy.ext.asyncio import AsyncSession

from norms import consultations
from norms.consultation_schemas import ConsultationOut
from services.clearinghouse import entries as published
from services.clearinghouse.feeds import CONTENT_TYPES, FEED_AUTHOR, JSON_FEED_VERSION, FeedFormat, FeedQuery
from services.kit.xmltext import xml_text

PATHS = {FeedFormat.atom: "/feeds/consultations.atom", FeedFormat.json: "/feeds/consultations.json"}
TITLE = "Open consultations · CoGov clearing house"
DESCRIPTION = "Versions of norms that CoGov networks have opened for public comment."
LIMIT = 200
# An empty feed still needs an `updated`; a fixed one keeps its ETag stable.
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def _id(consultation: ConsultationOut) -> str:
    return f"urn:cogov:consultation:{consultation.id}"


def _title(consultation: ConsultationOut) -> str:
    return f"Consultation on {consultation.norm_title} (v{consultation.version})"


def _content(consultation: ConsultationOut) -> str:
    return f"{consultation.question}\n\nComments are open until {consultation.closes_at.isoformat()}."


def _rfc3339(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _title_of(query: FeedQuery | None) -> str:
    return TITLE + (f" (network {query.network})" if query and query.network else "")


def atom(found: list[ConsultationOut], base_url: str, query: FeedQuery | None = None) -> bytes:
    """Every string goes through `xml_text`: a stored character XML cannot carry shows as U+FFFD."""
    x = xml_text
    feed = FeedGenerator()
    self_url = x(query.url(base_url) if query else base_url + PATHS[FeedFormat.atom])
    feed.id(self_url)
    feed.title(x(_title_of(query)))
    feed.subtitle(DESCRIPTION)
    feed.updated(max((c.opened_at for c in found), default=EPOCH))
    feed.author(name=FEED_AUTHOR, uri=x(base_url))
    feed.link(href=self_url, rel="self", type="application/atom+xml")
    feed.link(href=x(base_url + published.HUB_PATH), rel="hub")
    feed.link(href=x(f"{base_url}/clearinghouse"), rel="alternate", type="text/html")
    feed.language("en")
    for consultation in found:
        item = feed.add_entry(order="append")
        item.id(x(_id(consultation)))
        item.title(x(_title(consultation)))
        item.published(consultation.opened_at)
        item.updated(consultation.opened_at)
        item.author(name=x(consultation.network), uri=x(f"{base_url}/networks/{consultation.network}"))
        item.link(href=x(consultation.url), rel="alternate", type="text/html")
        item.content(x(_content(consultation)), type="text")
    return feed.atom_str(pretty=False)


def json_feed(found: list[ConsultationOut], base_url: str, query: FeedQuery | None = None) -> bytes:
    document = {
        "version": JSON_FEED_VERSION,
        "title": _title_of(query),
        "home_page_url": f"{base_url}/clearinghouse",
        "feed_url": query.url(base_url) if query else base_url + PATHS[FeedFormat.json],
        "description": DESCRIPTION,
        "authors": [{"name": FEED_AUTHOR, "url": base_url}],
        "language": "en",
        "hubs": [{"type": "WebSub", "url": base_url + published.HUB_PATH}],
        "items": [
            {
                "id": _id(c),
                "url": c.url,
                "title": _title(c),
                "content_text": _content(c),
                "date_published": _rfc3339(c.opened_at),
                "authors": [{"name": c.network, "url": f"{base_url}/networks/{c.network}"}],
                "_cogov": {
                    "consultation_url": f"{base_url}/api/v1/consultations/{c.id}",
                    "norm_id": str(c.norm_id),
                    "version": c.version,
                    "closes_at": _rfc3339(c.closes_at),
                    "comment_count": c.comment_count,
                },
            }
            for c in found
        ],
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


async def render(session: AsyncSession, query: FeedQuery, base_url: str, now: datetime) -> tuple[bytes, str, datetime]:
    """The document, its content type and when it last changed (the newest opening)."""
    found = await consultations.list_consultations(session, now, status="open", network=query.network, limit=LIMIT)
    views = await consultations.views(session, found, now, base_url)
    body = atom(views, base_url, query) if query.format is FeedFormat.atom else json_feed(views, base_url, query)
    return body, CONTENT_TYPES[query.format], max((c.opened_at for c in views), default=EPOCH)
