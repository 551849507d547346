from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
HeadHex = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$")]


class NormCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    text: str = ""


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
    change_count: int
    created_at: datetime


class NormOut(NormSummary):
    text: str
    heads: list[str]


class Splice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: int = Field(ge=0, description="Position in the text, in Unicode code points")
    delete: int = Field(default=0, ge=0, description="Characters to delete at `index`")
    insert: str = Field(default="", description="Text to insert at `index` after deleting")


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

    label: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
    note: Annotated[str, StringConstraints(max_length=10_000)] = ""


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
