"""Verified affiliations at scale: the formation check and a ballot's electorate under `verified_only`.

    python -m bench.verification [--members 5000] [--organisations 1000] [--runs 20] [--postgres URL]

One network of `--members` members in `--organisations` organisations; 60% of the organisations have a
domain proven by DNS and their members addresses there (verified by domain); the members of the others,
and 10% independent experts, are verified by vouching, in chains (each vouched for by two verified
members of the same group from other organisations, who may themselves be vouched for); 5% stay unverified.
Every participant's verification is stored once after seeding (`networks.evidence.build`, as the first check after
an upgrade does; afterwards each act that changes evidence keeps it). Measured, each from a fresh session: the
formation check (`networks.service.formation`: roster, who is verified, the rule) and a ballot opening's
electorate (`norms.ballots._electorate_now`: members, who is verified and how, weighed by organisation record,
the members left out). Target: under 100 ms each. The process's garbage collector is set as the server sets its own
(`services.kit.runtime`), so a full collection's pause is of what the checks made, not of everything imported.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta

import migrations
from bench.machine import describe, percentile
from bench.seed import postgres_database
from networks import evidence
from networks import service as networks
from networks.models import (
    Affiliation,
    DomainMethod,
    DomainStatus,
    Membership,
    MembershipPolicy,
    Network,
    NetworkCharter,
    Organisation,
    OrganisationDomain,
    OrganisationStatus,
    Vouch,
)
from networks.taxonomy import default_taxonomy
from norms import ballots, signoff
from services.accounts.models import Participant
from services.kit.db import create_engine, create_sessionmaker, transaction
from services.kit.runtime import tune_garbage_collector

TARGET_MS = 100.0
GROUPS = ["government", "private_sector", "civil_society", "technical_academic"]
COUNTRIES = ["BR", "DE", "KE", "JP", "PL", "IN", "US", "NG"]


async def seed(url: str, members: int, organisation_count: int, rng: random.Random, *, store: bool = True) -> tuple[str, dict[str, int]]:
    taxonomy = default_taxonomy()
    engine = create_engine(url)
    now = datetime.now(UTC)
    participants, affiliations, memberships, orgs, domains, vouches = [], [], [], [], [], []
    organisations = []
    for n in range(organisation_count):
        oid = uuid.uuid4()
        proven = n < organisation_count * 0.6
        group = GROUPS[n % len(GROUPS)]
        organisations.append((oid, f"org{n}.example" if proven else None, group))
        orgs.append(
            {
                "id": oid,
                "slug": f"org-{n}",
                "name": f"Organisation {n}",
                "name_key": f"organisation {n}",
                "stakeholder_group": group,
                "status": OrganisationStatus.verified if proven else OrganisationStatus.unverified,
                "created_at": now,
            }
        )
        if proven:
            domains.append(
                {
                    "id": uuid.uuid4(),
                    "organisation_id": oid,
                    "domain": f"org{n}.example",
                    "token": "t",
                    "status": DomainStatus.verified,
                    "method": DomainMethod.dns,
                    "added_at": now,
                    "verified_at": now,
                }
            )
    network_id, founder = uuid.uuid4(), None
    people: list[tuple[uuid.UUID, uuid.UUID, str, uuid.UUID | None]] = []  # (participant, affiliation, group, organisation)
    counts = {"domain": 0, "vouched": 0, "unverified": 0}
    for n in range(members):
        pid, aid = uuid.uuid4(), uuid.uuid4()
        founder = founder or pid
        independent = rng.random() < 0.1
        oid, domain, group = (None, None, rng.choice(GROUPS)) if independent else organisations[n % organisation_count]
        email = f"p{n}@{domain}" if domain else f"p{n}@people.example"
        country = rng.choice(COUNTRIES)
        participants.append(
            {
                "id": pid,
                "email": email,
                "display_name": f"Person {n}",
                "password_hash": "-",
                "role": "participant",
                "token_version": 0,
                "created_at": now,
                "email_verified_at": now,
            }
        )
        affiliations.append(
            {
                "id": aid,
                "participant_id": pid,
                "stakeholder_group": group,
                "country": country,
                "region": taxonomy.country(country).region,
                "organisation": f"Organisation {n % organisation_count}" if oid else None,
                "organisation_id": oid,
                "valid_from": now - timedelta(days=1),
            }
        )
        memberships.append(
            {"network_id": network_id, "participant_id": pid, "role": "member", "joined_at": now + timedelta(microseconds=n)}
        )
        people.append((pid, aid, group, oid))
        if domain:
            counts["domain"] += 1
    # Vouch chains: in join order, each member without a domain is vouched for by two earlier verified
    # members of their group from two other organisations; 5% are left without vouches.
    verified_by_group: dict[str, list[tuple[uuid.UUID, uuid.UUID | None]]] = {group: [] for group in GROUPS}
    domain_orgs = {oid for oid, domain, _ in organisations if domain}
    for pid, aid, group, oid in people:
        if oid in domain_orgs:
            verified_by_group[group].append((pid, oid))
            continue
        pool = [(voucher, org) for voucher, org in verified_by_group[group][-50:] if org != oid or org is None]
        chosen: list[uuid.UUID] = []
        units: set[object] = set()
        for voucher, org in reversed(pool):
            unit = org or voucher
            if unit not in units:
                units.add(unit)
                chosen.append(voucher)
            if len(chosen) == 2:
                break
        if rng.random() < 0.05 or len(chosen) < 2:
            counts["unverified"] += 1
            continue
        vouches.extend({"id": uuid.uuid4(), "voucher_id": voucher, "affiliation_id": aid, "created_at": now} for voucher in chosen)
        verified_by_group[group].append((pid, oid))
        counts["vouched"] += 1

    async with engine.begin() as connection:
        await connection.execute(Participant.__table__.insert(), participants)
        await connection.execute(Organisation.__table__.insert(), orgs)
        if domains:
            await connection.execute(OrganisationDomain.__table__.insert(), domains)
        await connection.execute(Affiliation.__table__.insert(), affiliations)
        await connection.execute(
            Network.__table__.insert(),
            [
                {
                    "id": network_id,
                    "slug": "bench-verified",
                    "name": "Bench",
                    "issue": "-",
                    "aims": "-",
                    "intended_outcome": "-",
                    "membership_policy": MembershipPolicy.open,
                    "status": "forming",
                    "charter_version": 1,
                    "founded_by": founder,
                    "created_at": now,
                    "status_changed_at": now,
                }
            ],
        )
        await connection.execute(
            NetworkCharter.__table__.insert(),
            [
                {
                    "id": uuid.uuid4(),
                    "network_id": network_id,
                    "version": 1,
                    "required_groups": GROUPS,
                    "min_regions": 3,
                    "quorum": "1/2",
                    "threshold": "1/2",
                    "min_ballot_hours": 24,
                    "verified_only": True,
                    "adopted_by": founder,
                    "adopted_at": now,
                }
            ],
        )
        await connection.execute(Membership.__table__.insert(), memberships)
        if vouches:
            await connection.execute(Vouch.__table__.insert(), vouches)
    # A running database has every participant's verification stored (kept by each act that changes it); the
    # seed wrote rows directly, so compute and store it once, as the first check after an upgrade does.
    if store:
        async with transaction(create_sessionmaker(engine)) as session:
            await evidence.build(session, taxonomy.vouches_needed)
    # A running database has statistics (autovacuum keeps them); without them PostgreSQL plans the ballot's
    # join of members and affiliations as a nested loop over 25 million pairs.
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.exec_driver_sql("ANALYZE")
    await engine.dispose()
    return str(network_id), counts | {"vouches": len(vouches)}


async def measure(url: str, network_id: str, runs: int) -> dict[str, list[float]]:
    taxonomy = default_taxonomy()
    engine = create_engine(url)
    sessionmaker = create_sessionmaker(engine)
    timings: dict[str, list[float]] = {"formation check": [], "ballot electorate": []}
    shown = {}
    for run in range(runs + 1):
        async with sessionmaker() as session:
            started = time.perf_counter()
            _charter, verdict, member_count = await networks.formation(session, taxonomy, "bench-verified")
            elapsed = (time.perf_counter() - started) * 1000
            if run:
                timings["formation check"].append(elapsed)
            shown["formation"] = (
                f"{verdict.status.value}, {sum(sum(row.values()) for row in verdict.matrix.values()):,} of {member_count:,} counted"
            )
        async with sessionmaker() as session:
            started = time.perf_counter()
            electorate, _frozen, excluded = await ballots._electorate_now(session, taxonomy.vouches_needed, uuid.UUID(network_id), True)
            problems = signoff.electorate_problems(electorate)
            elapsed = (time.perf_counter() - started) * 1000
            if run:
                timings["ballot electorate"].append(elapsed)
            shown["electorate"] = (
                f"{len(electorate):,} electors, {len(excluded):,} left out{', ' + '; '.join(problems) if problems else ''}"
            )
    await engine.dispose()
    print(f"  formation: {shown['formation']}; ballot: {shown['electorate']}")
    return timings


def run(url: str, label: str, args: argparse.Namespace) -> None:
    migrations.upgrade(url)
    network_id, counts = asyncio.run(seed(url, args.members, args.organisations, random.Random(args.seed)))
    print(
        f"{label}: {args.members:,} members, {args.organisations:,} organisations; verified by domain {counts['domain']:,}, "
        f"by vouching {counts['vouched']:,} ({counts['vouches']:,} vouches, in chains), unverified {counts['unverified']:,}"
    )
    timings = asyncio.run(measure(url, network_id, args.runs))
    print(f"| database | measure | median | p95 | max | target {TARGET_MS:.0f} ms |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, values in timings.items():
        median = statistics.median(values)
        verdict = "met" if percentile(values, 95) < TARGET_MS else "missed"
        print(f"| {label} | {name} | {median:.1f} ms | {percentile(values, 95):.1f} ms | {max(values):.1f} ms | {verdict} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=5000)
    parser.add_argument("--organisations", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--postgres", default=None, help="an admin URL of a PostgreSQL server to run on as well")
    args = parser.parse_args()
    tune_garbage_collector()  # as `cogov serve` does once started
    print(f"machine: {describe()}")
    with tempfile.TemporaryDirectory() as tmp:
        run(f"sqlite+aiosqlite:///{tmp}/bench.db", "SQLite", args)
    if args.postgres:
        with postgres_database(args.postgres) as url:
            run(url, "PostgreSQL", args)


if __name__ == "__main__":
    main()
