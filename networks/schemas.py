"""Request and response bodies for taxonomy, affiliations, networks, charters and membership.

Checks that need no taxonomy (lengths, types, fraction bounds) live here and answer with the
standard 422; checks against the configured taxonomy live in the service.
"""

from __future__ import annotations

import math
import re
import uuid
from datetime import datetime
from fractions import Fraction
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from networks.models import (
    NAME_LENGTH,
    ORGANISATION_LENGTH,
    ApplicationStatus,
    MemberRole,
    MembershipPolicy,
    NetworkStatus,
)
from services.kit.validation import TextBounds

ISSUE_LENGTH = 2000
AIMS_LENGTH = 4000
OUTCOME_LENGTH = 2000
MOTIVATION_LENGTH = 4000
NOTE_LENGTH = 2000
# Long enough for any code a taxonomy uses, short enough that a 422 can quote it back.
CODE_INPUT_LENGTH = 64
MAX_REQUIRED_GROUPS = 50
MAX_BALLOT_HOURS = 24 * 366
MAX_DENOMINATOR = 1_000_000

DEFAULT_QUORUM = Fraction(1, 2)
DEFAULT_THRESHOLD = Fraction(1, 2)
DEFAULT_MIN_BALLOT_HOURS = 24


Name = Annotated[str, TextBounds(NAME_LENGTH, min_length=1, strip=True)]
Issue = Annotated[str, TextBounds(ISSUE_LENGTH, min_length=1, strip=True)]
Aims = Annotated[str, TextBounds(AIMS_LENGTH, min_length=1, strip=True)]
Outcome = Annotated[str, TextBounds(OUTCOME_LENGTH, min_length=1, strip=True)]
Motivation = Annotated[str, TextBounds(MOTIVATION_LENGTH, strip=True)]
Note = Annotated[str, TextBounds(NOTE_LENGTH, strip=True)]
Organisation = Annotated[str, TextBounds(ORGANISATION_LENGTH, strip=True)]
Code = Annotated[str, TextBounds(CODE_INPUT_LENGTH, min_length=1, strip=True)]
StrictCount = Annotated[int, Field(strict=True)]

_DECIMAL = re.compile(r"\d{1,9}(?:\.\d{1,9})?|\.\d{1,9}")
_RATIO = re.compile(r"(\d{1,9})\s*/\s*(\d{1,9})")
_FRACTION_HINT = 'a number from 0 to 1 or a fraction such as "1/2" or "2/3"'


