"""The norm store with the paper trace: load time, apply time per change, memory, on SQLite and PostgreSQL.

    python -m bench.store [--postgres URL] [--skip-per-edit]

The paper trace (259,778 single-character edits) is stored as (a) one change per edit and
(b) changes of 50 edits, with a snapshot every 1,000 changes as the store makes them.
Loads run in a fresh process each, so time and memory are those of a cold instance.
Targets (issue 4): load of (b) under 1 s; applying one change under 5 ms at p99 with (b).
Each apply commits (one fsync with SQLite's synchronous=FULL or PostgreSQL's default), so a
single-change apply costs at least the disk's fsync; a peer that sends what it has in one
message shares that cost, which the "20 per apply" column shows, and so do writers whose applies
arrive together (group commit on SQLite, PostgreSQL's own on PostgreSQL): "8 writers at once".
The single-writer series start with 20 applies that are not timed (the first write of a process
builds statement caches).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import delete, func, insert, select, update

import migrations
from bench.machine import describe, percentile, rss_mib
from networks.models import MembershipPolicy, Network
from norms import document
from norms.models import ActorBinding, Norm, NormChange, NormSnapshot
from norms.store import Limits, NormStore
from services.accounts.models import Participant
from services.kit.db import create_engine, create_sessionmaker
from services.kit.runtime import tune_garbage_collector

TRACE = Path(__file__).resolve().parents[2] / "shared" / "data" / "traces" / "automerge-paper.json.gz"
SNAPSHOT_EVERY = 1000
APPLY_SAMPLES = 500
# Applies made and not timed before each series: a server's first writes build its statement caches once.
WARMUP_APPLIES = 20


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


async def seed(sessionmaker, owner: uuid.UUID, network_id: uuid.UUID, created: bytes, changes: list[bytes], snapshots: dict[int, bytes]) -> bytes:
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
                    {"document_id": document_id, "hash": c.hash, "actor": c.actor, "participant_id": owner, "seq": c.seq,
                     "data": c.data, "inserted": stats.inserted, "deleted": stats.deleted}
                    for c in chunk
                    for stats in [document.count_text_ops(c)]
                ],
            )
            stored = start + len(chunk)
            if stored in snapshots:
                last_id = await session.scalar(select(func.max(NormChange.id)).where(NormChange.document_id == document_id))
                heads = document.heads_hex(document.load(snapshots[stored]))
                session.add(NormSnapshot(document_id=document_id, heads=heads, data=snapshots[stored], change_count=stored, last_change_id=last_id))
                await session.flush()
        await session.execute(update(Norm).where(Norm.document_id == document_id).values(change_count=len(parsed)))
        await session.commit()
    return document_id


def timed_load(url: str, document_id: bytes) -> dict:
    """Load the document in a fresh process: seconds and resident memory it took."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.store", "--load", url, document_id.hex()], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


async def load_once(url: str, document_hex: str) -> dict:
    engine = create_engine(url)
    store = NormStore(create_sessionmaker(engine), Limits())
    before = rss_mib()
    started = time.perf_counter()
    async with store.reading(bytes.fromhex(document_hex)) as doc:
        seconds = time.perf_counter() - started
        length = document.text_length(doc)
    result = {"seconds": seconds, "rss_mib": rss_mib() - before, "length": length}
    await engine.dispose()
    return result


