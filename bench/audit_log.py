"""The audit log as a transparency log at scale: roots and proofs over a long log, and what an append costs.

    python -m bench.audit_log [--events 100000] [--samples 200] [--postgres URL | --no-postgres]

Seeds `--events` audit events (chain hashes, leaf hashes and the stored Merkle tree, as
`audit.record` writes them, but in bulk), then times on SQLite and PostgreSQL: the root of the
whole log, inclusion proofs and consistency proofs at random sizes (service calls and through
the HTTP API), signing a tree head, one more `audit.record` (its transaction included), and
`cogov audit verify`'s walk of the whole log (which recomputes every leaf from its row).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import migrations
from bench.machine import describe, percentile
from services.audit import merkle, tree, tree_heads
from services.audit import service as audit
from services.audit.models import AuditEvent, AuditTreeNode
from services.clearinghouse.signing import SigningKey
from services.kit.db import create_engine, create_sessionmaker, take_write_lock, transaction, utcnow
from services.settings import Settings


def make_events(count: int) -> tuple[list[dict], list[bytes]]:
    """Rows of a realistic log (votes and curation acts) with their chain, and each event's leaf hash."""
    rows, leaves, prev = [], [], audit.GENESIS
    start = utcnow() - timedelta(days=365)
    actions = ["ballot.vote_cast", "norm.version_tagged", "network.member_joined", "clearinghouse.topics_set"]
    for seq in range(1, count + 1):
        event = AuditEvent(
            seq=seq,
            created_at=start + timedelta(seconds=seq * 7),
            actor_id=None,
            action=actions[seq % len(actions)],
            target_type="ballot",
            target_id=str(uuid.UUID(int=seq)),
            payload={"position": "approve", "group": "civil_society", "n": seq},
            prev_hash=prev,
        )
        event.hash = prev = audit.chain_hash(prev, audit.event_body(event))
        leaves.append(merkle.leaf_hash(audit.leaf_bytes(event)))
        rows.append(
            {
                column: getattr(event, column)
                for column in ("seq", "created_at", "actor_id", "action", "target_type", "target_id", "payload", "prev_hash", "hash")
            }
        )
    return rows, leaves


async def seed(sessionmaker, rows: list[dict], leaves: list[bytes]) -> None:
    memory = merkle.MemoryTree(leaves)
    nodes = [{"level": level, "position": position, "hash": memory[level, position]} for level, position in memory]
    for table, batch in ((AuditEvent, rows), (AuditTreeNode, nodes)):
        for start in range(0, len(batch), 5000):
            async with transaction(sessionmaker) as session:
                await session.execute(table.__table__.insert(), batch[start : start + 5000])


def summary(name: str, times: list[float]) -> str:
    return (
        f"  {name}: median {statistics.median(times):.2f} ms, p95 {percentile(times, 95):.2f} ms, "
        f"max {max(times):.2f} ms ({len(times)} runs)"
    )


async def timed(runs: int, make):
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await make()
        times.append((time.perf_counter() - started) * 1000)
    return times


async def run_backend(name: str, url: str, events: int, samples: int, rng: random.Random) -> None:
    migrations.upgrade(url)
    engine = create_engine(url)
    sessionmaker = create_sessionmaker(engine)
    started = time.perf_counter()
    rows, leaves = make_events(events)
    await seed(sessionmaker, rows, leaves)
    print(f"{name}: {events:,} events and {2 * events - events.bit_count():,} tree nodes seeded in {time.perf_counter() - started:.0f} s")

    async def in_session(work):
        async with sessionmaker() as session:
            return await work(session)

    memory = merkle.MemoryTree(leaves)
    assert await in_session(lambda s: tree.root(s, events)) == memory.root()
    path, root = await in_session(lambda s: tree.inclusion_proof(s, events // 3, events - 5))
    assert path == memory.inclusion_proof(events // 3 - 1, events - 5) and root == memory.root(events - 5)
    print(summary("root of the whole log", await timed(samples, lambda: in_session(lambda s: tree.root(s, events)))))

    async def inclusion():
        size = rng.randint(1, events)
        return await in_session(lambda s: tree.inclusion_proof(s, rng.randint(1, size), size))

    async def consistency():
        second = rng.randint(2, events)
        return await in_session(lambda s: tree.consistency_proof(s, rng.randint(1, second - 1), second))

    print(summary("inclusion proof, random event and size", await timed(samples, inclusion)))
    print(summary("consistency proof, random sizes", await timed(samples, consistency)))

    settings = Settings(database_url=url, secret_key="bench-" + "x" * 40, data_dir=tempfile.gettempdir(), _env_file=None)
    from services.api.app import create_app

    app = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:

        async def api_inclusion():
            size = rng.randint(1, events)
            response = await client.get("/api/v1/audit/proofs/inclusion", params={"seq": rng.randint(1, size), "tree_size": size})
            assert response.status_code == 200, response.text

        async def api_consistency():
            second = rng.randint(2, events)
            response = await client.get("/api/v1/audit/proofs/consistency", params={"first": rng.randint(1, second - 1), "second": second})
            assert response.status_code == 200, response.text

        print(summary("GET /api/v1/audit/proofs/inclusion", await timed(samples, api_inclusion)))
        print(summary("GET /api/v1/audit/proofs/consistency", await timed(samples, api_consistency)))
    await app.state.engine.dispose()

    key = SigningKey(Ed25519PrivateKey.generate())

    async def sign():
        async with transaction(sessionmaker) as session:
            await take_write_lock(session)
            await tree_heads.sign(session, key, utcnow(), "http://bench")

    async def append():
        async with transaction(sessionmaker) as session:
            await take_write_lock(session)
            await audit.record(session, actor_id=None, action="bench.noted", target_type="bench", target_id=1, payload={"n": 1})

    print(summary("sign a tree head (transaction included)", await timed(max(samples // 4, 5), sign)))
    print(summary("audit.record, one event (transaction included)", await timed(samples, append)))

    started = time.perf_counter()
    report = await in_session(audit.verify_chain)
    assert report.intact, report.breaks[:3]
    memory = merkle.MemoryTree(report.leaves)
    memory.consistency_proof(events // 2, memory.size)
    print(
        f"  cogov audit verify's work (walk, recompute every leaf, compare the stored tree, one consistency proof): "
        f"{time.perf_counter() - started:.1f} s for {report.events:,} events"
    )
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--postgres", default=os.environ.get("COGOV_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    )
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    print(f"machine: {describe()}")
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run_backend("SQLite", f"sqlite+aiosqlite:///{tmp}/bench.db", args.events, args.samples, rng))
    if args.no_postgres:
        return
    database = f"cogov_bench_{uuid.uuid4().hex[:8]}"
    try:
        asyncio.run(_pg(args.postgres, f'CREATE DATABASE "{database}"'))
    except OSError as exc:
        print(f"PostgreSQL at {args.postgres} unavailable: {exc}", file=sys.stderr)
        return
    try:
        asyncio.run(run_backend("PostgreSQL", args.postgres.rsplit("/", 1)[0] + "/" + database, args.events, args.samples, rng))
    finally:
        asyncio.run(_pg(args.postgres, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


async def _pg(url: str, sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


if __name__ == "__main__":
    main()