def parse_fraction(value: object) -> Fraction:
    """A number or a fraction string as an exact `Fraction`: 0.5, "0.5" and "1/2" are all 1/2.

    Floats are read as the decimal they print as (0.1 is 1/10, not the binary double).
    Inputs that would make huge numbers ("1e999999") are refused before any arithmetic.
    """
    if isinstance(value, bool):
        raise PydanticCustomError("fraction_type", f"Must be {_FRACTION_HINT}, got a boolean")
    if isinstance(value, Fraction):
        fraction = value
    elif isinstance(value, int):
        fraction = Fraction(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise PydanticCustomError("fraction_type", f"Must be {_FRACTION_HINT}, got {value}")
        fraction = Fraction(repr(value))
    elif isinstance(value, str):
        text = value.strip()
        ratio = _RATIO.fullmatch(text)
        if ratio:
            numerator, denominator = (int(part) for part in ratio.groups())
            if denominator == 0:
                raise PydanticCustomError("fraction_parsing", "The denominator must not be 0")
            fraction = Fraction(numerator, denominator)
        elif _DECIMAL.fullmatch(text):
            fraction = Fraction(text)
        else:
            shown = text if len(text) <= 40 else text[:40] + "…"
            raise PydanticCustomError("fraction_parsing", f"Must be {_FRACTION_HINT}, got {shown!r}")
    else:
        raise PydanticCustomError("fraction_type", f"Must be {_FRACTION_HINT}, got {type(value).__name__}")
    if fraction.denominator > MAX_DENOMINATOR:
        raise PydanticCustomError("fraction_precision", f"Use a fraction with a denominator of at most {MAX_DENOMINATOR:,}")
    return fraction


def _quorum(value: Fraction) -> Fraction:
    if not 0 < value <= 1:
        raise PydanticCustomError("quorum_range", f"The quorum must be more than 0 and at most 1, got {value}")
    return value


def _threshold(value: Fraction) -> Fraction:
    if not Fraction(1, 2) <= value <= 1:
        raise PydanticCustomError(
            "threshold_range",
            f"The threshold must be at least 1/2 and at most 1 (support must also exceed 1/2), got {value}",
        )
    return value


_FRACTION_SCHEMA = WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "string", "examples": ["1/2", "2/3", "0.6"]}]})
Quorum = Annotated[Fraction, PlainValidator(parse_fraction), AfterValidator(_quorum), _FRACTION_SCHEMA]
Threshold = Annotated[Fraction, PlainValidator(parse_fraction), AfterValidator(_threshold), _FRACTION_SCHEMA]
BallotHours = Annotated[int, Field(strict=True, ge=1, le=MAX_BALLOT_HOURS)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Taxonomy


class Label(BaseModel):
    code: str
    label: str


class CountryOut(BaseModel):
    code: str
    name: str
    region: str


class TaxonomyOut(BaseModel):
    groups: list[Label]
    regions: list[Label]
    countries: list[CountryOut]


# Affiliation


class AffiliationIn(_Input):
    stakeholder_group: Code = Field(description="A stakeholder group code from GET /api/v1/taxonomy")
    country: Code = Field(description="ISO 3166-1 alpha-2 code; the region follows from it")
    organisation_id: uuid.UUID | None = Field(default=None, description="An organisation record (GET /api/v1/organisations)")
    organisation: Organisation | None = Field(
        default=None,
        description="An organisation by name: the record with this normalised name, else a new unverified record. "
        "Neither this nor organisation_id: an independent expert.",
    )


class AffiliationOut(BaseModel):
    stakeholder_group: str
    stakeholder_group_label: str
    country: str
    country_name: str
    region: str
    region_label: str
    organisation: str | None
    organisation_id: uuid.UUID | None = None
    valid_from: datetime
    valid_to: datetime | None
    verification: dict[str, Any] | None = Field(default=None, description="How this affiliation is verified, with its public evidence")


# Charter


class SignoffIn(_Input):
    quorum: Quorum = DEFAULT_QUORUM
    threshold: Threshold = DEFAULT_THRESHOLD
    min_ballot_hours: BallotHours = DEFAULT_MIN_BALLOT_HOURS


class CharterIn(_Input):
    required_groups: Annotated[list[Code], Field(max_length=MAX_REQUIRED_GROUPS)] | None = Field(
        default=None, description="Default: every group but intergovernmental; at least 3"
    )
    min_regions: StrictCount | None = Field(default=None, description="Default 3; at least 2")
    verified_only: bool = Field(default=True, description="Formation and ballots count only members with verified affiliations")
    signoff: SignoffIn = Field(default_factory=SignoffIn)


class SignoffPatch(_Input):
    quorum: Quorum | None = None
    threshold: Threshold | None = None
    min_ballot_hours: BallotHours | None = None


class CharterPatch(_Input):
    """Only the fields sent change; the rest of the charter stays as it is."""

    required_groups: Annotated[list[Code], Field(max_length=MAX_REQUIRED_GROUPS)] | None = None
    min_regions: StrictCount | None = None
    verified_only: bool | None = None
    signoff: SignoffPatch | None = None


class SignoffOut(BaseModel):
    quorum: str = Field(description='Exact fraction, e.g. "1/2"')
    quorum_value: float
    threshold: str = Field(description='Exact fraction, e.g. "2/3"')
    threshold_value: float
    min_ballot_hours: int


class CharterOut(BaseModel):
    version: int
    required_groups: list[str]
    min_regions: int
    verified_only: bool = Field(description="Only members with verified affiliations count for formation and ballots")
    signoff: SignoffOut
    adopted_by: uuid.UUID
    adopted_at: datetime


# Networks


class NetworkCreate(_Input):
    name: Name
    issue: Issue
    aims: Aims
    intended_outcome: Outcome
    membership_policy: MembershipPolicy = MembershipPolicy.open
    charter: CharterIn = Field(default_factory=CharterIn)


class NetworkOut(BaseModel):
    slug: str
    name: str
    issue: str
    aims: str
    intended_outcome: str
    membership_policy: MembershipPolicy
    status: NetworkStatus
    charter: CharterOut
    member_count: int
    founded_by: uuid.UUID
    created_at: datetime
    status_changed_at: datetime


# Membership


class JoinIn(_Input):
    motivation: Motivation = Field(default="", description="Why you want to join; read by the conveners")


class DecisionIn(_Input):
    note: Note | None = Field(default=None, description="Told to the applicant with the decision")


class ConvenerIn(_Input):
    participant_id: uuid.UUID


class MemberOut(BaseModel):
    participant_id: uuid.UUID
    name: str
    stakeholder_group: str | None
    region: str | None
    organisation: str | None
    role: MemberRole
    joined_at: datetime
    verification: dict[str, Any] | None = Field(default=None, description="The member's verification badge, in words")


class ApplicationOut(BaseModel):
    id: uuid.UUID
    participant_id: uuid.UUID
    name: str
    stakeholder_group: str | None
    region: str | None
    organisation: str | None
    motivation: str
    status: ApplicationStatus
    created_at: datetime
    decided_at: datetime | None
    decision_note: str | None


class JoinOut(BaseModel):
    outcome: Literal["member", "pending"]
    member: MemberOut | None = None
    application: ApplicationOut | None = None


class FormationOut(BaseModel):
    status: NetworkStatus
    explanation: list[str]
    required_groups: list[str]
    min_regions: int
    groups_present: list[str]
    groups_missing: list[str]
    regions_present: list[str]
    regions_needed: int
    member_count: int
    verified_only: bool = False
    verified_policy: str = Field(default="", description="Who the rule counts, in words")
    counted: int | None = Field(default=None, description="Members the rule counted (under verified_only, the verified ones)")
    matrix: dict[str, dict[str, int]] = Field(description="Members per stakeholder group (rows) and region (columns)")
