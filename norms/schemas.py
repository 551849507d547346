from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import PydanticCustomError

from norms.signoff import Position
from services.kit.validation import SafeText, TextBounds
from services.web.i18n import LANGUAGES

Title = Annotated[str, TextBounds(300, min_length=1, strip=True)]
VersionLabel = Annotated[str, TextBounds(120, min_length=1, strip=True)]
VersionNote = Annotated[str, TextBounds(10_000)]
HeadHex = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$")]


def _language(code: str) -> str:
    if code not in LANGUAGES:
        raise PydanticCustomError("language", "Not one of the six UN languages: {languages}", {"languages": ", ".join(LANGUAGES)})
    return code


# One of the six UN languages the interface speaks, by code (services/web/i18n.py).
LanguageCode = Annotated[str, AfterValidator(_language), WithJsonSchema({"type": "string", "enum": list(LANGUAGES)})]


class NormCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    text: SafeText = ""
    language: LanguageCode = Field(default="en", description="The language the norm is drafted in: its authentic text")


class PersonRef(BaseModel):
    id: uuid.UUID
    display_name: str


class NormSummary(BaseModel):
    id: uuid.UUID
    network: str
    slug: str
    title: str
    status: str
    url: str
    current_version: int | None
    adopted_version: int | None = Field(default=None, description="The version in force, once a ballot has adopted one")
    change_count: int
    created_at: datetime
    language: str = Field(description="The language the norm is drafted in: its authentic text")


class NormOut(NormSummary):
    text: str
    heads: list[str]


class Splice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: int = Field(ge=0, description="Position in the text, in Unicode code points")
    delete: int = Field(default=0, ge=0, description="Characters to delete at `index`")
    insert: SafeText = Field(default="", description="Text to insert at `index` after deleting")


class EditRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_heads: list[HeadHex] | None = Field(
        default=None, max_length=64, description="Heads the splices were made against; omit to edit the current text"
    )
    splices: list[Splice] = Field(default_factory=list, max_length=10_000)
    title: Title | None = None


class EditResult(BaseModel):
    heads: list[str]
    title: str
    text: str
    changes: list[str] = Field(description="Hashes of the changes this edit stored")


class ApplyResult(BaseModel):
    heads: list[str]
    stored: list[str] = Field(description="Hashes of the changes stored; changes already known are skipped")


class VersionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: VersionLabel
    note: VersionNote = ""


class VersionOut(BaseModel):
    number: int
    label: str
    note: str
    title: str
    heads: list[str]
    text_sha256: str
    created_by: PersonRef
    created_at: datetime


class VersionText(VersionOut):
    text: str


class Segment(BaseModel):
    op: Literal["equal", "insert", "delete"]
    text: str


class DiffStats(BaseModel):
    words_inserted: int
    words_deleted: int
    chars_inserted: int
    chars_deleted: int


class DiffOut(BaseModel):
    from_: str = Field(alias="from")
    to: str
    segments: list[Segment]
    stats: DiffStats

    model_config = ConfigDict(populate_by_name=True)


class HistoryEntry(BaseModel):
    hash: str
    participant: PersonRef
    received_at: datetime
    inserted: int
    deleted: int


class TextAt(BaseModel):
    change: str
    title: str
    text: str


class AuthorshipSpan(BaseModel):
    start: int
    end: int
    participant: PersonRef


class Authorship(BaseModel):
    heads: list[str]
    spans: list[AuthorshipSpan]


# --- Ballots -------------------------------------------------------------------------------

Reason = Annotated[str, TextBounds(4000, strip=True)]


class BallotCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1, description="The version number to vote on")
    closes_at: AwareDatetime = Field(description="When voting ends: at least the charter's `min_ballot_hours` from now")


class VoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    position: Position
    reason: Reason | None = Field(default=None, validate_default=True, description="Required to object; public")

    @field_validator("reason")
    @classmethod
    def _objection_has_reason(cls, reason: str | None, info: ValidationInfo) -> str | None:
        reason = reason or None
        if info.data.get("position") is Position.object and reason is None:
            raise PydanticCustomError("reason_required", "An objection needs a reason; it is shown with your vote")
        return reason


class WhatIfVote(BaseModel):
    model_config = ConfigDict(extra="forbid")

    participant_id: uuid.UUID
    position: Position


class WhatIfIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    votes: list[WhatIfVote] = Field(max_length=100_000, description="Votes to add (replacing those electors' votes)")


