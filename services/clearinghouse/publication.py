"""Publication: each `norm.adopted` outbox event becomes one signed feed entry.

The worker claims events (PostgreSQL `SKIP LOCKED`; on SQLite the write lock makes claimers take
turns), reads the adopted version's text at its heads, checks it against the adoption's SHA-256,
signs the adoption record and stores the entry, its regions, the feed revision, a signed head of
the audit log, the WebSub notifications it causes and the event's completion in one transaction.
The entry is unique per adoption, so an event handled twice (a lease that ran out, two workers)
publishes once.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from networks.models import Network
from norms import document, outbox
from norms.ballots import NORM_ADOPTED
from norms.models import Adoption, Norm
from norms.store import NormStore, parse_heads
from services.audit import service as audit
from services.audit import tree_heads
from services.clearinghouse import entries, feedstate, websub
from services.clearinghouse.keys import register_key
from services.clearinghouse.models import FeedEntry, FeedEntryRegion
from services.clearinghouse.signing import SigningKey
from services.kit.clock import Clock
from services.kit.db import take_write_lock, transaction

log = structlog.get_logger()

RECORD_TYPE = "cogov.adoption-record/1"


class PublicationFailed(Exception):
    """An adoption that cannot be published as it stands (its text does not match its hash)."""


@dataclass(frozen=True)
class Publisher:
    sessionmaker: async_sessionmaker[AsyncSession]
    store: NormStore
    clock: Clock
    key: SigningKey
    base_url: str
    worker: str
    lease: timedelta = timedelta(seconds=60)

    async def publish_pending(self, limit: int = 20) -> list[uuid.UUID]:
        """Publish what adoptions are waiting; the ids of the entries this call created."""
        async with transaction(self.sessionmaker) as session:
            await take_write_lock(session)
            events = await outbox.claim(
                session, kinds=[NORM_ADOPTED], worker=self.worker, now=self.clock.now(), lease=self.lease, limit=limit
            )
            claimed = [(event.id, dict(event.payload)) for event in events]
        created = []
        for event_id, payload in claimed:
            try:
                entry_id = await self.publish(event_id, payload)
            except Exception:  # left claimed: another round retries it once the lease runs out
                log.exception("publication_failed", event_id=event_id, adoption_id=payload.get("adoption_id"))
                continue
            if entry_id is not None:
                created.append(entry_id)
        return created

    async def publish(self, event_id: int, payload: dict) -> uuid.UUID | None:
        """Publish one adoption; None when it was published already (the event is completed either way)."""
        adoption_id = uuid.UUID(payload["adoption_id"])
        async with self.sessionmaker() as session:
            if await session.scalar(select(FeedEntry.id).where(FeedEntry.adoption_id == adoption_id)) is not None:
                await self._complete(event_id)
                return None
            adoption = await session.get(Adoption, adoption_id)
            norm = await session.get(Norm, adoption.norm_id)
            network = await session.get(Network, norm.network_id)
            previous = None
            if adoption.supersedes_id:
                previous = await session.scalar(select(Adoption.version_number).where(Adoption.id == adoption.supersedes_id))
        async with self.store.reading(norm.document_id) as doc:
            text = document.read_text(doc, parse_heads(adoption.heads))
        if hashlib.sha256(text.encode()).hexdigest() != adoption.text_sha256:
            raise PublicationFailed(f"the text of {norm.slug} v{adoption.version_number} does not match its adoption's SHA-256")

        try:
            async with transaction(self.sessionmaker) as session:
                await take_write_lock(session)
                now = self.clock.now()
                record = adoption_record(adoption, norm, network, previous, issuer=self.base_url, signed_at=now)
                seq = await feedstate.bump(session, now)
                entry = FeedEntry(
                    seq=seq,
                    adoption_id=adoption.id,
                    urn=record["urn"],
                    norm_id=norm.id,
                    network_id=network.id,
                    network_slug=network.slug,
                    norm_slug=norm.slug,
                    version_number=adoption.version_number,
                    title=adoption.title,
                    text=text,
                    adopted_at=adoption.adopted_at,
                    published_at=now,
                    record=record,
                    signature=self.key.sign(record),
                    kid=self.key.kid,
                )
                session.add(entry)
                await session.flush()
                session.add_all(FeedEntryRegion(entry_id=entry.id, region=region) for region in approving_regions(adoption.votes))
                await register_key(session, self.key, now)
                await audit.record(
                    session,
                    actor_id=None,
                    action="clearinghouse.published",
                    target_type="feed_entry",
                    target_id=entry.id,
                    payload={"urn": entry.urn, "adoption_id": str(adoption.id), "text_sha256": adoption.text_sha256, "kid": entry.kid},
                )
                # Every adoption publishes a head covering its publication, before the feeds are pushed.
                await tree_heads.sign(session, self.key, now, self.base_url)
                await websub.announce(session, [entry.id], now=now, base_url=self.base_url)
                await outbox.complete(session, event_id, worker=self.worker, now=now)
        except IntegrityError:  # another worker published it meanwhile
            await self._complete(event_id)
            return None
        log.info("published", urn=entry.urn)
        return entry.id

    async def _complete(self, event_id: int) -> None:
        async with transaction(self.sessionmaker) as session:
            await take_write_lock(session)
            await outbox.complete(session, event_id, worker=self.worker, now=self.clock.now())


def approving_regions(votes: list[dict]) -> list[str]:
    return sorted({vote["region"] for vote in votes if vote["position"] == "approve"})


def adoption_record(
    adoption: Adoption, norm: Norm, network: Network, previous_version: int | None, *, issuer: str, signed_at: datetime
) -> dict:
    """What the clearing house signs: the adopted version (by title and text hash), the ballot's verdict and votes."""
    record = {
        "type": RECORD_TYPE,
        "issuer": issuer,
        "urn": entries.urn(network.slug, norm.slug, adoption.version_number),
        "network": {"slug": network.slug, "name": network.name},
        "norm": {"id": str(norm.id), "slug": norm.slug},
        "version": adoption.version_number,
        "title": adoption.title,
        "text_sha256": adoption.text_sha256,
        "heads": list(adoption.heads),
        "adoption_id": str(adoption.id),
        "ballot_id": str(adoption.ballot_id),
        "adopted_at": _timestamp(adoption.adopted_at),
        "signed_at": _timestamp(signed_at),
        "policy": adoption.policy,
        "outcome": adoption.tallies,
        "votes": adoption.votes,
        "approving_regions": approving_regions(adoption.votes),
        "supersedes": entries.urn(network.slug, norm.slug, previous_version) if previous_version else None,
    }
    _refuse_floats(record)
    return record


def _timestamp(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _refuse_floats(value: object) -> None:
    # Floats have no single canonical JSON form across languages; a record holds none.
    if isinstance(value, float):
        raise PublicationFailed("an adoption record cannot hold floating-point numbers")
    if isinstance(value, dict):
        for item in value.values():
            _refuse_floats(item)
    elif isinstance(value, list):
        for item in value:
            _refuse_floats(item)
