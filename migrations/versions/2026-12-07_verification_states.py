"""verification states: each participant's verification as last computed, and whether the states are complete

Revision ID: 20261207_verification_states
Revises: 20261207_proven_addresses
Create Date: 2026-12-07 19:20:00.000000

Checks read `verification_states` instead of recomputing the vouch graph; a change of evidence recomputes the
states of those it may touch (networks.evidence). `verification_runs` holds one row when the states are complete,
with the number of vouches needed they were computed with.

The data step computes everyone's verification by the rule (`networks.verification`, pure functions) from the
stored evidence, with `COGOV_VOUCHES_NEEDED` as the migration's environment has it (default 2); a database with no
affiliations is left empty. A service
configured with another number finds the run's number differs and computes and stores them again at its first check.
"""

from __future__ import annotations

import os
import uuid
from collections import defaultdict
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from networks import domains
from networks.verification import Candidate, Evidence, Method, Vouch, verify

revision = "20261207_verification_states"
down_revision = "20261207_proven_addresses"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "verification_states",
        sa.Column("participant_id", sa.Uuid(), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=True),
        sa.Column("by", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["participant_id"], ["participants.id"], name=op.f("fk_verification_states_participant_id_participants")),
        sa.PrimaryKeyConstraint("participant_id", name=op.f("pk_verification_states")),
    )
    op.create_table(
        "verification_runs",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("needed", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_runs")),
    )
    _fill(op.get_bind())


def _fill(bind: sa.Connection) -> None:
    """Every participant's verification, as `networks.evidence` computes it, stored as complete."""
    needed = int(os.environ.get("COGOV_VOUCHES_NEEDED", "2"))
    affiliations = sa.table(
        "affiliations",
        sa.column("id", sa.Uuid()),
        sa.column("participant_id", sa.Uuid()),
        sa.column("stakeholder_group", sa.String()),
        sa.column("organisation_id", sa.Uuid()),
        sa.column("valid_to", sa.DateTime(timezone=True)),
    )
    participants = sa.table(
        "participants", sa.column("id", sa.Uuid()), sa.column("email", sa.String()), sa.column("email_verified_at", sa.DateTime())
    )
    claims = sa.table(
        "organisation_domains", sa.column("organisation_id", sa.Uuid()), sa.column("domain", sa.String()), sa.column("status", sa.String())
    )
    decisions = sa.table(
        "registrar_decisions",
        sa.column("affiliation_id", sa.Uuid()),
        sa.column("registrar_id", sa.Uuid()),
        sa.column("decision", sa.String()),
        sa.column("note", sa.Text()),
        sa.column("created_at", sa.DateTime()),
    )
    vouches = sa.table(
        "vouches",
        sa.column("id", sa.Uuid()),
        sa.column("voucher_id", sa.Uuid()),
        sa.column("affiliation_id", sa.Uuid()),
        sa.column("created_at", sa.DateTime()),
        sa.column("withdrawn_at", sa.DateTime()),
    )
    current = affiliations.c.valid_to.is_(None)
    if bind.execute(sa.select(affiliations.c.id).limit(1)).first() is None:
        return  # nothing to verify; the database stays empty (a restore needs one), its first check stores the states
    candidates, addresses = [], []
    rows = bind.execute(
        sa.select(
            affiliations.c.participant_id,
            affiliations.c.id,
            affiliations.c.stakeholder_group,
            affiliations.c.organisation_id,
            participants.c.email,
            participants.c.email_verified_at.is_not(None),
        )
        .join(participants, participants.c.id == affiliations.c.participant_id)
        .where(current)
    )
    for participant, affiliation, group, organisation, email, proven in rows:
        candidates.append(Candidate(participant, affiliation, group, organisation))
        if proven and organisation is not None:
            addresses.append((participant, organisation, email))
    # Second addresses proven by a mailed link count as the sign-in address does.
    seconds = sa.table("proven_addresses", sa.column("participant_id", sa.Uuid()), sa.column("email", sa.String()))
    for participant, organisation, email in bind.execute(
        sa.select(seconds.c.participant_id, affiliations.c.organisation_id, seconds.c.email)
        .join(affiliations, sa.and_(affiliations.c.participant_id == seconds.c.participant_id, current))
        .where(affiliations.c.organisation_id.is_not(None))
    ):
        addresses.append((participant, organisation, email))
    roots: dict[object, Evidence] = {}
    proven_domains: dict[uuid.UUID, list[str]] = defaultdict(list)
    for organisation, domain in bind.execute(
        sa.select(claims.c.organisation_id, claims.c.domain).where(claims.c.status == "verified").order_by(claims.c.domain)
    ):
        proven_domains[organisation].append(domain)
    for participant, organisation, email in addresses:
        for domain in proven_domains.get(organisation, ()):
            if domains.covers(domain, email):
                roots[participant] = Evidence(Method.domain, domain=domain)
                break
    newest = (
        sa.select(decisions.c.affiliation_id, sa.func.max(decisions.c.created_at).label("at"))
        .group_by(decisions.c.affiliation_id)
        .subquery()
    )
    revoked = set()
    for participant, decision, registrar, note in bind.execute(
        sa.select(affiliations.c.participant_id, decisions.c.decision, decisions.c.registrar_id, decisions.c.note)
        .join(newest, sa.and_(newest.c.affiliation_id == decisions.c.affiliation_id, newest.c.at == decisions.c.created_at))
        .join(affiliations, sa.and_(affiliations.c.id == decisions.c.affiliation_id, current))
    ):
        if decision == "revoked":
            revoked.add(participant)
        elif participant not in roots:
            roots[participant] = Evidence(Method.registrar, by=(registrar,), note=note)
    standing = bind.execute(
        sa.select(vouches.c.voucher_id, vouches.c.affiliation_id)
        .join(affiliations, sa.and_(affiliations.c.id == vouches.c.affiliation_id, current))
        .where(vouches.c.withdrawn_at.is_(None))
        .order_by(vouches.c.created_at, vouches.c.id)
    )
    found = verify(candidates, roots, [Vouch(voucher, affiliation) for voucher, affiliation in standing], needed, revoked)

    now = datetime.now(UTC)
    states = sa.table(
        "verification_states",
        sa.column("participant_id", sa.Uuid()),
        sa.column("method", sa.String()),
        sa.column("domain", sa.String()),
        sa.column("by", sa.Text()),
        sa.column("note", sa.Text()),
        sa.column("computed_at", sa.DateTime(timezone=True)),
    )
    rows_out = [
        {
            "participant_id": participant,
            "method": item.method.value,
            "domain": item.domain,
            "by": " ".join(str(who) for who in item.by),
            "note": item.note,
            "computed_at": now,
        }
        for participant, item in found.items()
    ]
    if rows_out:
        bind.execute(states.insert(), rows_out)
    runs = sa.table(
        "verification_runs",
        sa.column("id", sa.Integer()),
        sa.column("needed", sa.Integer()),
        sa.column("computed_at", sa.DateTime(timezone=True)),
    )
    bind.execute(runs.insert().values(id=1, needed=needed, computed_at=now))


def downgrade() -> None:
    op.drop_table("verification_runs")
    op.drop_table("verification_states")
