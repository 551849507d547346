"""Published entries as readers see them: the signed entry with its curation, and their addresses."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from networks.models import Network
from norms import translations
from norms.errors import TranslationNotFound
from norms.models import Adoption, Norm
from services.accounts.models import Participant
from services.clearinghouse import signing
from services.clearinghouse.errors import EntryNotFound
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
    CurationOut,
    EntryOut,
    EntryRef,
    NetworkRef,
    PersonRef,
    SignatureOut,
    TopicOut,
    TranslationRef,
)
from services.web import i18n

KEYS_PATH = signing.KEYS_PATH
HUB_PATH = "/websub"


def urn(network: str, norm: str, version: int) -> str:
    return f"urn:cogov:norm:{network}:{norm}:v{version}"


def permalink(base_url: str, entry: FeedEntry) -> str:
    return base_url + page_path(entry)


def page_path(entry: FeedEntry) -> str:
    """The entry's page on this site (the permalink without the base URL)."""
    return f"/clearinghouse/{entry.network_slug}/{entry.norm_slug}/v{entry.version_number}"


def norm_path(entry: FeedEntry) -> str:
    """The page of the norm the entry publishes a version of: its drafts, history and ballots."""
    return f"/networks/{entry.network_slug}/norms/{entry.norm_slug}"


async def entry_of_adoption(session: AsyncSession, adoption_id: uuid.UUID) -> FeedEntry | None:
    """The entry publishing this adoption; None until the worker has published it."""
    return await session.scalar(select(FeedEntry).where(FeedEntry.adoption_id == adoption_id))


def entry_url(base_url: str, entry_id: uuid.UUID) -> str:
    return f"{base_url}/api/v1/clearinghouse/entries/{entry_id}"


def network_url(base_url: str, slug: str) -> str:
    return f"{base_url}/networks/{slug}"


def language_name(code: str, in_language: str = "en") -> str:
    """A language's name (CLDR, through Babel), in English unless `in_language` is given."""
    return i18n.language_name(code, in_language)


def translation_label(authentic_language: str) -> str:
    """How a published translation is labelled wherever it appears (REST, feeds, Akoma Ntoso): never the authentic text."""
    return f"translation — the authentic text is the {language_name(authentic_language)} original"


@dataclass(frozen=True)
class PublishedTranslation:
    """A reviewed translation of an entry's version, as published beside it: the text as the convener reviewed it."""

    language: str
    title: str
    text: str
    reviewed_at: datetime


@dataclass
class EntryView:
    """An entry with everything shown beside it: network name and staff's curation."""

    entry: FeedEntry
    network_name: str
    curation: EntryCuration | None = None
    topics: list[Topic] = field(default_factory=list)
    related_entries: list[FeedEntry] = field(default_factory=list)
    related_networks: list[Network] = field(default_factory=list)
    collections: list[str] = field(default_factory=list)
    people: dict[uuid.UUID, str] = field(default_factory=dict)
    # The published entry of the adoption that replaced this one; None while this one is in force.
    superseded_by: FeedEntry | None = None
    # The language the norm is drafted in (the entry's text is authentic in it) and its reviewed translations.
    language: str = "en"
    translations: list[PublishedTranslation] = field(default_factory=list)

    def translation(self, language: str) -> PublishedTranslation:
        """The reviewed translation into `language`; TranslationNotFound if there is none."""
        for published in self.translations:
            if published.language == language:
                return published
        raise TranslationNotFound(f"{self.entry.urn} has no reviewed translation into {language[:8]}")

    @property
    def summary(self) -> str | None:
        return self.curation.summary if self.curation else None

    @property
    def featured(self) -> bool:
        return bool(self.curation and self.curation.featured)

    @property
    def updated(self) -> datetime:
        """When the entry as a feed shows it last changed: its publication, staff's latest curation of it, or the
        publication of the version that superseded it, whichever came last."""
        moments = [self.entry.published_at]
        if self.curation and self.curation.updated_at:
            moments.append(self.curation.updated_at)
        if self.superseded_by is not None:
            moments.append(self.superseded_by.published_at)
        # A translation reviewed after publication changes the entry as feeds show it.
        moments += [published.reviewed_at for published in self.translations]
        return max(moments)


