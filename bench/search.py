"""The search index at scale: how long it takes to build, how fast queries answer, and a huge norm re-indexed.

    python -m bench.search [--norms 10000] [--versions 100000] [--entries 20000] [--queries 50]
                           [--backends sqlite,postgres] [--postgres URL] [--huge-chars 1000000]

Generates norms, versions and clearing-house entries from the editing traces' final texts (a LaTeX paper,
a shared draft) and the background documents, with one norm in twenty carrying a Chinese, an Arabic, a
Russian and a French paragraph, and writes them through the index's own write path (`services.search.index`)
in bulk (`index.write_many`, transactions of 10,000, each database's full-text index built after loading)
on a migrated database of each backend. Then it times, over `--queries` runs each,
one-word, three-word, phrase, CJK and prefix queries through `services.search.service.search` (the code
`GET /api/v1/search` runs), and re-indexes one `--huge-chars`-character norm while a ticker measures how long
the event loop was held. Targets (issue 26): query p95 < 50 ms; the huge norm in < 1 s, off the event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import itertools
import json
import multiprocessing
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import event

import migrations
from bench.machine import describe, percentile
from bench.seed import POSTGRES, postgres_database
from services.kit.db import transaction
from services.runtime import build_runtime
from services.search import index, service
from services.search.models import Kind, Status
from services.search.text import fold_document
from services.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
TRACES = Path(os.environ.get("COGOV_TRACES_DIR", "/work/shared/data/traces"))
CONTEXT = Path(os.environ.get("COGOV_CONTEXT_DIR", "/work/shared/context"))
SECRET = "bench-secret-" + "s" * 40
BATCH = 10_000
# Processes folding texts while the database writes.
FOLDERS = 2
MULTILINGUAL = [
    "各国应当就数据本地化要求进行协商，并公布跨境数据流动规则。",
    "تَلْتَزِمُ الدُّوَلُ بِحِمَايَةِ البَيَانَاتِ الشَّخْصِيَّةِ عِنْدَ نَقْلِهَا عَبْرَ الحُدُودِ.",
    "Операторы обеспечивают защиту персональных данных граждан при трансграничной передаче.",
    "Les données personnelles transférées à l'étranger restent protégées par une autorité indépendante.",
]
QUERIES = {
    "one word": ["routing", "convergence", "network", "operators", "replica"],
    "three words": ["text editing operations", "network data protection", "concurrent insertion order"],
    "phrase": ['"the same"', '"data localisation"', '"personal data"'],
    "CJK": ["数据本地化", "跨境数据", "本地"],
    "prefix": ["operat*", "conver*", "rout*"],
}


def _sources() -> str:
    texts = []
    for name in ("automerge-paper.json.gz", "clownschool.json.gz"):
        path = TRACES / name
        if path.is_file():
            with gzip.open(path) as handle:
                texts.append(json.load(handle)["endContent"])
    texts += [path.read_text(errors="replace") for path in sorted(CONTEXT.glob("*.txt"))]
    if not texts:
        sys.exit(f"no traces in {TRACES} and no documents in {CONTEXT}")
    return "\n".join(texts)


class Corpus:
    """Windows of the source texts, so every document is real prose of a realistic length."""

    def __init__(self, seed: int = 26) -> None:
        self.text = _sources()
        self.rng = random.Random(seed)

    def window(self, length: int) -> str:
        start = self.rng.randrange(0, max(1, len(self.text) - length))
        return self.text[start : start + length]

    def title(self) -> str:
        words = [w for w in self.window(200).split() if w.isalpha()][:6]
        return " ".join(words).capitalize() or "Untitled"


def _docs(corpus: Corpus, norms: int, versions: int, entries: int) -> Iterator[index.Doc]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    per_norm = max(1, versions // max(1, norms))
    made_versions = made_entries = 0
    for n in range(norms):
        norm_id = uuid.uuid4()
        title = corpus.title()
        text = corpus.window(3000)
        if n % 20 == 0:
            text += "\n" + "\n".join(MULTILINGUAL)
        when = start + timedelta(minutes=n)
        yield index.Doc(Kind.norm, norm_id, title, text, f"/n/{n}", when, norm_id=norm_id, status=Status.drafting)
        for v in range(per_norm if made_versions < versions else 0):
            made_versions += 1
            body = corpus.window(1500) + ("\n" + MULTILINGUAL[0] if n % 20 == 0 else "")
            yield index.Doc(Kind.version, uuid.uuid4(), f"{title} — v{v + 1}", body, f"/n/{n}/v/{v + 1}", when, norm_id=norm_id)
        if made_entries < entries and n % max(1, norms // max(1, entries)) == 0:
            for _ in range(max(1, entries // norms)):
                made_entries += 1
                yield index.Doc(Kind.entry, uuid.uuid4(), title, text, f"/e/{made_entries}", when, norm_id=norm_id, status=Status.in_force)


def _fold_all(pairs: list[tuple[str, str]], dialect: str) -> list[tuple[str, str, str | None]]:
    return [fold_document(title, body, dialect) for title, body in pairs]


async def _build(runtime, docs: Iterator[index.Doc]) -> tuple[int, float]:
    """Load `docs` through the index's bulk write (`index.write_many`), a few large transactions, then build each
    database's full-text index over everything at once: how many, and the seconds it all took.

    The benchmark's database only: SQLite without fsync and with a large cache; PostgreSQL with its GIN indexes
    dropped while loading and made again afterwards."""
    count, started = 0, time.perf_counter()
    postgres = runtime.engine.dialect.name == "postgresql"
    if not postgres:

        @event.listens_for(runtime.engine.sync_engine, "connect")
        def _fast(dbapi_connection, _record) -> None:  # after the engine's own PRAGMAs
            cursor = dbapi_connection.cursor()
            for pragma in ("synchronous = OFF", "cache_size = -262144", "temp_store = MEMORY"):
                cursor.execute(f"PRAGMA {pragma}")
            cursor.close()

    async with runtime.engine.connect() as connection:
        if postgres:
            indexes = (
                await connection.exec_driver_sql(
                    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'search_documents' AND indexdef LIKE '%USING gin%'"
                )
            ).all()
            for name, _definition in indexes:
                await connection.exec_driver_sql(f"DROP INDEX {name}")
            await connection.commit()
    dialect = runtime.engine.dialect.name
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(FOLDERS, mp_context=multiprocessing.get_context("spawn")) as pool:

        def fold(batch: list[index.Doc]) -> list[asyncio.Future]:
            # The texts folded in processes, a slice each, while the previous batch is written.
            size = len(batch) // FOLDERS + 1
            pairs = [(doc.title, doc.body) for doc in batch]
            return [loop.run_in_executor(pool, _fold_all, pairs[at : at + size], dialect) for at in range(0, len(batch), size)]

        batch = list(itertools.islice(docs, BATCH))
        folding = fold(batch)
        while batch:
            folded = [item for part in await asyncio.gather(*folding) for item in part]
            after = list(itertools.islice(docs, BATCH))
            folding = fold(after)
            async with transaction(runtime.sessionmaker) as session:
                if postgres:
                    await (await session.connection()).exec_driver_sql("SET LOCAL synchronous_commit = off")
                await index.write_many(session, batch, folded)
            count += len(batch)
            batch = after
    async with runtime.engine.connect() as connection:
        if postgres:
            await connection.exec_driver_sql("SET maintenance_work_mem = '512MB'")
            for _name, definition in indexes:
                await connection.exec_driver_sql(definition)
            await connection.commit()
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.exec_driver_sql("VACUUM ANALYZE search_documents")
        else:
            await connection.exec_driver_sql("INSERT INTO search_fts (search_fts) VALUES ('optimize')")
            await connection.exec_driver_sql("ANALYZE")
            await connection.commit()
    return count, time.perf_counter() - started


async def _queries(runtime, runs: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {}
    for label, queries in QUERIES.items():
        timings[label] = []
        for run in range(runs):
            q = queries[run % len(queries)]
            started = time.perf_counter()
            async with runtime.sessionmaker() as session:
                await service.search(session, runtime.taxonomy, service.SearchFilters(q=q))
            timings[label].append((time.perf_counter() - started) * 1000)
    return timings


async def _huge(runtime, corpus: Corpus, chars: int) -> tuple[list[float], float]:
    """Seconds to index a norm of `chars` characters then again, and the longest the event loop was held (ms)."""
    body = (corpus.text * (chars // len(corpus.text) + 1))[:chars]
    stall, running = 0.0, True

    async def ticker() -> None:
        nonlocal stall
        while running:
            before = time.perf_counter()
            await asyncio.sleep(0.005)
            stall = max(stall, (time.perf_counter() - before) * 1000 - 5)

    tick = asyncio.create_task(ticker())
    await asyncio.sleep(0.02)
    norm_id = uuid.uuid4()
    seconds = []
    await index.start_folding()  # as the worker does when it starts (services/search/worker.py)
    # Twice: the first after the start, then again.
    for revision in (1, 2):
        started = time.perf_counter()
        async with transaction(runtime.sessionmaker) as session:
            doc = index.Doc(Kind.norm, norm_id, "A very long norm", body, "/n/huge", datetime.now(UTC), norm_id=norm_id, revision=revision)
            await index.write(session, doc)
        seconds.append(time.perf_counter() - started)
    running = False
    await tick
    return seconds, stall


@contextmanager
def _database(backend: str, postgres: str, folder: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{folder / 'search.db'}"
        return
    with postgres_database(postgres, "cogov_bench_search") as url:
        yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--norms", type=int, default=10_000)
    parser.add_argument("--versions", type=int, default=100_000)
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--postgres", default=POSTGRES)
    parser.add_argument("--huge-chars", type=int, default=1_000_000)
    args = parser.parse_args()
    print(describe())
    corpus = Corpus()
    print(f"corpus: {len(corpus.text):,} characters from {TRACES} and {CONTEXT}")
    print(f"{args.norms:,} norms, {args.versions:,} versions, {args.entries:,} entries; {args.queries} runs per query kind\n")
    print("| backend | index build | things | query | p50 | p95 | max |")
    print("|---|---|---|---|---|---|---|")
    huge_rows = []
    for backend in args.backends.split(","):
        with tempfile.TemporaryDirectory() as folder, _database(backend, args.postgres, Path(folder)) as url:
            migrations.upgrade(url)
            settings = Settings(database_url=url, secret_key=SECRET, data_dir=Path(folder) / "var", _env_file=None)

            async def run(settings: Settings = settings) -> tuple[int, float, dict[str, list[float]], tuple[list[float], float]]:
                runtime = build_runtime(settings)
                try:
                    count, seconds = await _build(runtime, _docs(Corpus(), args.norms, args.versions, args.entries))
                    timings = await _queries(runtime, args.queries)
                    huge = await _huge(runtime, corpus, args.huge_chars)
                    return count, seconds, timings, huge
                finally:
                    await runtime.aclose()

            count, seconds, timings, huge = asyncio.run(run())
            name = "SQLite FTS5" if backend == "sqlite" else "PostgreSQL tsvector + GIN"
            for label, values in timings.items():
                print(
                    f"| {name} | {seconds:.1f} s | {count:,} | {label} | {percentile(values, 50):.1f} ms "
                    f"| {percentile(values, 95):.1f} ms | {max(values):.1f} ms |"
                )
            huge_rows.append((name, huge))
    print()
    for name, (seconds, stall) in huge_rows:
        print(
            f"{name}: index a {args.huge_chars:,}-character norm: {seconds[0]:.2f} s (the first after the worker's start), "
            f"re-index it: {seconds[1]:.2f} s; longest event-loop stall meanwhile {stall:.1f} ms"
        )


if __name__ == "__main__":
    main()
