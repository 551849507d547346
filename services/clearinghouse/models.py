"""Clearing-house tables: published entries, curation, signing keys, and the WebSub hub's state.

An entry is written once, by publication, and never changed: curation lives in its own tables,
so no curation act can reach a norm's text, its adoption record or its signature.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.kit.db import Base, UTCDateTime, new_id

BigId = BigInteger().with_variant(Integer(), "sqlite")
URL_LENGTH = 2000
# Topics are this hub's own feed URLs; kept short so (topic, callback) fits a PostgreSQL index entry.
TOPIC_LENGTH = 500
SLUG_LENGTH = 80


def _enum(kind: type[enum.Enum], name: str) -> Enum:
    return Enum(kind, native_enum=False, length=20, create_constraint=True, name=name)


# --- Publication -------------------------------------------------------------------------


class FeedEntry(Base):
    """An adopted version as published: immutable, signed, one per adoption."""

    __tablename__ = "feed_entries"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    # Publication order: the feeds and the REST listing page by it, newest first.
    seq: Mapped[int] = mapped_column(BigId, unique=True)
    # One entry per adoption: an outbox event handled twice publishes once.
    adoption_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("norm_adoptions.id"), unique=True)
    urn: Mapped[str] = mapped_column(String(300), unique=True)
    norm_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("norms.id"), index=True)
    network_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("networks.id"), index=True)
    network_slug: Mapped[str] = mapped_column(String(SLUG_LENGTH))
    norm_slug: Mapped[str] = mapped_column(String(SLUG_LENGTH))
    version_number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    adopted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # The signed adoption record exactly as signed, and its Ed25519 signature (base64url) under key `kid`.
    record: Mapped[dict] = mapped_column(JSON)
    signature: Mapped[str] = mapped_column(String(120))
    kid: Mapped[str] = mapped_column(String(64))


class FeedEntryRegion(Base):
    """A region at least one of whose electors approved the adopted version (the `region` filter)."""

    __tablename__ = "feed_entry_regions"

    entry_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("feed_entries.id"), primary_key=True)
    region: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)


class PublicationKey(Base):
    """A public key that has signed entries; listed in the JWK set for as long as the server runs."""

    __tablename__ = "publication_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The raw 32-byte Ed25519 public key, base64url without padding (JWK "x").
    public_key: Mapped[str] = mapped_column(String(64))
    first_used_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FeedState(Base):
    """One row: bumped by every publication and curation act, so caches and ETags know when feeds changed."""

    __tablename__ = "feed_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(BigId)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --- Curation ----------------------------------------------------------------------------


class Topic(Base):
    """A term of the clearing house's topics vocabulary."""

    __tablename__ = "feed_topics"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(SLUG_LENGTH), unique=True)
    label: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class EntryTopic(Base):
    __tablename__ = "feed_entry_topics"

    entry_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("feed_entries.id"), primary_key=True)
    topic_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("feed_topics.id"), primary_key=True, index=True)


class EntryCuration(Base):
    """Staff's summary and featured flag for one entry, with who set them and when."""

    __tablename__ = "feed_entry_curations"

    entry_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("feed_entries.id"), primary_key=True)
    summary: Mapped[str | None] = mapped_column(Text)
    summary_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("participants.id"))
    summary_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    featured: Mapped[bool] = mapped_column(Boolean, default=False)
    featured_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("participants.id"))
    featured_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("participants.id"))
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RelatedEntry(Base):
    __tablename__ = "feed_related_entries"

    entry_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("feed_entries.id"), primary_key=True)
    related_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("feed_entries.id"), primary_key=True)


class RelatedNetwork(Base):
    __tablename__ = "feed_related_networks"

    entry_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("feed_entries.id"), primary_key=True)
    network_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("networks.id"), primary_key=True)