async def views(session: AsyncSession, entries: Sequence[FeedEntry], *, details: bool = True) -> list[EntryView]:
    """Views of `entries` in their order; `details` adds related entries and networks, collections and names."""
    if not entries:
        return []
    ids = [entry.id for entry in entries]
    names = dict(
        (await session.execute(select(Network.id, Network.name).where(Network.id.in_({e.network_id for e in entries})))).tuples().all()
    )
    curations = {c.entry_id: c for c in await session.scalars(select(EntryCuration).where(EntryCuration.entry_id.in_(ids)))}
    topics: dict[uuid.UUID, list[Topic]] = defaultdict(list)
    for entry_id, topic in await session.execute(
        select(EntryTopic.entry_id, Topic)
        .join(Topic, Topic.id == EntryTopic.topic_id)
        .where(EntryTopic.entry_id.in_(ids))
        .order_by(Topic.label)
    ):
        topics[entry_id].append(topic)
    successors = await superseding(session, ids)
    languages = dict(
        (await session.execute(select(Norm.id, Norm.language).where(Norm.id.in_({e.norm_id for e in entries})))).tuples().all()
    )
    reviewed = await translations.reviewed(session, [(entry.norm_id, entry.version_number) for entry in entries])
    result = [
        EntryView(
            entry,
            names.get(entry.network_id, entry.network_slug),
            curations.get(entry.id),
            topics.get(entry.id, []),
            superseded_by=successors.get(entry.id),
            language=languages.get(entry.norm_id, "en"),
            translations=[
                PublishedTranslation(t.language, t.reviewed_title or "", t.reviewed_text or "", t.reviewed_at)
                for t in reviewed.get((entry.norm_id, entry.version_number), [])
                if t.reviewed_at is not None
            ],
        )
        for entry in entries
    ]
    if not details:
        return result
    by_id = {view.entry.id: view for view in result}
    for entry_id, related in await session.execute(
        select(RelatedEntry.entry_id, FeedEntry)
        .join(FeedEntry, FeedEntry.id == RelatedEntry.related_id)
        .where(RelatedEntry.entry_id.in_(ids))
        .order_by(FeedEntry.seq.desc())
    ):
        by_id[entry_id].related_entries.append(related)
    for entry_id, network in await session.execute(
        select(RelatedNetwork.entry_id, Network)
        .join(Network, Network.id == RelatedNetwork.network_id)
        .where(RelatedNetwork.entry_id.in_(ids))
        .order_by(Network.name)
    ):
        by_id[entry_id].related_networks.append(network)
    for entry_id, slug in await session.execute(
        select(CollectionEntry.entry_id, Collection.slug)
        .join(Collection, Collection.id == CollectionEntry.collection_id)
        .where(CollectionEntry.entry_id.in_(ids))
        .order_by(Collection.slug)
    ):
        by_id[entry_id].collections.append(slug)
    people = {person for view in result if view.curation for person in (view.curation.summary_by, view.curation.updated_by) if person}
    if people:
        names_by_id = dict(
            (await session.execute(select(Participant.id, Participant.display_name).where(Participant.id.in_(people)))).tuples().all()
        )
        for view in result:
            view.people = names_by_id
    return result


async def superseding(session: AsyncSession, entry_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, FeedEntry]:
    """For each of these entries that a later adoption replaced, that adoption's published entry."""
    later = aliased(FeedEntry)
    rows = await session.execute(
        select(FeedEntry.id, later)
        .join(Adoption, Adoption.supersedes_id == FeedEntry.adoption_id)
        .join(later, later.adoption_id == Adoption.id)
        .where(FeedEntry.id.in_(list(entry_ids)))
    )
    return dict(rows.tuples().all())


def is_in_force() -> ColumnElement[bool]:
    """Entries no published later adoption of their norm replaced (the listing's `in_force` filter)."""
    later = aliased(FeedEntry)
    replaced = select(later.id).join(Adoption, Adoption.id == later.adoption_id).where(Adoption.supersedes_id == FeedEntry.adoption_id)
    return ~exists(replaced)


async def in_force_for_norm(session: AsyncSession, norm_id: uuid.UUID) -> FeedEntry | None:
    """The norm's published entry in force: the one no published later adoption replaced."""
    return await session.scalar(select(FeedEntry).where(FeedEntry.norm_id == norm_id, is_in_force()).order_by(FeedEntry.seq.desc()))


