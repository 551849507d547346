"""Shared fixtures: every database test runs once on SQLite and once on PostgreSQL.

PostgreSQL is taken from COGOV_TEST_POSTGRES_URL (default: the local server). When it does not
answer, its tests skip, unless COGOV_REQUIRE_SERVICES=1, under which they fail.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

import migrations
from services.api.app import create_app
from services.settings import Settings
from services.tables import metadata

REQUIRE_SERVICES = os.environ.get("COGOV_REQUIRE_SERVICES") == "1"
POSTGRES_URL = os.environ.get("COGOV_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
TEST_SECRET = "test-secret-" + "x" * 40
# The shared editing traces live beside the repository (../shared), as on developer machines and in CI.
TRACES = Path(os.environ.get("COGOV_TRACES_DIR", Path(__file__).resolve().parents[2] / "shared" / "data" / "traces"))
PASSWORD = "correct horse battery"
# Tests not about rate limits must not trip them (tests/ops sets its own); `cogov serve` subprocesses inherit these.
os.environ.setdefault("COGOV_RATE_LIMIT_AUTH", "100000/minute")
os.environ.setdefault("COGOV_RATE_LIMIT_WRITES", "100000/minute")


def service_unavailable(what: str) -> None:
    """Skip, or fail under COGOV_REQUIRE_SERVICES=1, because a service the test needs is missing."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} is required (COGOV_REQUIRE_SERVICES=1) but unavailable")
    pytest.skip(f"{what} unavailable")


def _asyncpg_dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url)
    if database:
        parsed = parsed.set(database=database)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


async def _pg_admin(sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(_asyncpg_dsn(POSTGRES_URL), timeout=5)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def create_postgres_database() -> str:
    """A new, empty PostgreSQL database; its URL. Raises OSError when the server does not answer."""
    name = f"cogov_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    name = make_url(url).database
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def load_trace(name: str) -> dict:
    """An editing trace from ../shared/data/traces (skips, or fails under COGOV_REQUIRE_SERVICES=1, without it)."""
    import gzip
    import json

    path = TRACES / name
    if not path.is_file():
        service_unavailable(f"editing trace {path}")
    with gzip.open(path, "rt") as handle:
        return json.load(handle)


@pytest.fixture(autouse=True, scope="session")
def cheap_password_hashing():
    """Real argon2 with minimal cost: production parameters would spend ~0.3 s per sign-up in every test."""
    from pwdlib import PasswordHash
    from pwdlib.hashers.argon2 import Argon2Hasher

    from services.accounts import security

    original = security._hasher
    security._hasher = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))
    yield
    security._hasher = original


@pytest.fixture(scope="session")
def postgres_migrated() -> str | None:
    """One migrated PostgreSQL database for the session (tables are emptied after each test)."""
    try:
        url = create_postgres_database()
    except Exception as exc:  # refused, timed out, bad credentials: all mean "absent" here
        yield f"unavailable: {exc}"
        return
    migrations.upgrade(url)
    yield url
    drop_postgres_database(url)


@pytest.fixture(scope="session")
def sqlite_migrated(tmp_path_factory) -> Path:
    """A migrated SQLite file that each test copies, so every test starts from an empty schema."""
    path = tmp_path_factory.mktemp("template") / "cogov.db"
    migrations.upgrade(f"sqlite+aiosqlite:///{path}")
    return path


async def _truncate_all(url: str) -> None:
    import asyncpg

    tables = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
    connection = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        await connection.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    finally:
        await connection.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path) -> Iterator[str]:
    """An empty, migrated database of each kind. (Sync on purpose: it sets up outside the event loop.)"""
    if request.param == "sqlite":
        path = tmp_path / "cogov.db"
        shutil.copyfile(request.getfixturevalue("sqlite_migrated"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_migrated")
    if url.startswith("unavailable"):
        service_unavailable(f"PostgreSQL at {POSTGRES_URL} ({url})")
    try:
        yield url
    finally:
        asyncio.run(_truncate_all(url))


@pytest.fixture
def settings(database_url, tmp_path) -> Settings:
    return Settings(database_url=database_url, secret_key=TEST_SECRET, data_dir=tmp_path / "var", _env_file=None)


@pytest.fixture
async def app(settings):
    application = create_app(settings)
    yield application
    await application.state.engine.dispose()


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        yield http


SignUp = Callable[..., Awaitable[dict]]


@pytest.fixture
def sign_up(client) -> SignUp:
    """Register a participant and sign in; returns {"id", "email", "headers"} for their requests."""
    counter = 0

    async def make(name: str | None = None, *, email: str | None = None, password: str = PASSWORD) -> dict:
        nonlocal counter
        counter += 1
        name = name or f"Participant {counter}"
        email = email or f"p{counter}-{uuid.uuid4().hex[:6]}@example.org"
        created = await client.post("/api/v1/auth/register", json={"email": email, "password": password, "display_name": name})
        assert created.status_code == 202, created.text
        token = await client.post("/api/v1/auth/token", data={"username": email, "password": password})
        assert token.status_code == 200, token.text
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        me = await client.get("/api/v1/me", headers=headers)
        return {"id": me.json()["id"], "email": email, "name": name, "headers": headers}

    return make