class PolicyOut(BaseModel):
    charter_version: int
    quorum: str = Field(description='Exact fraction, e.g. "1/2"')
    quorum_value: float
    threshold: str
    threshold_value: float
    min_ballot_hours: int
    verified_only: bool = Field(default=False, description="Only members with verified affiliations were electors")
    statement: str = ""

    def model_post_init(self, context: object) -> None:
        self.statement = (
            "Only members with verified affiliations vote (verified_only); each elector's verification is shown"
            if self.verified_only
            else "Every member with an affiliation votes, verified or not (verified_only off)"
        )


class TallyOut(BaseModel):
    dimension: Literal["group", "region"]
    key: str
    label: str
    electors: int
    voted: int
    turnout: str = Field(description="Electors who voted, by head, over the electorate: an exact fraction")
    turnout_value: float
    turnout_needed: int = Field(description="Heads needed to reach the quorum")
    approvals: str = Field(description="Weighted: each organisation counts once")
    approvals_value: float
    objections: str
    objections_value: float
    abstentions: str
    abstentions_value: float
    support: str | None = Field(description="approvals / (approvals + objections); null before either")
    support_value: float | None
    passes: bool
    settled: bool = Field(description="The electors yet to vote cannot change `passes`")
    missing: list[str]


class OutcomeOut(BaseModel):
    adopted: bool
    settled: bool = Field(description="The electors yet to vote cannot change `adopted` (cast votes may still change)")
    missing: list[str]
    groups: list[TallyOut]
    regions: list[TallyOut]


class ElectorOut(BaseModel):
    participant_id: uuid.UUID
    name: str
    stakeholder_group: str
    region: str
    organisation: str | None
    verification: str = Field(default="unverified", description="How the affiliation was verified when the ballot opened, in words")
    voted: bool


class VoteOut(BaseModel):
    participant_id: uuid.UUID
    name: str
    stakeholder_group: str
    region: str
    organisation: str | None
    verification: str = "unverified"
    position: Position
    reason: str | None
    cast_at: datetime
    changed_at: datetime | None


class BallotVersion(BaseModel):
    number: int
    title: str
    label: str
    heads: list[str]
    text_sha256: str


class BallotSummary(BaseModel):
    id: uuid.UUID
    norm_id: uuid.UUID
    version_number: int
    status: Literal["open", "closed"]
    opened_at: datetime
    closes_at: datetime
    closed_at: datetime | None
    close_reason: Literal["deadline", "all_voted", "convener"] | None
    adopted: bool | None
    electors: int
    voted: int


class BallotOut(BallotSummary):
    network: str
    version: BallotVersion
    policy: PolicyOut
    opened_by: PersonRef
    closed_by: PersonRef | None
    convener_may_close_at: datetime = Field(description="When a convener may close it early (the charter's minimum duration)")
    electorate: list[ElectorOut]
    votes: list[VoteOut]
    excluded: list[dict[str, str]] = Field(default_factory=list, description="Members left out when it opened, each with the reason")
    outcome: OutcomeOut
    adoption_id: uuid.UUID | None


class AdoptionOut(BaseModel):
    id: uuid.UUID
    norm_id: uuid.UUID
    ballot_id: uuid.UUID
    version_number: int
    title: str
    heads: list[str]
    text_sha256: str
    policy: PolicyOut
    outcome: OutcomeOut
    votes: list[VoteOut]
    adopted_at: datetime
    supersedes_id: uuid.UUID | None
    in_force: bool


class TranslationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: LanguageCode = Field(description="The language to translate the version into (not the norm's own)")


class TranslationSummary(BaseModel):
    """A translation of one version: its own Automerge document (`url`), co-edited live like a norm's."""

    id: uuid.UUID
    norm_id: uuid.UUID
    version: int
    language: str
    authentic_language: str = Field(description="The language of the authentic text this translates")
    url: str = Field(description="The translation's Automerge document URL, for the live-sync socket")
    title: str
    change_count: int
    created_by: PersonRef
    created_at: datetime
    reviewed: bool = Field(description="Whether a convener has reviewed it; published entries carry the reviewed text")
    reviewed_by: PersonRef | None
    reviewed_at: datetime | None
    reviewed_heads: list[str] | None


class TranslationOut(TranslationSummary):
    text: str = Field(description="The current text, as translators have it now")
    heads: list[str]
    reviewed_title: str | None
    reviewed_text: str | None = Field(description="The text as the convener reviewed it: what is published")