class Collection(Base):
    """A curated, ordered set of entries with its own feeds."""

    __tablename__ = "feed_collections"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(SLUG_LENGTH), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CollectionEntry(Base):
    __tablename__ = "feed_collection_entries"

    collection_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("feed_collections.id"), primary_key=True)
    entry_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("feed_entries.id"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --- WebSub hub --------------------------------------------------------------------------


class RequestMode(enum.StrEnum):
    subscribe = "subscribe"
    unsubscribe = "unsubscribe"


class RequestStatus(enum.StrEnum):
    pending = "pending"
    verified = "verified"
    refused = "refused"


class SubscriptionRequest(Base):
    """A subscribe or unsubscribe request waiting for, or done with, its intent verification."""

    __tablename__ = "websub_requests"
    __table_args__ = (
        Index("ix_websub_requests_pending", "status", "id"),
        Index("ix_websub_requests_callback_topic", "callback", "topic"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    mode: Mapped[RequestMode] = mapped_column(_enum(RequestMode, "websub_request_mode"))
    topic: Mapped[str] = mapped_column(String(TOPIC_LENGTH))
    callback: Mapped[str] = mapped_column(String(URL_LENGTH))
    lease_seconds: Mapped[int | None] = mapped_column(Integer)
    secret: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[RequestStatus] = mapped_column(_enum(RequestStatus, "websub_request_status"), default=RequestStatus.pending)
    reason: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SubscriptionState(enum.StrEnum):
    active = "active"
    unsubscribed = "unsubscribed"
    # The subscriber answered 410 Gone to a delivery.
    gone = "gone"


class Subscription(Base):
    """A verified subscription of one callback to one topic; deliveries stop at `expires_at`."""

    __tablename__ = "websub_subscriptions"
    __table_args__ = (
        UniqueConstraint("topic", "callback"),
        Index("ix_websub_subscriptions_live", "topic", "state", "expires_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    topic: Mapped[str] = mapped_column(String(TOPIC_LENGTH))
    callback: Mapped[str] = mapped_column(String(URL_LENGTH))
    secret: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[SubscriptionState] = mapped_column(_enum(SubscriptionState, "websub_subscription_state"))
    lease_seconds: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    verified_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Notification(Base):
    """One rendering of a topic's feed, made when entries appeared in it; every delivery sends its bytes."""

    __tablename__ = "websub_notifications"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(TOPIC_LENGTH))
    content_type: Mapped[str] = mapped_column(String(100))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    # The URNs of the entries whose appearance caused it.
    entries: Mapped[list] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DeliveryStatus(enum.StrEnum):
    pending = "pending"
    delivered = "delivered"
    # Stopped without delivery: the subscriber answered 410, unsubscribed, let its lease expire,
    # or kept failing past the retry window.
    gone = "gone"
    unsubscribed = "unsubscribed"
    expired = "expired"
    failed = "failed"
    # Not sent: a newer delivery of the same subscription carries the feed as it stands now.
    superseded = "superseded"


class Delivery(Base):
    """One notification owed to one subscription: a row of the durable delivery outbox."""

    __tablename__ = "websub_deliveries"
    __table_args__ = (
        Index("ix_websub_deliveries_due", "status", "next_attempt_at"),
        Index("ix_websub_deliveries_subscription", "subscription_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    subscription_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("websub_subscriptions.id"))
    notification_id: Mapped[int] = mapped_column(BigId, ForeignKey("websub_notifications.id"), index=True)
    status: Mapped[DeliveryStatus] = mapped_column(_enum(DeliveryStatus, "websub_delivery_status"), default=DeliveryStatus.pending)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)


class DeliveryAttempt(Base):
    """One POST of a delivery to its callback, and what came back."""

    __tablename__ = "websub_delivery_attempts"
    __table_args__ = (Index("ix_websub_delivery_attempts_delivery", "delivery_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(BigId, ForeignKey("websub_deliveries.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer)


# --- Follow-up by subscribers ------------------------------------------------------------


class FollowUpStatus(enum.StrEnum):
    received = "received"
    under_review = "under_review"
    implemented = "implemented"
    not_applicable = "not_applicable"


class FollowUp(Base):
    """Where a subscriber organisation stands with one adopted norm; each change is in the audit log."""

    __tablename__ = "follow_ups"
    __table_args__ = (UniqueConstraint("entry_id", "subscriber_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    entry_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("feed_entries.id"), index=True)
    subscriber_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"), index=True)
    status: Mapped[FollowUpStatus] = mapped_column(_enum(FollowUpStatus, "follow_up_status"))
    status_date: Mapped[date] = mapped_column(Date)
    instrument_url: Mapped[str | None] = mapped_column(String(URL_LENGTH))
    note: Mapped[str | None] = mapped_column(Text)
    # The subscriber's affiliation when it last wrote, so the summary counts it in that region.
    country: Mapped[str | None] = mapped_column(String(2))
    region: Mapped[str | None] = mapped_column(String(40))
    organisation: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReceiptToken(Base):
    """A subscriber's receipt token (SHA-256 kept): a WebSub callback answering `X-CoGov-Receipt: <token>` acknowledges receipt."""

    __tablename__ = "receipt_tokens"

    subscriber_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"), primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
