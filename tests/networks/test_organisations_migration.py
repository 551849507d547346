"""The migration to organisation records, on a copy of a database whose affiliations name organisations in free text."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

import migrations
from services.accounts.models import Participant
from services.kit.db import create_engine
from tests.fixtures.databases import POSTGRES_URL, create_postgres_database, drop_postgres_database
from tests.fixtures.environment import service_unavailable

BEFORE = "20261207_delivery_superseded"
# (person, organisation as typed, current?) — "Anatel" three ways, "ANATEL Brazil" and "Acme" kept apart.
TYPED = [
    ("ana", "Anatel", True),
    ("bruno", "ANATEL", True),
    ("carla", "  anatel. ", True),
    ("dora", "ANATEL Brazil", True),
    ("edu", "Acme", True),
    ("edu", "Anatel", False),
    ("fatou", None, True),
    ("gil", "Agência Nacional", True),
    ("hugo", "Agencia  nacional", True),
]

AFFILIATIONS = sa.table(
    "affiliations",
    sa.column("id", sa.Uuid()),
    sa.column("participant_id", sa.Uuid()),
    sa.column("stakeholder_group", sa.String()),
    sa.column("country", sa.String()),
    sa.column("region", sa.String()),
    sa.column("organisation", sa.String()),
    sa.column("valid_from", sa.DateTime(timezone=True)),
    sa.column("valid_to", sa.DateTime(timezone=True)),
)


async def _seed(url: str) -> dict[str, uuid.UUID]:
    engine = create_engine(url)
    people: dict[str, uuid.UUID] = {}
    now = datetime.now(UTC)
    async with engine.begin() as connection:
        for name, organisation, current in TYPED:
            if name not in people:
                people[name] = uuid.uuid4()
                await connection.execute(
                    sa.insert(Participant.__table__).values(
                        id=people[name],
                        email=f"{name}@example.org",
                        display_name=name,
                        password_hash="x",
                        role="participant",
                        token_version=0,
                        created_at=now,
                    )
                )
            await connection.execute(
                AFFILIATIONS.insert().values(
                    id=uuid.uuid4(),
                    participant_id=people[name],
                    stakeholder_group="government",
                    country="BR",
                    region="latin_america_caribbean",
                    organisation=organisation,
                    valid_from=now - timedelta(days=2 if current else 3),
                    valid_to=None if current else now - timedelta(days=2),
                )
            )
    await engine.dispose()
    return people


async def _read(url: str) -> tuple[list[tuple], list[tuple]]:
    engine = create_engine(url)
    async with engine.connect() as connection:
        records = (await connection.execute(sa.text("SELECT id, name, name_key, status FROM organisations ORDER BY name_key"))).all()
        links = (
            await connection.execute(
                sa.text(
                    "SELECT p.display_name, a.organisation, a.organisation_id, a.valid_to IS NULL FROM affiliations a "
                    "JOIN participants p ON p.id = a.participant_id"
                )
            )
        ).all()
    await engine.dispose()
    return [tuple(row) for row in records], [tuple(row) for row in links]


def _migrate_copy(url: str) -> None:
    migrations.upgrade(url, BEFORE)
    asyncio.run(_seed(url))
    migrations.upgrade(url)
    records, links = asyncio.run(_read(url))

    assert [(name, key, status) for _id, name, key, status in records] == [
        ("Acme", "acme", "unverified"),
        ("Agencia nacional", "agencia nacional", "unverified"),
        ("Anatel", "anatel", "unverified"),
        ("ANATEL Brazil", "anatel brazil", "unverified"),
    ]
    by_key = {key: record_id for record_id, _name, key, _status in records}
    record_of = {(person, typed, current): record for person, typed, record, current in links}
    # Variant spellings share one record; distinct names stay apart; past affiliations are pointed too.
    assert record_of[("ana", "Anatel", True)] == record_of[("bruno", "ANATEL", True)] == record_of[("carla", "  anatel. ", True)]
    assert record_of[("ana", "Anatel", True)] == by_key["anatel"] == record_of[("edu", "Anatel", False)]
    assert record_of[("dora", "ANATEL Brazil", True)] == by_key["anatel brazil"]
    assert record_of[("gil", "Agência Nacional", True)] == record_of[("hugo", "Agencia  nacional", True)]
    assert record_of[("fatou", None, True)] is None  # no organisation: an independent expert
    # The typed text stays as it was, for history.
    assert ("bruno", "ANATEL", by_key["anatel"], True) in links


def test_free_text_organisations_become_records_on_sqlite(tmp_path):
    _migrate_copy(f"sqlite+aiosqlite:///{tmp_path}/copy.db")


@pytest.mark.postgres
def test_free_text_organisations_become_records_on_postgresql():
    try:
        url = create_postgres_database()
    except Exception as exc:
        service_unavailable(f"PostgreSQL at {POSTGRES_URL} ({exc})")
    try:
        _migrate_copy(url)
    finally:
        drop_postgres_database(url)
