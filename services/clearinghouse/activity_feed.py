"""A network's public activity, for people without an account: versions tagged, ballots opened and closed,
consultations opened and norms adopted, newest first, as Atom (RFC 4287) and JSON Feed 1.1 in the shape of the
other feeds, naming the WebSub hub.

The domain writes a `network.activity` outbox event in the transaction of each such act (written by
`services.notifications.events` beside the notifications); the worker (`announce_pending`) then pushes the
network's activity feed to its WebSub subscribers through the hub's deliveries.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from feedgen.feed import FeedGenerator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from networks.models import Network
from norms import outbox
from norms.consultation_models import Consultation
from norms.models import Adoption, Ballot, Norm, NormVersion
from services.clearinghouse import entries as published
from services.clearinghouse.feeds import CONTENT_TYPES, FEED_AUTHOR, JSON_FEED_VERSION, FeedFormat, FeedQuery
from services.kit.clock import Clock
from services.kit.db import take_write_lock, transaction
from services.kit.xmltext import xml_text
from services.notifications.events import NETWORK_ACTIVITY

LIMIT = 100
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Activity:
    id: str
    title: str
    path: str
    at: datetime
    kind: str


async def activity(session: AsyncSession, network: Network, *, limit: int = LIMIT) -> list[Activity]:
    """The network's newest public acts, newest first."""
    slug = network.slug
    found: list[Activity] = []
    in_network = Norm.network_id == network.id

    def norm_path(norm_slug: str) -> str:
        return f"/networks/{slug}/norms/{norm_slug}"

    for number, at, norm_slug, title, norm_id in await session.execute(
        select(NormVersion.number, NormVersion.created_at, Norm.slug, Norm.title, Norm.id)
        .join(Norm, Norm.id == NormVersion.norm_id)
        .where(in_network)
        .order_by(NormVersion.created_at.desc())
        .limit(limit)
    ):
        found.append(
            Activity(
                f"urn:cogov:version:{norm_id}:{number}",
                f"Version {number} of {title} tagged",
                f"{norm_path(norm_slug)}/versions/{number}",
                at,
                "version",
            )
        )
    for ballot_id, number, opened_at, closed_at, adopted, norm_slug, title in await session.execute(
        select(Ballot.id, Ballot.version_number, Ballot.opened_at, Ballot.closed_at, Ballot.adopted, Norm.slug, Norm.title)
        .join(Norm, Norm.id == Ballot.norm_id)
        .where(in_network)
        .order_by(Ballot.opened_at.desc())
        .limit(limit)
    ):
        path = f"{norm_path(norm_slug)}/ballots/{ballot_id}"
        found.append(
            Activity(f"urn:cogov:ballot:{ballot_id}:opened", f"Ballot opened on {title} v{number}", path, opened_at, "ballot_opened")
        )
        if closed_at is not None:
            outcome = "adopted" if adopted else "not adopted"
            found.append(
                Activity(
                    f"urn:cogov:ballot:{ballot_id}:closed",
                    f"Ballot on {title} v{number} closed: {outcome}",
                    path,
                    closed_at,
                    "ballot_closed",
                )
            )
    for consultation_id, number, opened_at, title in await session.execute(
        select(Consultation.id, Consultation.version_number, Consultation.opened_at, Norm.title)
        .join(Norm, Norm.id == Consultation.norm_id)
        .where(in_network)
        .order_by(Consultation.opened_at.desc())
        .limit(limit)
    ):
        found.append(
            Activity(
                f"urn:cogov:consultation:{consultation_id}",
                f"Public consultation opened on {title} v{number}",
                f"/consultations/{consultation_id}",
                opened_at,
                "consultation",
            )
        )
    for adoption_id, number, adopted_at, norm_slug, title in await session.execute(
        select(Adoption.id, Adoption.version_number, Adoption.adopted_at, Norm.slug, Norm.title)
        .join(Norm, Norm.id == Adoption.norm_id)
        .where(in_network)
        .order_by(Adoption.adopted_at.desc())
        .limit(limit)
    ):
        found.append(
            Activity(f"urn:cogov:adoption:{adoption_id}", f"{title} v{number} adopted", norm_path(norm_slug), adopted_at, "adoption")
        )
    found.sort(key=lambda item: (item.at, item.id), reverse=True)
    return found[:limit]


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def atom(network: Network, items: list[Activity], base_url: str, query: FeedQuery) -> bytes:
    x = xml_text
    feed = FeedGenerator()
    self_url = x(query.url(base_url))
    feed.id(self_url)
    feed.title(x(f"{network.name} · activity · CoGov"))
    feed.subtitle(x(f"Versions, ballots, consultations and adoptions of the network {network.name}."))
    feed.updated(max((item.at for item in items), default=EPOCH))
    feed.author(name=FEED_AUTHOR, uri=x(base_url))
    feed.link(href=self_url, rel="self", type="application/atom+xml")
    feed.link(href=x(base_url + published.HUB_PATH), rel="hub")
    feed.link(href=x(f"{base_url}/networks/{network.slug}"), rel="alternate", type="text/html")
    feed.language("en")
    for item in items:
        entry = feed.add_entry(order="append")
        entry.id(x(item.id))
        entry.title(x(item.title))
        entry.published(item.at)
        entry.updated(item.at)
        entry.link(href=x(base_url + item.path), rel="alternate", type="text/html")
        entry.category(term=item.kind)
    return feed.atom_str(pretty=False)


