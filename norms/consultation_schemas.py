"""Request and response bodies of consultations."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from norms.consultation_models import CommentStatus
from norms.schemas import PersonRef
from services.kit.validation import Prose, SafeText

# Bodies over this are refused with 422 (and anything over COGOV_MAX_BODY_BYTES with 413 before that).
MAX_COMMENT_CHARS = 10_000


class ConsultationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1, description="The version opened for comment")
    closes_at: datetime = Field(description="When commenting ends (ISO 8601 with zone)")
    question: Prose = Field(min_length=1, max_length=2000, description="What the network asks the public")


class AnchorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: int = Field(ge=0, description="First character of the passage in the version's text (code points)")
    end: int = Field(gt=0, description="Just past the passage's last character")
    quote: SafeText | None = Field(
        default=None, max_length=MAX_COMMENT_CHARS, description="The passage's text; must equal the version's text at start..end"
    )

    @model_validator(mode="after")
    def _ordered(self) -> AnchorIn:
        if self.end <= self.start:
            raise ValueError("end must be greater than start")
        return self


class CommentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: Prose = Field(min_length=1, max_length=MAX_COMMENT_CHARS)
    anchor: AnchorIn | None = None


class ReplyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: Prose = Field(min_length=1, max_length=MAX_COMMENT_CHARS)


class Resolution(BaseModel):
    """`addressed` names the version that addresses the comment; `declined` gives a reason."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["addressed", "declined"]
    version: int | None = Field(default=None, ge=1, description="For `addressed`: the version that addresses it")
    reason: SafeText | None = Field(default=None, max_length=MAX_COMMENT_CHARS, description="For `declined`: why")

    @model_validator(mode="after")
    def _complete(self) -> Resolution:
        if self.status == "addressed" and self.version is None:
            raise ValueError("addressed needs the version that addresses the comment")
        if self.status == "declined" and not (self.reason or "").strip():
            raise ValueError("declined needs a reason")
        return self


class Moderation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Prose = Field(min_length=1, max_length=2000, description="Shown publicly in place of the comment")


class AnchorOut(BaseModel):
    start: int
    end: int
    quote: str


class CurrentAnchor(BaseModel):
    """Where a comment's passage is in the current text: `exact` (same words), `shifted` (edited inside), `lost`."""

    comment_id: uuid.UUID
    state: Literal["exact", "shifted", "lost"]
    start: int | None
    end: int | None
    quote: str
    current: str | None


class ReplyOut(BaseModel):
    id: uuid.UUID
    author: PersonRef
    body: str
    created_at: datetime


class CommentOut(BaseModel):
    id: uuid.UUID
    consultation_id: uuid.UUID
    author: PersonRef
    body: str | None = Field(description="None when a convener hid the comment")
    anchor: AnchorOut | None
    stakeholder_group: str
    country: str
    region: str
    organisation: str | None
    created_at: datetime
    status: CommentStatus
    addressed_in_version: int | None
    decline_reason: str | None
    hidden: bool
    hidden_reason: str | None
    replies: list[ReplyOut]


class Summary(BaseModel):
    comments: int
    by_group: dict[str, int]
    by_region: dict[str, int]
    by_status: dict[str, int]
    hidden: int


class ConsultationOut(BaseModel):
    id: uuid.UUID
    norm_id: uuid.UUID
    norm_title: str
    network: str
    version: int
    question: str
    opened_by: PersonRef
    opened_at: datetime
    closes_at: datetime
    closed_at: datetime | None
    status: Literal["open", "closed"]
    comment_count: int
    url: str
    summary: Summary | None = Field(description="Counts per group, region and status; once closed")
