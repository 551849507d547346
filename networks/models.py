"""Affiliations (with their history), networks, charter versions, memberships and applications."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.kit.db import Base, UTCDateTime, new_id, utcnow

# Column sizes; the schemas enforce the same limits so the database never truncates or refuses.
CODE_LENGTH = 40
SLUG_LENGTH = 80
NAME_LENGTH = 120
ORGANISATION_LENGTH = 200
# A DNS name in IDNA (ASCII) form is at most 253 characters (RFC 1035).
DOMAIN_LENGTH = 253
TOKEN_LENGTH = 64
FRACTION_LENGTH = 32


def _enum(kind: type[enum.Enum], name: str) -> Enum:
    return Enum(kind, native_enum=False, length=20, create_constraint=True, name=name)


class MembershipPolicy(enum.StrEnum):
    open = "open"
    by_application = "by_application"


class NetworkStatus(enum.StrEnum):
    forming = "forming"
    active = "active"


class MemberRole(enum.StrEnum):
    member = "member"
    convener = "convener"


class ApplicationStatus(enum.StrEnum):
    pending = "pending"
    approved = "approved"
    declined = "declined"


class OrganisationStatus(enum.StrEnum):
    unverified = "unverified"
    verified = "verified"


class DomainStatus(enum.StrEnum):
    pending = "pending"
    verified = "verified"


class DomainMethod(enum.StrEnum):
    dns = "dns"
    registrar = "registrar"


class RegistrarDecisionKind(enum.StrEnum):
    verified = "verified"
    revoked = "revoked"


class Organisation(Base):
    """An organisation as a record: affiliations name it, and ballots weigh it once however it is spelled.

    `name_key` is the normalised name (`networks.organisations.name_key`): one record per key.
    Verified when one of its domains is proven (DNS or a registrar) or a registrar confirms it.
    """

    __tablename__ = "organisations"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(SLUG_LENGTH), unique=True)
    name: Mapped[str] = mapped_column(String(ORGANISATION_LENGTH))
    name_key: Mapped[str] = mapped_column(String(ORGANISATION_LENGTH), unique=True)
    # Unset for records made from free-text names by the migration, until someone completes them.
    stakeholder_group: Mapped[str | None] = mapped_column(String(CODE_LENGTH))
    country: Mapped[str | None] = mapped_column(String(2))
    website: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[OrganisationStatus] = mapped_column(
        _enum(OrganisationStatus, "organisation_status"), default=OrganisationStatus.unverified
    )
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("participants.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A registrar's confirmation by hand, with its public note.
    confirmed_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("participants.id"))
    confirmed_note: Mapped[str | None] = mapped_column(Text)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OrganisationDomain(Base):
    """An email domain an organisation claims, stored in IDNA (ASCII) form; proven by DNS TXT or by a registrar."""

    __tablename__ = "organisation_domains"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    organisation_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("organisations.id"), index=True)
    # One organisation per domain: a second claim is a near-duplicate, not a second owner.
    domain: Mapped[str] = mapped_column(String(DOMAIN_LENGTH), unique=True)
    token: Mapped[str] = mapped_column(String(TOKEN_LENGTH))
    status: Mapped[DomainStatus] = mapped_column(_enum(DomainStatus, "domain_status"), default=DomainStatus.pending)
    method: Mapped[DomainMethod | None] = mapped_column(_enum(DomainMethod, "domain_method"))
    note: Mapped[str | None] = mapped_column(Text)
    added_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("participants.id"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    verified_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("participants.id"))
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The last DNS check: when, and what it found ("verified", "token not found", "could not check yet: …").
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    check_result: Mapped[str | None] = mapped_column(String(300))


class Affiliation(Base):
    """One period of a participant's affiliation; the current one has no `valid_to`.

    Rows are closed, never edited, so what a participant was at any moment stays answerable.
    """

    __tablename__ = "affiliations"
    __table_args__ = (
        # At most one current affiliation per participant.
        Index(
            "uq_affiliations_current",
            "participant_id",
            unique=True,
            sqlite_where=text("valid_to IS NULL"),
            postgresql_where=text("valid_to IS NULL"),
        ),
        Index("ix_affiliations_participant_period", "participant_id", "valid_from"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    participant_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"))
    stakeholder_group: Mapped[str] = mapped_column(String(CODE_LENGTH))
    country: Mapped[str] = mapped_column(String(2))
    # Derived from the country when the row was written, under the taxonomy of that moment.
    region: Mapped[str] = mapped_column(String(CODE_LENGTH))
    # The organisation's name as given (kept for history); `organisation_id` is the record it names.
    organisation: Mapped[str | None] = mapped_column(String(ORGANISATION_LENGTH))
    # None: an independent expert, who counts alone in a tally.
    organisation_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("organisations.id"), index=True)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Network(Base):
    """A self-forming network. Its `status` is the formation rule's verdict, stored and kept current."""

    __tablename__ = "networks"
    __table_args__ = (Index("ix_networks_listing", "created_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(SLUG_LENGTH), unique=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    issue: Mapped[str] = mapped_column(Text)
    aims: Mapped[str] = mapped_column(Text)
    intended_outcome: Mapped[str] = mapped_column(Text)
    membership_policy: Mapped[MembershipPolicy] = mapped_column(_enum(MembershipPolicy, "membership_policy"))
    status: Mapped[NetworkStatus] = mapped_column(_enum(NetworkStatus, "network_status"), default=NetworkStatus.forming, index=True)
    # The version of `network_charters` in force; older versions stay for ballots opened under them.
    charter_version: Mapped[int] = mapped_column(Integer, default=1)
    founded_by: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NetworkCharter(Base):
    """One version of a network's charter. Amending adds a version; none is ever changed."""

    __tablename__ = "network_charters"
    __table_args__ = (
        UniqueConstraint("network_id", "version"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("min_regions >= 2", name="min_regions_at_least_2"),
        CheckConstraint("min_ballot_hours >= 1", name="min_ballot_hours_positive"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    network_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("networks.id"))
    version: Mapped[int] = mapped_column(Integer)
    required_groups: Mapped[list[str]] = mapped_column(JSON)
    min_regions: Mapped[int] = mapped_column(Integer)
    # Exact fractions as text ("1/2", "2/3"), never floats.
    quorum: Mapped[str] = mapped_column(String(FRACTION_LENGTH))
    threshold: Mapped[str] = mapped_column(String(FRACTION_LENGTH))
    min_ballot_hours: Mapped[int] = mapped_column(Integer)
    # Formation and ballots count only members with verified affiliations. New networks: true;
    # networks founded before verification existed: false until a convener amends the charter.
    verified_only: Mapped[bool] = mapped_column(Boolean, default=True, server_default=false())
    adopted_by: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"))
    adopted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Membership(Base):
    __tablename__ = "memberships"

    network_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("networks.id"), primary_key=True)
    participant_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"), primary_key=True, index=True)
    role: Mapped[MemberRole] = mapped_column(_enum(MemberRole, "member_role"), default=MemberRole.member)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Application(Base):
    """A request to join a network whose policy is `by_application`, decided by a convener."""

    __tablename__ = "network_applications"
    __table_args__ = (
        # One open application per participant and network.
        Index(
            "uq_network_applications_pending",
            "network_id",
            "participant_id",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_network_applications_listing", "network_id", "status", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    network_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("networks.id"))
    participant_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"), index=True)
    motivation: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[ApplicationStatus] = mapped_column(_enum(ApplicationStatus, "application_status"), default=ApplicationStatus.pending)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("participants.id"))
    decision_note: Mapped[str | None] = mapped_column(Text)


class Vouch(Base):
    """A verified participant's public word for one exact affiliation (group, country, organisation) of another.

    Vouching for an affiliation row means a changed affiliation (a new row) has no vouches.
    """

    __tablename__ = "vouches"
    __table_args__ = (
        Index(
            "uq_vouches_standing",
            "voucher_id",
            "affiliation_id",
            unique=True,
            sqlite_where=text("withdrawn_at IS NULL"),
            postgresql_where=text("withdrawn_at IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    voucher_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"), index=True)
    affiliation_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("affiliations.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class VouchRequest(Base):
    """A participant asking a named verified participant to vouch for their current affiliation."""

    __tablename__ = "vouch_requests"
    __table_args__ = (UniqueConstraint("affiliation_id", "asked_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    affiliation_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("affiliations.id"))
    asked_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RegistrarDecision(Base):
    """A registrar verifying or revoking one affiliation by hand, with a public note; the newest decision stands."""

    __tablename__ = "registrar_decisions"
    __table_args__ = (Index("ix_registrar_decisions_affiliation", "affiliation_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    affiliation_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("affiliations.id"))
    registrar_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"))
    decision: Mapped[RegistrarDecisionKind] = mapped_column(_enum(RegistrarDecisionKind, "registrar_decision"))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class VerificationState(Base):
    """A participant's verification as last computed (`networks.evidence`): how their current affiliation is
    verified; no row means unverified. Recomputed, in the transaction that changes it, for everyone a change may
    touch (a vouch given or withdrawn, a registrar's decision, a domain proven or lapsed, an affiliation or
    address changed), so checks read it instead of recomputing the vouch graph."""

    __tablename__ = "verification_states"

    participant_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"), primary_key=True)
    method: Mapped[str] = mapped_column(String(20))
    domain: Mapped[str | None] = mapped_column(String(DOMAIN_LENGTH))
    # The vouchers (oldest vouch first) or the registrar: ids, space-separated ("" for a domain).
    by: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    # The verification in words as a ballot freezes it (`networks.verification.describe`, with the names the
    # vouchers and registrar have now): kept when one of them is renamed, so a ballot opening reads it as is.
    words: Mapped[str] = mapped_column(Text)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class VerificationRun(Base):
    """One row (id 1) when `verification_states` is complete: the vouches needed it was computed with. Without it
    (or with another number needed) the first check computes everyone's verification and stores it."""

    __tablename__ = "verification_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    needed: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