async def apply_times(sessionmaker, owner: uuid.UUID, document_id: bytes, per_apply: int = 1) -> list[float]:
    """Milliseconds per change when store.apply receives `per_apply` single-character changes at once."""
    store = NormStore(sessionmaker, Limits())
    async with store.reading(document_id) as doc:
        peer = document.load(doc.save(), actor=os.urandom(16))
    times = []
    for n in range(-WARMUP_APPLIES, APPLY_SAMPLES // per_apply):
        changes = []
        for k in range(per_apply):
            index = ((abs(n) * per_apply + k) * 7919) % max(1, document.text_length(peer))
            changes += document.apply_splices(peer, peer.get_actor(), [(index, 0, "x")])
        started = time.perf_counter()
        await store.apply(document_id, owner, b"".join(changes))
        if n >= 0:
            times.append((time.perf_counter() - started) * 1000 / per_apply)
    return times


async def concurrent_apply_times(sessionmaker, owner: uuid.UUID, document_id: bytes, writers: int = 8) -> tuple[list[float], float]:
    """Milliseconds per apply when `writers` peers each send one-change applies at once (they share commits); applies/s."""
    store = NormStore(sessionmaker, Limits())
    async with store.reading(document_id) as doc:
        saved = doc.save()
    peers = [document.load(saved, actor=os.urandom(16)) for _ in range(writers)]
    times: list[float] = []

    async def type_(peer) -> None:
        for n in range(APPLY_SAMPLES // writers):
            index = (n * 7919) % max(1, document.text_length(peer))
            made = document.apply_splices(peer, peer.get_actor(), [(index, 0, "x")])
            started = time.perf_counter()
            await store.apply(document_id, owner, b"".join(made))
            times.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(type_(peer) for peer in peers))
    return times, len(times) / (time.perf_counter() - started)


async def run_backend(name: str, url: str, trace: dict, layouts: list[tuple[str, int]]) -> list[str]:
    migrations.upgrade(url)
    engine = create_engine(url)
    sessionmaker = create_sessionmaker(engine)
    owner = uuid.uuid4()
    async with sessionmaker() as session:
        session.add(Participant(id=owner, email=f"{owner}@bench.invalid", display_name="Bench", password_hash="-"))
        await session.flush()
        network = Network(slug=f"bench-{owner.hex[:8]}", name="Bench", issue="-", aims="-", intended_outcome="-",
                          membership_policy=MembershipPolicy.open, founded_by=owner)
        session.add(network)
        await session.commit()
    rows = []
    for label, edits_per_change in layouts:
        started = time.perf_counter()
        changes, snapshots, created = make_changes(trace, edits_per_change)
        document_id = await seed(sessionmaker, owner, network.id, created, changes, snapshots)
        print(f"  {name} {label}: {len(changes) + 1:,} changes seeded in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        with_snapshots = [timed_load(url, document_id) for _ in range(3)]
        async with sessionmaker() as session:
            await session.execute(delete(NormSnapshot).where(NormSnapshot.document_id == document_id))
            await session.commit()
        without = timed_load(url, document_id)
        times = await apply_times(sessionmaker, owner, document_id)
        batched = await apply_times(sessionmaker, owner, document_id, per_apply=20)
        concurrent, rate = await concurrent_apply_times(sessionmaker, owner, document_id)
        best = min(with_snapshots, key=lambda r: r["seconds"])
        rows.append(
            f"| {name} | {label} | {len(changes) + 1:,} | {best['seconds']:.2f} s | {without['seconds']:.2f} s | "
            f"{percentile(times, 50):.2f} / {percentile(times, 99):.2f} ms | "
            f"{percentile(batched, 50):.2f} / {percentile(batched, 99):.2f} ms | "
            f"{percentile(concurrent, 50):.2f} / {percentile(concurrent, 99):.2f} ms, {rate:.0f}/s | {best['rss_mib']:.0f} MiB |"
        )
        print(rows[-1], file=sys.stderr)
        if url.startswith("sqlite"):
            # The same database without an fsync per commit: what durability across power loss costs.
            normal = create_engine(url, sqlite_synchronous="NORMAL")
            times = await apply_times(create_sessionmaker(normal), owner, document_id)
            concurrent, rate = await concurrent_apply_times(create_sessionmaker(normal), owner, document_id)
            await normal.dispose()
            rows.append(
                f"| SQLite, synchronous=NORMAL (not durable across power loss) | {label} | | | | "
                f"{percentile(times, 50):.2f} / {percentile(times, 99):.2f} ms | | "
                f"{percentile(concurrent, 50):.2f} / {percentile(concurrent, 99):.2f} ms, {rate:.0f}/s | |"
            )
            print(rows[-1], file=sys.stderr)
    await engine.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", default=os.environ.get("COGOV_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--skip-per-edit", action="store_true", help="only layout (b): 50 edits per change")
    parser.add_argument("--load", nargs=2, metavar=("URL", "DOCUMENT_HEX"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    tune_garbage_collector()  # as `cogov serve` does once started
    if args.load:
        print(json.dumps(asyncio.run(load_once(*args.load))))
        return

    with gzip.open(TRACE, "rt") as handle:
        trace = json.load(handle)
    layouts = [("(b) 50 edits per change", 50)] + ([] if args.skip_per_edit else [("(a) one change per edit", 1)])
    print(describe())
    rows = ["| backend | layout | changes | load (snapshots) | load (no snapshots) | apply 1 change p50 / p99 | "
            "per change, 20 per apply, p50 / p99 | 8 writers at once: apply p50 / p99, applies/s | memory loaded |",
            "|---|---|---|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        rows += asyncio.run(run_backend("SQLite", f"sqlite+aiosqlite:///{tmp}/bench.db", trace, layouts))
    database = f"cogov_bench_{uuid.uuid4().hex[:8]}"
    admin = args.postgres
    asyncio.run(_pg(admin, f'CREATE DATABASE "{database}"'))
    try:
        rows += asyncio.run(run_backend("PostgreSQL", admin.rsplit("/", 1)[0] + "/" + database, trace, layouts))
    finally:
        asyncio.run(_pg(admin, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    print("\n".join(rows))


async def _pg(url: str, sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


if __name__ == "__main__":
    main()
