"""The norm store with the paper trace: load time, apply time per change, memory, on SQLite and PostgreSQL.

    python -m bench.store [--postgres URL] [--skip-per-edit] [--edits N] [--samples 500] [--loads 3]

The paper trace (259,778 single-character edits) is stored as (a) one change per edit and
(b) changes of 50 edits, with a snapshot every 1,000 changes as the store makes them.
Loads run in a fresh process each, so time and memory are those of a cold instance.
Targets (issue 4): load of (b) under 1 s; applying one change under 5 ms at p99 with (b).
Each apply commits (one fsync with SQLite's synchronous=FULL or PostgreSQL's default), so a
single-change apply costs at least the disk's fsync; a peer that sends what it has in one
message shares that cost, which the "20 per apply" column shows, and so do writers whose applies
arrive together (group commit on SQLite, PostgreSQL's own on PostgreSQL): "8 writers at once".
The single-writer series start with 20 applies that are not timed (the first write of a process
builds statement caches). `--edits` stores only the trace's first N edits (a quick run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid

from sqlalchemy import delete

import migrations
from bench.machine import describe, percentile, rss_mib
from bench.seed import POSTGRES, make_changes, owner_and_network, paper_trace, postgres_database, store_norm
from norms import document
from norms.models import NormSnapshot
from norms.store import Limits, NormStore
from services.kit.db import create_engine, create_sessionmaker
from services.kit.runtime import tune_garbage_collector

# Applies made and not timed before each series: a server's first writes build its statement caches once.
WARMUP_APPLIES = 20


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


async def apply_times(sessionmaker, owner: uuid.UUID, document_id: bytes, samples: int, per_apply: int = 1) -> list[float]:
    """Milliseconds per change when store.apply receives `per_apply` single-character changes at once."""
    store = NormStore(sessionmaker, Limits())
    async with store.reading(document_id) as doc:
        peer = document.load(doc.save(), actor=os.urandom(16))
    times = []
    for n in range(-min(WARMUP_APPLIES, samples), max(1, samples // per_apply)):
        changes = []
        for k in range(per_apply):
            index = ((abs(n) * per_apply + k) * 7919) % max(1, document.text_length(peer))
            changes += document.apply_splices(peer, peer.get_actor(), [(index, 0, "x")])
        started = time.perf_counter()
        await store.apply(document_id, owner, b"".join(changes))
        if n >= 0:
            times.append((time.perf_counter() - started) * 1000 / per_apply)
    return times


async def concurrent_apply_times(
    sessionmaker, owner: uuid.UUID, document_id: bytes, samples: int, writers: int = 8
) -> tuple[list[float], float]:
    """Milliseconds per apply when `writers` peers each send one-change applies at once (they share commits); applies/s."""
    store = NormStore(sessionmaker, Limits())
    async with store.reading(document_id) as doc:
        saved = doc.save()
    peers = [document.load(saved, actor=os.urandom(16)) for _ in range(writers)]
    times: list[float] = []

    async def type_(peer) -> None:
        for n in range(max(1, samples // writers)):
            index = (n * 7919) % max(1, document.text_length(peer))
            made = document.apply_splices(peer, peer.get_actor(), [(index, 0, "x")])
            started = time.perf_counter()
            await store.apply(document_id, owner, b"".join(made))
            times.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(type_(peer) for peer in peers))
    return times, len(times) / (time.perf_counter() - started)


async def run_backend(name: str, url: str, trace: dict, layouts: list[tuple[str, int]], args) -> list[str]:
    migrations.upgrade(url)
    engine = create_engine(url)
    sessionmaker = create_sessionmaker(engine)
    owner, network_id = await owner_and_network(sessionmaker)
    rows = []
    for label, edits_per_change in layouts:
        started = time.perf_counter()
        changes, snapshots, created = make_changes(trace, edits_per_change)
        document_id = await store_norm(sessionmaker, owner, network_id, created, changes, snapshots)
        print(f"  {name} {label}: {len(changes) + 1:,} changes seeded in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        with_snapshots = [timed_load(url, document_id) for _ in range(max(1, args.loads))]
        async with sessionmaker() as session:
            await session.execute(delete(NormSnapshot).where(NormSnapshot.document_id == document_id))
            await session.commit()
        without = timed_load(url, document_id)
        times = await apply_times(sessionmaker, owner, document_id, args.samples)
        batched = await apply_times(sessionmaker, owner, document_id, args.samples, per_apply=20)
        concurrent, rate = await concurrent_apply_times(sessionmaker, owner, document_id, args.samples)
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
            times = await apply_times(create_sessionmaker(normal), owner, document_id, args.samples)
            concurrent, rate = await concurrent_apply_times(create_sessionmaker(normal), owner, document_id, args.samples)
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
    parser.add_argument("--postgres", default=POSTGRES)
    parser.add_argument("--skip-per-edit", action="store_true", help="only layout (b): 50 edits per change")
    parser.add_argument("--edits", type=int, help="store only the trace's first N edits (default: all 259,778)")
    parser.add_argument("--samples", type=int, default=500, help="timed applies per series")
    parser.add_argument("--loads", type=int, default=3, help="timed loads from snapshots (the best is shown)")
    parser.add_argument("--load", nargs=2, metavar=("URL", "DOCUMENT_HEX"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    tune_garbage_collector()  # as `cogov serve` does once started
    if args.load:
        print(json.dumps(asyncio.run(load_once(*args.load))))
        return

    trace = paper_trace(args.edits)
    layouts = [("(b) 50 edits per change", 50)] + ([] if args.skip_per_edit else [("(a) one change per edit", 1)])
    print(describe())
    rows = [
        "| backend | layout | changes | load (snapshots) | load (no snapshots) | apply 1 change p50 / p99 | "
        "per change, 20 per apply, p50 / p99 | 8 writers at once: apply p50 / p99, applies/s | memory loaded |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        rows += asyncio.run(run_backend("SQLite", f"sqlite+aiosqlite:///{tmp}/bench.db", trace, layouts, args))
    with postgres_database(args.postgres) as url:
        rows += asyncio.run(run_backend("PostgreSQL", url, trace, layouts, args))
    print("\n".join(rows))


if __name__ == "__main__":
    main()
