"""The migrations that store verification and its words, on a copy of a database with domains, vouch chains and
unverified members: what they store is what the rule gives from the evidence, in its words (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import random

import pytest
from sqlalchemy import func, select

import migrations
from bench.verification import seed
from networks import evidence
from networks.models import VerificationRun, VerificationState
from services.kit.db import create_engine, create_sessionmaker
from tests.fixtures.databases import POSTGRES_URL, create_postgres_database, drop_postgres_database
from tests.fixtures.environment import service_unavailable

BEFORE = "20261207_proven_addresses"


async def _compare(url: str) -> tuple[int, int]:
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            assert await session.scalar(select(VerificationRun.needed)) == evidence.DEFAULT_VOUCHES_NEEDED
            stored = await evidence.verdicts(session, None)
            computed = await evidence.computed(session, None)
            assert stored.evidence == computed.evidence
            words = dict((await session.execute(select(VerificationState.participant_id, VerificationState.words))).tuples().all())
            assert words == {participant: computed.words(participant) for participant in computed.evidence}
            assert await session.scalar(select(func.count()).select_from(VerificationState)) == len(stored.evidence)
            methods = [item.method.value for item in stored.evidence.values()]
            return methods.count("domain"), methods.count("vouching")
    finally:
        await engine.dispose()


def _migrate_copy(url: str) -> None:
    migrations.upgrade(url, BEFORE)
    _network, counts = asyncio.run(seed(url, 300, 60, random.Random(3), store=False))
    migrations.upgrade(url)
    assert asyncio.run(_compare(url)) == (counts["domain"], counts["vouched"])


def test_the_migration_stores_everyones_verification_on_sqlite(tmp_path):
    _migrate_copy(f"sqlite+aiosqlite:///{tmp_path}/copy.db")


@pytest.mark.postgres
def test_the_migration_stores_everyones_verification_on_postgresql():
    try:
        url = create_postgres_database()
    except Exception as exc:
        service_unavailable(f"PostgreSQL at {POSTGRES_URL} ({exc})")
    try:
        _migrate_copy(url)
    finally:
        drop_postgres_database(url)
