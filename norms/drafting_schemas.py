"""Request and response bodies of the drafting stage: discussions, suggested changes, sense checks."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from norms.drafting_models import Answer, SuggestionStatus, ThreadStatus
from norms.schemas import ElectorOut, OutcomeOut, PersonRef, PolicyOut
from services.kit.validation import Prose, SafeText

MAX_POST_CHARS = 10_000
# A suggestion's replacement text; the edit limits (operations, characters) may refuse less, with 413.
MAX_REPLACEMENT_CHARS = 200_000


class PassageIn(BaseModel):
    """A passage of the current text (or of the text at `heads`): its range in code points and, to be sure, its words."""

    model_config = ConfigDict(extra="forbid")

    start: int = Field(ge=0, description="First character of the passage (code points)")
    end: int = Field(gt=0, description="Just past the passage's last character")
    quote: SafeText | None = Field(default=None, max_length=MAX_REPLACEMENT_CHARS, description="The passage's words as the client saw them")
    heads: list[str] | None = Field(
        default=None, max_length=64, description="The document heads the range refers to; the current text if omitted"
    )

    @model_validator(mode="after")
    def _ordered(self) -> PassageIn:
        if self.end <= self.start:
            raise ValueError("end must be greater than start")
        return self


class PassageOut(BaseModel):
    """An anchor and where its passage is now: `exact`, `shifted` (edited inside) or `lost` (detached)."""

    start: int
    end: int
    quote: str
    # The document's heads the passage was chosen at (`start`, `end` and `quote` are of the text there).
    heads: list[str]
    state: Literal["exact", "shifted", "lost"]
    current_start: int | None
    current_end: int | None
    current: str | None


# --- Discussions ------------------------------------------------------------------------------


class ThreadCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: Prose = Field(min_length=1, max_length=MAX_POST_CHARS, description="The opening post; `@Name` mentions a network member")
    anchor: PassageIn | None = None


class PostCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: Prose = Field(min_length=1, max_length=MAX_POST_CHARS)


class ThreadState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: ThreadStatus


class HideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Prose = Field(min_length=1, max_length=2000, description="Shown publicly in place of the post")


class MentionOut(BaseModel):
    participant: PersonRef
    start: int = Field(description="Where `@Name` starts in the body")
    end: int


class PostOut(BaseModel):
    id: uuid.UUID
    author: PersonRef
    body: str | None = Field(description="None when hidden")
    created_at: datetime
    hidden: bool
    hidden_reason: str | None
    mentions: list[MentionOut]


class ThreadOut(BaseModel):
    id: uuid.UUID
    norm_id: uuid.UUID
    author: PersonRef
    status: ThreadStatus
    anchor: PassageOut | None
    created_at: datetime
    updated_at: datetime
    resolved_by: PersonRef | None
    resolved_at: datetime | None
    posts: list[PostOut]


# --- Suggested changes ------------------------------------------------------------------------


class SuggestionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    passage: PassageIn
    replacement: SafeText = Field(max_length=MAX_REPLACEMENT_CHARS, description="The words to put in the passage's place")
    note: SafeText | None = Field(default=None, max_length=MAX_POST_CHARS, description="Why")


class SuggestionRefresh(BaseModel):
    """Move an outdated suggestion onto the passage as it is now (its author)."""

    model_config = ConfigDict(extra="forbid")

    passage: PassageIn | None = Field(default=None, description="The passage now; by default where the old one was found")
    replacement: SafeText | None = Field(default=None, max_length=MAX_REPLACEMENT_CHARS)


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: SafeText | None = Field(default=None, max_length=MAX_POST_CHARS, description="Why; required to decline")


class DeclineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Prose = Field(min_length=1, max_length=MAX_POST_CHARS, description="Why it is declined; public")


class SuggestionMark(BaseModel):
    """One piece of the passage as the suggestion would change it: kept, inserted or deleted words."""

    op: Literal["equal", "insert", "delete"]
    text: str


class SuggestionOut(BaseModel):
    id: uuid.UUID
    norm_id: uuid.UUID
    author: PersonRef
    passage: PassageOut
    replacement: str
    note: str | None
    marks: list[SuggestionMark] = Field(description="The word diff of the passage to the replacement")
    status: SuggestionStatus
    outdated: bool = Field(description="The passage has changed since: accepting is refused until its author refreshes it")
    consultation_id: uuid.UUID | None
    created_at: datetime
    refreshed_at: datetime | None
    decided_by: PersonRef | None
    decided_at: datetime | None
    reason: str | None
    changes: list[str] | None = Field(description="Hashes of the changes accepting it made, credited to its author")


# --- Sense checks -----------------------------------------------------------------------------


class SenseCheckCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: Prose = Field(min_length=1, max_length=2000, description='e.g. "Is this ready for a ballot?"')
    version: int | None = Field(default=None, ge=1, description="The version asked about; the current text if omitted")
    closes_at: datetime | None = Field(default=None, description="When answers end; open until a convener closes it if omitted")


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answer: Answer
    reason: SafeText | None = Field(default=None, max_length=4000, validate_default=True, description="Required to disagree; public")

    @field_validator("reason")
    @classmethod
    def _disagreement_has_reason(cls, reason: str | None, info: ValidationInfo) -> str | None:
        reason = (reason or "").strip() or None
        if info.data.get("answer") is Answer.disagree and reason is None:
            raise PydanticCustomError("reason_required", "Disagreeing needs a reason; it is shown with your answer")
        return reason


class AnswerOut(BaseModel):
    participant_id: uuid.UUID
    name: str
    stakeholder_group: str
    region: str
    organisation: str | None
    answer: Answer
    reason: str | None
    answered_at: datetime
    changed_at: datetime | None


class SenseCheckOut(BaseModel):
    id: uuid.UUID
    norm_id: uuid.UUID
    network: str
    question: str
    version: int | None = Field(description="The version asked about; None: the current text")
    status: Literal["open", "closed"]
    opened_by: PersonRef
    opened_at: datetime
    closes_at: datetime | None
    closed_at: datetime | None
    policy: PolicyOut
    electorate: list[ElectorOut] = Field(description="The network's members now, with their affiliations")
    answers: list[AnswerOut]
    outcome: OutcomeOut = Field(description="The sign-off rule's tally of the answers, as a ballot's (agree = approve)")
    would_pass: bool = Field(description="A ballot with these votes would adopt the version if it closed now")