async def get_entry(session: AsyncSession, entry_id: uuid.UUID) -> FeedEntry:
    entry = await session.get(FeedEntry, entry_id)
    if entry is None:
        raise EntryNotFound(f"No published entry with id {entry_id}")
    return entry


async def entry_by_path(session: AsyncSession, network: str, norm: str, version: int) -> FeedEntry:
    entry = await session.scalar(select(FeedEntry).where(FeedEntry.urn == urn(network, norm, version)))
    if entry is None:
        raise EntryNotFound(f"No published entry {urn(network, norm, version)}")
    return entry


async def lineage(session: AsyncSession, entry: FeedEntry) -> tuple[date, FeedEntry | None]:
    """When the entry's norm was first adopted (of its published versions), and the published entry it supersedes."""
    first = await session.scalar(select(func.min(FeedEntry.adopted_at)).where(FeedEntry.norm_id == entry.norm_id))
    supersedes = entry.record.get("supersedes")
    superseded = await session.scalar(select(FeedEntry).where(FeedEntry.urn == supersedes)) if supersedes else None
    return (first or entry.adopted_at).date(), superseded


def ref(base_url: str, entry: FeedEntry) -> EntryRef:
    return EntryRef(
        id=entry.id,
        urn=entry.urn,
        title=entry.title,
        network=entry.network_slug,
        version=entry.version_number,
        permalink=permalink(base_url, entry),
    )


def translated_permalink(base_url: str, entry: FeedEntry, language: str) -> str:
    return f"{permalink(base_url, entry)}?lang={language}"


def out(base_url: str, view: EntryView, language: str | None = None) -> EntryOut:
    """The entry as REST answers it; with `language` (not the authentic one), its reviewed translation into it
    (`authentic` false, labelled), TranslationNotFound if there is none. The signed record is the authentic text's."""
    entry, curation = view.entry, view.curation
    title, text = entry.title, entry.text
    shown = view.language if language is None or language == view.language else language
    if shown != view.language:
        translated = view.translation(shown)
        title, text = translated.title, translated.text

    def person(person_id: uuid.UUID | None) -> PersonRef | None:
        return PersonRef(id=person_id, display_name=view.people.get(person_id, "clearing-house staff")) if person_id else None

    return EntryOut(
        id=entry.id,
        urn=entry.urn,
        permalink=permalink(base_url, entry),
        entry_url=entry_url(base_url, entry.id),
        title=title,
        text=text,
        language=shown,
        authentic=shown == view.language,
        authentic_language=view.language,
        label=None if shown == view.language else translation_label(view.language),
        translations=[
            TranslationRef(
                language=published.language,
                title=published.title,
                label=translation_label(view.language),
                entry_url=f"{entry_url(base_url, entry.id)}?lang={published.language}",
                permalink=translated_permalink(base_url, entry, published.language),
                reviewed_at=published.reviewed_at,
            )
            for published in view.translations
        ],
        network=NetworkRef(slug=entry.network_slug, name=view.network_name, url=network_url(base_url, entry.network_slug)),
        norm_id=entry.norm_id,
        norm_slug=entry.norm_slug,
        version=entry.version_number,
        adopted_at=entry.adopted_at,
        published_at=entry.published_at,
        record=entry.record,
        signature=SignatureOut(kid=entry.kid, value=entry.signature),
        keys_url=base_url + KEYS_PATH,
        curation=CurationOut(
            summary=curation.summary if curation else None,
            summary_by=person(curation.summary_by) if curation else None,
            summary_at=curation.summary_at if curation else None,
            featured=view.featured,
            featured_at=curation.featured_at if curation and curation.featured else None,
            topics=[TopicOut(slug=t.slug, label=t.label, description=t.description) for t in view.topics],
            related_entries=[ref(base_url, related) for related in view.related_entries],
            related_networks=[NetworkRef(slug=n.slug, name=n.name, url=network_url(base_url, n.slug)) for n in view.related_networks],
            collections=view.collections,
            updated_by=person(curation.updated_by) if curation else None,
            updated_at=curation.updated_at if curation else None,
        ),
        in_force=view.superseded_by is None,
        superseded_by=ref(base_url, view.superseded_by) if view.superseded_by else None,
    )
