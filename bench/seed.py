"""What the benchmarks put in place before they measure, written once: the paper trace as a norm's
stored changes (as the store writes them), the participant and network that norm belongs to, a
throwaway PostgreSQL database, and the settings of every server or app a benchmark starts.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import make_url

from networks.models import MembershipPolicy, Network
from norms import document
from norms.models import ActorBinding, Norm, NormChange, NormSnapshot
from services.accounts.models import Participant

ROOT = Path(__file__).resolve().parent.parent
# The shared editing traces live beside the repository (../shared), as for the tests.
TRACES = Path(os.environ.get("COGOV_TRACES_DIR", ROOT.parent / "shared" / "data" / "traces"))
TRACE = TRACES / "automerge-paper.json.gz"
SNAPSHOT_EVERY = 1000
POSTGRES = os.environ.get("COGOV_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
SECRET = "bench-secret-" + "x" * 40

# A benchmark's clients all come from one address and sign up, write and ask for sync tickets far
# faster than people do: a deployment's rate limits would answer 429 and the run would measure nothing.
# Benchmarks connect many clients from this one address: far more than a deployment allows one address.
WITHOUT_RATE_LIMITS = {"COGOV_RATE_LIMITS_ENABLED": "false", "COGOV_SYNC_ANONYMOUS_PER_ADDRESS": "100000"}


def without_rate_limits() -> None:
    """Every app this process creates and every `cogov` process it starts from now on runs without rate
    limits (both read their settings from the environment)."""
    os.environ.update(WITHOUT_RATE_LIMITS)


def paper_trace(edits: int | None = None) -> dict:
    """The paper trace (259,778 single-character edits); with `edits`, only its first `edits` edits and the
    text they make. Exits with where to put the trace when it is missing."""
    if not TRACE.is_file():
        raise SystemExit(
            f"The paper trace is not at {TRACE}: set COGOV_TRACES_DIR to the folder holding "
            "automerge-paper.json.gz (../shared/data/traces beside the repository)."
        )
    with gzip.open(TRACE, "rt") as handle:
        trace = json.load(handle)
    if edits is None:
        return trace
    text, txns = trace["startContent"], []
    for txn in trace["txns"]:
        if edits <= 0:
            break
        patches = txn["patches"][:edits]
        edits -= len(patches)
        txns.append({**txn, "patches": patches})
        for position, deleted, inserted in patches:
            text = text[:position] + inserted + text[position + deleted :]
    return {**trace, "txns": txns, "endContent": text}


def make_changes(trace: dict, edits_per_change: int) -> tuple[list[bytes], dict[int, bytes], bytes]:
    """The trace as a peer would send it, snapshots (`save()`) every 1,000 changes, and the creating change."""
    author = os.urandom(16)
    doc, created = document.create("The paper", trace["startContent"], author)
    peer = document.load(doc.save(), actor=os.urandom(16))
    changes: list[bytes] = []
    snapshots: dict[int, bytes] = {}
    patches = [tuple(patch) for txn in trace["txns"] for patch in txn["patches"]]
    for start in range(0, len(patches), edits_per_change):
        changes += document.apply_splices(peer, peer.get_actor(), patches[start : start + edits_per_change])
        stored = len(changes) + 1  # the creating change comes first
        if stored % SNAPSHOT_EVERY == 0:
            snapshots[stored] = peer.save()
    assert document.read_text(peer) == trace["endContent"]
    return changes, snapshots, created[0]


async def owner_and_network(sessionmaker) -> tuple[uuid.UUID, uuid.UUID]:
    """A participant and an open network they founded, written directly (no HTTP, no audit): their ids."""
    owner = uuid.uuid4()
    async with sessionmaker() as session:
        session.add(Participant(id=owner, email=f"{owner}@bench.invalid", display_name="Bench", password_hash="-"))
        await session.flush()
        network = Network(
            slug=f"bench-{owner.hex[:8]}",
            name="Bench",
            issue="-",
            aims="-",
            intended_outcome="-",
            membership_policy=MembershipPolicy.open,
            founded_by=owner,
        )
        session.add(network)
        await session.commit()
        return owner, network.id


async def store_norm(
    sessionmaker, owner: uuid.UUID, network_id: uuid.UUID, created: bytes, changes: list[bytes], snapshots: dict[int, bytes]
) -> bytes:
    """Store a norm with these changes and snapshots as the store would have written them; its document id."""
    document_id = document.new_document_id()
    parsed = document.split_changes(created) + [change for data in changes for change in document.split_changes(data)]
    async with sessionmaker() as session:
        session.add(Norm(document_id=document_id, network_id=network_id, slug=document_id.hex()[:12], title="The paper", created_by=owner))
        await session.flush()
        for actor in {change.actor for change in parsed}:
            if await session.get(ActorBinding, actor) is None:
                session.add(ActorBinding(actor=actor, participant_id=owner))
        await session.flush()
        for start in range(0, len(parsed), SNAPSHOT_EVERY):
            chunk = parsed[start : start + SNAPSHOT_EVERY]
            await session.execute(
                insert(NormChange),
                [
                    {
                        "document_id": document_id,
                        "hash": c.hash,
                        "actor": c.actor,
                        "participant_id": owner,
                        "seq": c.seq,
                        "data": c.data,
                        "inserted": stats.inserted,
                        "deleted": stats.deleted,
                    }
                    for c in chunk
                    for stats in [document.count_text_ops(c)]
                ],
            )
            stored = start + len(chunk)
            if stored in snapshots:
                last_id = await session.scalar(select(func.max(NormChange.id)).where(NormChange.document_id == document_id))
                heads = document.heads_hex(document.load(snapshots[stored]))
                session.add(
                    NormSnapshot(document_id=document_id, heads=heads, data=snapshots[stored], change_count=stored, last_change_id=last_id)
                )
                await session.flush()
        await session.execute(update(Norm).where(Norm.document_id == document_id).values(change_count=len(parsed)))
        await session.commit()
    return document_id


@contextmanager
def postgres_database(admin_url: str = POSTGRES, prefix: str = "cogov_bench") -> Iterator[str]:
    """A new, empty database on the PostgreSQL server of `admin_url`, dropped on leaving; its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_pg(admin_url, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_pg(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _pg(url: str, sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def confirm_addresses(database_url: str) -> None:
    """Every account of the bench's database gets a proven address, as the test fixtures' people have: the
    benches measure editing, feeds and sync, not the mailed link (`bench.mail` measures mail)."""
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                update(Participant).where(Participant.email_verified_at.is_(None)).values(email_verified_at=datetime.now(UTC))
            )
    finally:
        await engine.dispose()


# The database of each `serving()` server, by the base URL of its client.
_SERVED: dict[str, str] = {}


def confirm_served_addresses(api: httpx.Client) -> None:
    """`confirm_addresses` for the database of the server `api` (from `serving()`) talks to."""
    asyncio.run(confirm_addresses(_SERVED[str(api.base_url).rstrip("/")]))


@contextmanager
def serving(tmp: str, secret: str, **settings: str) -> Iterator[httpx.Client]:
    """`cogov serve` on a free loopback port, on a migrated SQLite database under `tmp`, with `settings` (COGOV_…
    variables) added to this environment; a client of it once it is ready. The server stops with the block."""
    import migrations
    from bench.feeds import free_port

    database_url = f"sqlite+aiosqlite:///{tmp}/bench.db"
    migrations.upgrade(database_url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    _SERVED[base] = database_url
    environment = os.environ | {
        "COGOV_DATABASE_URL": database_url,
        "COGOV_SECRET_KEY": secret,
        "COGOV_DATA_DIR": str(Path(tmp) / "var"),
        "COGOV_BASE_URL": base,
        "COGOV_LOG_LEVEL": "warning",
        **settings,
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "--port", str(port)],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with httpx.Client(base_url=base, timeout=60) as api:
            # Starting takes a few seconds, and over half a minute on a machine loaded by other work.
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline and server.poll() is None:
                try:
                    if api.get("/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            else:
                raise SystemExit(f"`cogov serve` did not become ready (exit code {server.poll()})")
            yield api
    finally:
        server.terminate()
        server.wait(timeout=30)
