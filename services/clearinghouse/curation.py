"""Staff curation: the topics vocabulary, each entry's summary, topics, featured flag and related
entries and networks, and collections. Every act is in the public audit log.

Nothing here can reach an entry's text, its adoption record or its presence in the main feed:
those are written once, by publication (see `models.FeedEntry`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from networks.models import Network
from networks.service import slugify
from services.accounts.models import Participant
from services.audit import service as audit
from services.audit.models import AuditEvent
from services.clearinghouse import entries, feedstate, websub
from services.clearinghouse.errors import CollectionNotFound, FilterInvalid, NotCurators, SlugTaken, TopicNotFound
from services.clearinghouse.models import (
    Collection,
    CollectionEntry,
    EntryCuration,
    EntryTopic,
    FeedEntry,
    RelatedEntry,
    RelatedNetwork,
    Topic,
)
from services.clearinghouse.schemas import (
    CollectionCreate,
    CollectionOut,
    CollectionUpdate,
    CurationIn,
    TopicCreate,
    TopicOut,
    TopicUpdate,
)
from services.kit.errors import InvalidInput

# Fields of an entry that belong to the network and its ballot, never to curation.
NOT_CURATION = frozenset(
    {
        "text",
        "title",
        "record",
        "signature",
        "urn",
        "version",
        "adopted_at",
        "published_at",
        "network",
        "norm_id",
        "heads",
        "text_sha256",
        "hidden",
        "removed",
        "published",
        "status",
        "visible",
        "adoption",
    }
)


async def _audit(session: AsyncSession, actor: Participant, action: str, target_type: str, target_id: object, payload: dict) -> None:
    await audit.record(session, actor_id=actor.id, action=action, target_type=target_type, target_id=target_id, payload=payload)


# --- Topics --------------------------------------------------------------------------------


async def list_topics(session: AsyncSession) -> list[TopicOut]:
    topics = (await session.scalars(select(Topic).order_by(Topic.label, Topic.slug))).all()
    return [TopicOut(slug=t.slug, label=t.label, description=t.description) for t in topics]


async def create_topic(session: AsyncSession, now: datetime, actor: Participant, body: TopicCreate) -> TopicOut:
    slug = body.slug or slugify(body.label)
    if await session.scalar(select(Topic.id).where(Topic.slug == slug)) is not None:
        raise SlugTaken(f"A topic {slug!r} exists already")
    topic = Topic(slug=slug, label=body.label, description=body.description, created_by=actor.id, created_at=now)
    session.add(topic)
    await session.flush()
    await _audit(session, actor, "clearinghouse.topic_created", "topic", slug, {"label": topic.label, "description": topic.description})
    return TopicOut(slug=topic.slug, label=topic.label, description=topic.description)


async def update_topic(session: AsyncSession, now: datetime, actor: Participant, slug: str, body: TopicUpdate) -> TopicOut:
    topic = await session.scalar(select(Topic).where(Topic.slug == slug))
    if topic is None:
        raise TopicNotFound(f"No topic {slug!r}")
    changes = {}
    for field in ("label", "description"):
        value = getattr(body, field)
        if value is not None and value != getattr(topic, field):
            changes[field] = {"from": getattr(topic, field), "to": value}
            setattr(topic, field, value)
    if changes:
        await feedstate.bump(session, now)
        await _audit(session, actor, "clearinghouse.topic_updated", "topic", slug, changes)
    return TopicOut(slug=topic.slug, label=topic.label, description=topic.description)


# --- Entries -------------------------------------------------------------------------------


async def curate_entry(
    session: AsyncSession, now: datetime, actor: Participant, entry_id: uuid.UUID, body: CurationIn, *, base_url: str
) -> bool:
    """Apply the fields given; whether anything changed. Each kind of change is one audit event."""
    extra = set(body.model_extra or {})
    if extra & NOT_CURATION:
        raise NotCurators(
            f"Clearing-house staff curate entries; {', '.join(sorted(extra & NOT_CURATION))} belong to the network "
            "and its ballot and never change once published"
        )
    if extra:
        raise InvalidInput(f"Unknown field(s): {', '.join(sorted(extra))}")
    entry = await entries.get_entry(session, entry_id)
    curation = await session.get(EntryCuration, entry.id) or EntryCuration(entry_id=entry.id, featured=False)
    session.add(curation)
    target = {"urn": entry.urn}
    changed = False

    if "summary" in body.model_fields_set:
        summary = (body.summary or "").strip() or None
        if summary != curation.summary:
            curation.summary, curation.summary_by, curation.summary_at = (
                summary,
                (actor.id if summary else None),
                (now if summary else None),
            )
            await _audit(
                session,
                actor,
                "clearinghouse.summary_written" if summary else "clearinghouse.summary_removed",
                "feed_entry",
                entry.id,
                target | {"summary": summary},
            )
            changed = True

    if body.featured is not None and body.featured != curation.featured:
        curation.featured = body.featured
        curation.featured_by, curation.featured_at = actor.id, now
        await _audit(
            session, actor, "clearinghouse.featured" if body.featured else "clearinghouse.unfeatured", "feed_entry", entry.id, target
        )
        changed = True

    if body.topics is not None:
        wanted = list(dict.fromkeys(body.topics))
        topics = {t.slug: t for t in await session.scalars(select(Topic).where(Topic.slug.in_(wanted)))}
        unknown = [slug for slug in wanted if slug not in topics]
        if unknown:
            raise FilterInvalid(f"Unknown topic(s): {', '.join(unknown)}; create them first (POST /api/v1/clearinghouse/topics)")
        current = set(
            (
                await session.scalars(
                    select(Topic.slug).join(EntryTopic, EntryTopic.topic_id == Topic.id).where(EntryTopic.entry_id == entry.id)
                )
            ).all()
        )
        added, removed = set(wanted) - current, current - set(wanted)
        if added or removed:
            await session.execute(delete(EntryTopic).where(EntryTopic.entry_id == entry.id))
            session.add_all(EntryTopic(entry_id=entry.id, topic_id=topics[slug].id) for slug in wanted)
            await session.flush()
            await _audit(
                session,
                actor,
                "clearinghouse.topics_set",
                "feed_entry",
                entry.id,
                target | {"topics": sorted(wanted), "added": sorted(added), "removed": sorted(removed)},
            )
            changed = True
            if added:
                await feedstate.bump(session, now)
                await websub.announce(session, [entry.id], now=now, base_url=base_url, only=lambda query: query.topic in added)

    if body.related_entries is not None:
        wanted_ids = list(dict.fromkeys(body.related_entries))
        if entry.id in wanted_ids:
            raise InvalidInput("An entry is not related to itself")
        found = {row.id: row for row in await session.scalars(select(FeedEntry).where(FeedEntry.id.in_(wanted_ids)))}
        missing = [str(i) for i in wanted_ids if i not in found]
        if missing:
            raise FilterInvalid(f"No published entry with id {', '.join(missing)}")
        current_ids = set((await session.scalars(select(RelatedEntry.related_id).where(RelatedEntry.entry_id == entry.id))).all())
        if set(wanted_ids) != current_ids:
            await session.execute(delete(RelatedEntry).where(RelatedEntry.entry_id == entry.id))
            session.add_all(RelatedEntry(entry_id=entry.id, related_id=i) for i in wanted_ids)
            await _audit(
                session,
                actor,
                "clearinghouse.related_entries_set",
                "feed_entry",
                entry.id,
                target | {"related": [found[i].urn for i in wanted_ids]},
            )
            changed = True

    if body.related_networks is not None:
        wanted_slugs = list(dict.fromkeys(body.related_networks))
        networks = {n.slug: n for n in await session.scalars(select(Network).where(Network.slug.in_(wanted_slugs)))}
        missing = [slug for slug in wanted_slugs if slug not in networks]
        if missing:
            raise FilterInvalid(f"No network {', '.join(missing)}")
        current_networks = set(
            (
                await session.scalars(
                    select(Network.slug)
                    .join(RelatedNetwork, RelatedNetwork.network_id == Network.id)
                    .where(RelatedNetwork.entry_id == entry.id)
                )
            ).all()
        )
        if set(wanted_slugs) != current_networks:
            await session.execute(delete(RelatedNetwork).where(RelatedNetwork.entry_id == entry.id))
            session.add_all(RelatedNetwork(entry_id=entry.id, network_id=networks[slug].id) for slug in wanted_slugs)
            await _audit(session, actor, "clearinghouse.related_networks_set", "feed_entry", entry.id, target | {"networks": wanted_slugs})
            changed = True

    if changed:
        curation.updated_by, curation.updated_at = actor.id, now
        await feedstate.bump(session, now)
    await session.flush()
    return changed


# --- Collections ---------------------------------------------------------------------------


async def _collection(session: AsyncSession, slug: str) -> Collection:
    collection = await session.scalar(select(Collection).where(Collection.slug == slug))
    if collection is None:
        raise CollectionNotFound(f"No collection {slug!r}")
    return collection


async def _set_entries(
    session: AsyncSession, collection: Collection, wanted: list[uuid.UUID], now: datetime
) -> tuple[list[str], list[str], list[uuid.UUID]]:
    wanted = list(dict.fromkeys(wanted))
    found = {row.id: row for row in await session.scalars(select(FeedEntry).where(FeedEntry.id.in_(wanted)))}
    missing = [str(i) for i in wanted if i not in found]
    if missing:
        raise FilterInvalid(f"No published entry with id {', '.join(missing)}")
    current = {
        row.entry_id: row for row in await session.scalars(select(CollectionEntry).where(CollectionEntry.collection_id == collection.id))
    }
    await session.execute(delete(CollectionEntry).where(CollectionEntry.collection_id == collection.id))
    session.add_all(
        CollectionEntry(
            collection_id=collection.id,
            entry_id=entry_id,
            position=position,
            added_at=current[entry_id].added_at if entry_id in current else now,
        )
        for position, entry_id in enumerate(wanted, start=1)
    )
    await session.flush()
    added = [i for i in wanted if i not in current]
    removed = [i for i in current if i not in set(wanted)]
    removed_urns = [u for u in (await session.scalars(select(FeedEntry.urn).where(FeedEntry.id.in_(removed)))).all()] if removed else []
    return [found[i].urn for i in added], removed_urns, added


async def create_collection(
    session: AsyncSession, now: datetime, actor: Participant, body: CollectionCreate, *, base_url: str
) -> Collection:
    slug = body.slug or slugify(body.title)
    if await session.scalar(select(Collection.id).where(Collection.slug == slug)) is not None:
        raise SlugTaken(f"A collection {slug!r} exists already")
    collection = Collection(slug=slug, title=body.title, description=body.description, created_by=actor.id, created_at=now, updated_at=now)
    session.add(collection)
    await session.flush()
    added_urns, _, _ = await _set_entries(session, collection, body.entries, now)
    await feedstate.bump(session, now)
    await _audit(
        session,
        actor,
        "clearinghouse.collection_created",
        "collection",
        slug,
        {"title": collection.title, "description": collection.description, "entries": added_urns},
    )
    return collection


async def update_collection(
    session: AsyncSession, now: datetime, actor: Participant, slug: str, body: CollectionUpdate, *, base_url: str
) -> Collection:
    collection = await _collection(session, slug)
    changes: dict = {}
    for field in ("title", "description"):
        value = getattr(body, field)
        if value is not None and value != getattr(collection, field):
            changes[field] = {"from": getattr(collection, field), "to": value}
            setattr(collection, field, value)
    if body.entries is not None:
        before = (
            await session.scalars(
                select(CollectionEntry.entry_id).where(CollectionEntry.collection_id == collection.id).order_by(CollectionEntry.position)
            )
        ).all()
        if list(dict.fromkeys(body.entries)) != list(before):
            added_urns, removed_urns, added = await _set_entries(session, collection, body.entries, now)
            changes["entries"] = {"added": added_urns, "removed": removed_urns, "order": [str(i) for i in dict.fromkeys(body.entries)]}
            if added:
                await feedstate.bump(session, now)
                await websub.announce(session, added, now=now, base_url=base_url, only=lambda query: query.collection == slug)
    if changes:
        collection.updated_at = now
        await feedstate.bump(session, now)
        await _audit(session, actor, "clearinghouse.collection_updated", "collection", slug, changes)
    return collection


async def collection_view(session: AsyncSession, slug: str, base_url: str) -> CollectionOut:
    collection = await _collection(session, slug)
    rows = (
        await session.scalars(
            select(FeedEntry)
            .join(CollectionEntry, CollectionEntry.entry_id == FeedEntry.id)
            .where(CollectionEntry.collection_id == collection.id)
            .order_by(CollectionEntry.position)
        )
    ).all()
    return CollectionOut(
        slug=collection.slug,
        title=collection.title,
        description=collection.description,
        created_at=collection.created_at,
        updated_at=collection.updated_at,
        entries=[entries.ref(base_url, row) for row in rows],
        feeds={
            "atom": f"{base_url}/feeds/collections/{collection.slug}.atom",
            "json": f"{base_url}/feeds/collections/{collection.slug}.json",
        },
    )


async def list_collections(session: AsyncSession, base_url: str) -> list[CollectionOut]:
    slugs = (await session.scalars(select(Collection.slug).order_by(Collection.title, Collection.slug))).all()
    return [await collection_view(session, slug, base_url) for slug in slugs]


# --- A new version of a curated norm -------------------------------------------------------


async def carry_over(session: AsyncSession, previous: FeedEntry, entry: FeedEntry, now: datetime) -> dict | None:
    """Give the entry of a newly adopted version the curation of the entry it supersedes: its topics, its summary
    (still credited to whoever wrote it) and its place in every collection (right after the superseded entry, which
    stays, marked superseded). Audited without an actor, so staff see what to review; None when there was nothing."""
    topic_ids = list((await session.scalars(select(EntryTopic.topic_id).where(EntryTopic.entry_id == previous.id))).all())
    session.add_all(EntryTopic(entry_id=entry.id, topic_id=topic_id) for topic_id in topic_ids)
    curation = await session.get(EntryCuration, previous.id)
    summary = curation.summary if curation is not None else None
    if summary:
        assert curation is not None
        session.add(
            EntryCuration(
                entry_id=entry.id,
                summary=summary,
                summary_by=curation.summary_by,
                summary_at=curation.summary_at,
                featured=False,
                updated_by=curation.summary_by,
                updated_at=now,
            )
        )
    collections = list(
        (
            await session.scalars(
                select(Collection)
                .join(CollectionEntry, CollectionEntry.collection_id == Collection.id)
                .where(CollectionEntry.entry_id == previous.id)
            )
        ).all()
    )
    for collection in collections:
        order = list(
            (
                await session.scalars(
                    select(CollectionEntry.entry_id)
                    .where(CollectionEntry.collection_id == collection.id)
                    .order_by(CollectionEntry.position)
                )
            ).all()
        )
        order.insert(order.index(previous.id) + 1, entry.id)
        await _set_entries(session, collection, order, now)
        collection.updated_at = now
    await session.flush()
    if not (topic_ids or summary or collections):
        return None
    topics = list((await session.scalars(select(Topic.slug).where(Topic.id.in_(topic_ids)).order_by(Topic.slug))).all())
    payload = {
        "from": previous.urn,
        "to": entry.urn,
        "topics": topics,
        "summary": bool(summary),
        "collections": sorted(collection.slug for collection in collections),
    }
    await audit.record(session, actor_id=None, action=CARRIED_OVER, target_type="feed_entry", target_id=entry.id, payload=payload)
    return payload


CARRIED_OVER = "clearinghouse.curation_carried_over"
CarriedEvent = aliased(AuditEvent)
REVIEWED = "clearinghouse.curation_reviewed"


@dataclass(frozen=True)
class CarriedOver:
    """Curation given to a new version's entry, not yet looked at by staff."""

    entry: FeedEntry
    superseded_urn: str
    topics: list[str]
    summary: bool
    collections: list[str]


