"""What the clearing house's API reads and writes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.kit.validation import TextBounds

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", min_length=1, max_length=80)]
Label = Annotated[str, TextBounds(120, min_length=1, strip=True)]
Heading = Annotated[str, TextBounds(200, min_length=1, strip=True)]
ShortText = Annotated[str, TextBounds(2000)]
LongText = Annotated[str, TextBounds(5000)]


class PersonRef(BaseModel):
    id: uuid.UUID
    display_name: str


class SignatureOut(BaseModel):
    alg: str = "EdDSA"
    kid: str
    value: str = Field(description="Ed25519 signature of the record's canonical JSON, base64url")


class NetworkRef(BaseModel):
    slug: str
    name: str
    url: str


class TopicOut(BaseModel):
    slug: str
    label: str
    description: str = ""


class EntryRef(BaseModel):
    id: uuid.UUID
    urn: str
    title: str
    network: str
    version: int
    permalink: str


class CurationOut(BaseModel):
    """Added by clearing-house staff; not part of the signed record."""

    summary: str | None = None
    summary_by: PersonRef | None = None
    summary_at: datetime | None = None
    featured: bool = False
    featured_at: datetime | None = None
    topics: list[TopicOut] = []
    related_entries: list[EntryRef] = []
    related_networks: list[NetworkRef] = []
    collections: list[str] = []
    updated_by: PersonRef | None = None
    updated_at: datetime | None = None


class TranslationRef(BaseModel):
    """A reviewed translation published with an entry; never the authentic text."""

    language: str
    title: str
    label: str
    entry_url: str = Field(description="The entry with this translation as its title and text (`?lang=`)")
    permalink: str
    reviewed_at: datetime


class EntryOut(BaseModel):
    """A published entry: save it as ENTRY.json and `cogov verify ENTRY.json` checks it offline (the authentic text;
    with `?lang=` the title and text are a reviewed translation, `authentic` false, and the signature is the original's)."""

    id: uuid.UUID
    urn: str
    permalink: str
    entry_url: str
    title: str
    text: str
    language: str = Field(description="The language of `title` and `text`")
    authentic: bool = Field(description="True for the authentic text; false for a translation")
    authentic_language: str = Field(description="The language the norm is drafted in: its authentic text")
    label: str | None = Field(description="For a translation: 'translation — the authentic text is the <language> original'")
    translations: list[TranslationRef] = Field(description="Reviewed translations published with the entry")
    network: NetworkRef
    norm_id: uuid.UUID
    norm_slug: str
    version: int
    adopted_at: datetime
    published_at: datetime
    record: dict
    signature: SignatureOut
    keys_url: str
    curation: CurationOut
    in_force: bool = Field(description="False once a later adoption of the same norm is published")
    superseded_by: EntryRef | None = Field(description="The published entry of the adoption that replaced this one, if any")


class CurationIn(BaseModel):
    """Staff curation of one entry; each field present replaces what is there."""

    model_config = ConfigDict(extra="allow")

    summary: LongText | None = None
    topics: list[Slug] | None = Field(default=None, max_length=50)
    featured: bool | None = None
    related_entries: list[uuid.UUID] | None = Field(default=None, max_length=100)
    related_networks: list[Slug] | None = Field(default=None, max_length=100)


class TopicCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: Slug | None = None
    label: Label
    description: ShortText = ""


class TopicUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: Label | None = None
    description: ShortText | None = None


class CollectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: Slug | None = None
    title: Heading
    description: LongText = ""
    entries: list[uuid.UUID] = Field(default_factory=list, max_length=500)


class CollectionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Heading | None = None
    description: LongText | None = None
    entries: list[uuid.UUID] | None = Field(default=None, max_length=500, description="The ordered entries; replaces the list")


class CollectionOut(BaseModel):
    slug: str
    title: str
    description: str
    created_at: datetime
    updated_at: datetime
    entries: list[EntryRef]
    feeds: dict[str, str]


class DeliveryAttemptOut(BaseModel):
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryOut(BaseModel):
    id: int
    status: str
    entries: list[str]
    created_at: datetime
    attempts: int
    next_attempt_at: datetime | None
    finished_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    recent_attempts: list[DeliveryAttemptOut]


class PublicationTroubleOut(BaseModel):
    """An adoption whose publication failed: given up (`failed`) or waiting to be tried again (`retrying`)."""

    event_id: int
    status: str = Field(description="failed (after the last try; staff may retry it) or retrying")
    adoption_id: str | None
    network: str | None
    norm: str | None
    version: int | None
    title: str | None
    adopted_at: datetime
    attempts: int
    failed_at: datetime | None
    next_attempt_at: datetime | None
    last_error: str | None


class DeliveryTroubleOut(BaseModel):
    """A WebSub delivery that failed: abandoned after the retry window (`failed`) or still being retried (`pending`)."""

    id: int
    status: str
    callback: str
    topic: str
    entries: list[str]
    created_at: datetime
    attempts: int
    next_attempt_at: datetime | None
    finished_at: datetime | None
    last_status_code: int | None
    last_error: str | None


class FailingSubscriberOut(BaseModel):
    """A subscription whose deliveries fail: since when, how many wait or were given up, and what it last answered."""

    callback: str
    topic: str
    state: str
    failing_since: datetime = Field(description="When the oldest delivery still failing was queued")
    last_delivered_at: datetime | None = Field(description="Its last accepted delivery, if any")
    retrying: int = Field(description="Deliveries being retried")
    given_up: int = Field(description="Deliveries given up after the retry window since its last accepted one")
    failed_attempts: int
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None


class PublicationStatus(BaseModel):
    """What staff watch: publications and deliveries that failed, and the subscribers failing, with their errors."""

    attempts: int = Field(description="Tries of a publication before it is marked failed (COGOV_PUBLICATION_ATTEMPTS)")
    publications: list[PublicationTroubleOut]
    deliveries: list[DeliveryTroubleOut]
    subscribers: list[FailingSubscriberOut] = Field(default_factory=list)


class HubRequestOut(BaseModel):
    id: int
    mode: str
    status: str
    reason: str | None
    requested_at: datetime
    completed_at: datetime | None


class SubscriptionStatus(BaseModel):
    topic: str
    callback: str
    state: str = Field(description="pending (intent not yet verified), active, expired, unsubscribed, gone (410), refused")
    reason: str | None = None
    lease_seconds: int | None = None
    expires_at: datetime | None = None
    verified_at: datetime | None = None
    requests: list[HubRequestOut]
    deliveries: list[DeliveryOut]