def json_feed(network: Network, items: list[Activity], base_url: str, query: FeedQuery) -> bytes:
    document = {
        "version": JSON_FEED_VERSION,
        "title": f"{network.name} · activity · CoGov",
        "home_page_url": f"{base_url}/networks/{network.slug}",
        "feed_url": query.url(base_url),
        "description": f"Versions, ballots, consultations and adoptions of the network {network.name}.",
        "authors": [{"name": FEED_AUTHOR, "url": base_url}],
        "language": "en",
        "hubs": [{"type": "WebSub", "url": base_url + published.HUB_PATH}],
        "items": [
            {
                "id": item.id,
                "url": base_url + item.path,
                "title": item.title,
                "content_text": item.title,
                "date_published": _rfc3339(item.at),
                "tags": [item.kind],
            }
            for item in items
        ],
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


async def render(session: AsyncSession, network: Network, query: FeedQuery, base_url: str) -> tuple[bytes, str, datetime]:
    """The document, its content type and when it last changed."""
    items = await activity(session, network)
    body = atom(network, items, base_url, query) if query.format is FeedFormat.atom else json_feed(network, items, base_url, query)
    return body, CONTENT_TYPES[query.format], max((item.at for item in items), default=EPOCH)


async def announce_pending(
    sessionmaker: async_sessionmaker[AsyncSession], clock: Clock, *, base_url: str, worker: str, lease: timedelta, limit: int = 50
) -> int:
    """Push the activity feeds that changed to their WebSub subscribers, one transaction per change; how many changes."""
    from services.clearinghouse import websub

    async with transaction(sessionmaker) as session:
        await take_write_lock(session)
        events = await outbox.claim(session, kinds=[NETWORK_ACTIVITY], worker=worker, now=clock.now(), lease=lease, limit=limit)
        claimed = [(event.id, str(event.payload.get("network_id", ""))) for event in events]
    for event_id, network_id in claimed:
        async with transaction(sessionmaker) as session:
            await take_write_lock(session)
            now = clock.now()
            try:
                network = await session.get(Network, uuid.UUID(network_id))
            except ValueError:
                network = None
            if network is not None:
                await websub.announce_activity(session, network, now=now, base_url=base_url)
            await outbox.complete(session, event_id, worker=worker, now=now)
    return len(claimed)
