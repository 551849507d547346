"""Publication: each `norm.adopted` outbox event becomes one signed feed entry.

The worker claims events (PostgreSQL `SKIP LOCKED`; on SQLite the write lock makes claimers take
turns), reads the adopted version's text at its heads, checks it against the adoption's SHA-256,
signs the adoption record and stores the entry, its regions, the feed revision, a signed head of
the audit log, the WebSub notifications it causes and the event's completion in one transaction.
The entry is unique per adoption, so an event handled twice (a lease that ran out, two workers)
publishes once.

An adoption that fails to publish never holds up the others: it is tried again after a backoff
(`services.kit.outbox.backoff`), and after `attempts` tries it is marked failed with its error, shown to
staff on the publication page, until staff retry it.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from networks.models import Network
from norms import outbox
from norms.ballots import NORM_ADOPTED
from norms.models import Adoption, Norm, NormVersion, VoteRecord
from norms.store import NormStore
from services.accounts.models import Participant
from services.audit import service as audit
from services.audit import tree_heads
from services.clearinghouse import curation, delivery, entries, feedstate, websub
from services.clearinghouse.errors import PublicationNotFailed
from services.clearinghouse.keys import register_key
from services.clearinghouse.models import FeedEntry, FeedEntryRegion
from services.clearinghouse.schemas import PublicationStatus, PublicationTroubleOut
from services.clearinghouse.signing import SigningKey
from services.kit.clock import Clock
from services.kit.db import take_write_lock, transaction
from services.kit.outbox import backoff
from services.notifications import events as notifications

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
    # Tries before an adoption's publication is marked failed.
    attempts: int = 10
    rng: random.Random = field(default_factory=random.Random)

    async def publish_pending(self, limit: int = 20) -> list[uuid.UUID]:
        """Publish what adoptions are waiting; the ids of the entries this call created."""
        async with transaction(self.sessionmaker) as session:
            await take_write_lock(session)
            events = await outbox.claim(
                session, kinds=[NORM_ADOPTED], worker=self.worker, now=self.clock.now(), lease=self.lease, limit=limit
            )
            claimed = [(event.id, event.attempts, dict(event.payload)) for event in events]
        created = []
        for event_id, attempts, payload in claimed:
            try:
                entry_id = await self.publish(event_id, payload)
            except Exception as exc:
                log.exception("publication_failed", event_id=event_id, adoption_id=payload.get("adoption_id"), attempts=attempts)
                await self._fail(event_id, attempts, exc)
                continue
            if entry_id is not None:
                created.append(entry_id)
        return created

    async def _fail(self, event_id: int, attempts: int, exc: Exception) -> None:
        """Try the event again after a backoff, or, after `attempts` tries, mark it failed with its error."""
        try:
            async with transaction(self.sessionmaker) as session:
                await take_write_lock(session)
                now = self.clock.now()
                retry_at = None if attempts >= self.attempts else now + backoff(attempts, self.rng)
                recorded = await outbox.fail(session, event_id, worker=self.worker, now=now, error=failure_reason(exc), retry_at=retry_at)
        except Exception:  # the database is away: the claim runs out and another round tries it again
            log.exception("publication_failure_unrecorded", event_id=event_id)
            return
        if recorded and retry_at is None:
            log.warning("publication_abandoned", event_id=event_id, attempts=attempts)

    async def publish(self, event_id: int, payload: dict[str, object]) -> uuid.UUID | None:
        """Publish one adoption; None when it was published already (the event is completed either way)."""
        adoption_id = uuid.UUID(str(payload["adoption_id"]))
        async with self.sessionmaker() as session:
            if await session.scalar(select(FeedEntry.id).where(FeedEntry.adoption_id == adoption_id)) is not None:
                await self._complete(event_id)
                return None
            adoption = await session.get(Adoption, adoption_id)
            if adoption is None:
                raise PublicationFailed(f"no adoption {adoption_id} is stored")
            norm = await session.get_one(Norm, adoption.norm_id)
            network = await session.get_one(Network, norm.network_id)
            previous = None
            if adoption.supersedes_id:
                previous = await session.scalar(select(Adoption.version_number).where(Adoption.id == adoption.supersedes_id))
            version = await session.scalar(
                select(NormVersion).where(NormVersion.norm_id == norm.id, NormVersion.number == adoption.version_number)
            )
        if version is None:
            raise PublicationFailed(f"no version {adoption.version_number} of {norm.slug} is stored")
        text = version.text
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
                changed = [entry.id]
                if adoption.supersedes_id is not None:
                    superseded = await entries.entry_of_adoption(session, adoption.supersedes_id)
                    if superseded is not None:
                        await curation.carry_over(session, superseded, entry, now)
                        changed.append(superseded.id)  # its feeds now mark it superseded
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
                await websub.announce(session, changed, now=now, base_url=self.base_url)
                await notifications.norm_published(
                    session, entry_id=entry.id, norm_id=norm.id, version=adoption.version_number, path=entries.page_path(entry), now=now
                )
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


def failure_reason(exc: BaseException) -> str:
    """What staff read of a failure: the exception's kind and message (a database error's own, without its statement)."""
    cause = getattr(exc, "orig", None) or exc
    return f"{type(cause).__name__}: {cause}" if str(cause) else type(cause).__name__


def approving_regions(votes: list[VoteRecord]) -> list[str]:
    return sorted({vote["region"] for vote in votes if vote["position"] == "approve"})


def adoption_record(
    adoption: Adoption, norm: Norm, network: Network, previous_version: int | None, *, issuer: str, signed_at: datetime
) -> dict[str, object]:
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


# --- What staff watch ------------------------------------------------------------------------


async def status(session: AsyncSession, *, attempts: int) -> PublicationStatus:
    """Publications that failed or wait to be tried again, WebSub deliveries that failed and the subscribers failing
    them, each with its error."""
    publications = [
        PublicationTroubleOut(
            event_id=event.id,
            status="failed" if event.failed_at is not None else "retrying",
            adoption_id=event.payload.get("adoption_id"),
            network=event.payload.get("network"),
            norm=event.payload.get("norm"),
            version=event.payload.get("version"),
            title=event.payload.get("title"),
            adopted_at=event.created_at,
            attempts=event.attempts,
            failed_at=event.failed_at,
            next_attempt_at=event.next_attempt_at if event.failed_at is None else None,
            last_error=event.last_error,
        )
        for event in await outbox.troubled(session, kinds=[NORM_ADOPTED])
    ]
    return PublicationStatus(
        attempts=attempts,
        publications=publications,
        deliveries=await delivery.troubled(session),
        subscribers=await delivery.failing_subscribers(session),
    )


async def retry(session: AsyncSession, now: datetime, staff: Participant, event_id: int) -> None:
    """Try a failed publication again from now, its tries counted afresh (staff; audited). The caller holds the write lock."""
    event = await outbox.retry(session, event_id, kinds=[NORM_ADOPTED], now=now)
    if event is None:
        raise PublicationNotFailed(f"No failed publication {event_id}")
    payload = event.payload
    await audit.record(
        session,
        actor_id=staff.id,
        action="clearinghouse.publication_retried",
        target_type="adoption",
        target_id=payload.get("adoption_id"),
        payload={"event_id": event.id, "network": payload.get("network"), "norm": payload.get("norm"), "version": payload.get("version")},
    )