async def carried_over_to_review(session: AsyncSession, limit: int = 50) -> list[CarriedOver]:
    """Carry-overs, newest first, after which no staff act touched the new entry (a curation or `REVIEWED`)."""
    later_staff_act = (
        select(AuditEvent.seq)
        .where(
            AuditEvent.target_type == "feed_entry",
            AuditEvent.target_id == CarriedEvent.target_id,
            AuditEvent.seq > CarriedEvent.seq,
            AuditEvent.actor_id.is_not(None),
        )
        .exists()
    )
    events = (
        await session.scalars(
            select(CarriedEvent).where(CarriedEvent.action == CARRIED_OVER, ~later_staff_act).order_by(CarriedEvent.seq.desc()).limit(limit)
        )
    ).all()
    ids = [uuid.UUID(event.target_id) for event in events]
    found = {entry.id: entry for entry in await session.scalars(select(FeedEntry).where(FeedEntry.id.in_(ids)))}
    return [
        CarriedOver(
            found[uuid.UUID(event.target_id)],
            event.payload.get("from", ""),
            event.payload.get("topics", []),
            bool(event.payload.get("summary")),
            event.payload.get("collections", []),
        )
        for event in events
        if uuid.UUID(event.target_id) in found
    ]


async def mark_reviewed(session: AsyncSession, actor: Participant, entry_id: uuid.UUID) -> None:
    """Staff say the curation carried over to this entry is as it should be (audited); it leaves the staff's notice."""
    entry = await entries.get_entry(session, entry_id)
    await _audit(session, actor, REVIEWED, "feed_entry", entry.id, {"urn": entry.urn})
