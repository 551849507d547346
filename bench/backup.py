"""`cogov export` and `cogov import` on a big database: time, archive size and peak memory of each command.

    python -m bench.backup [--postgres URL] [--edits-per-change 1 50] [--edits N]

The database holds the paper trace (259,778 single-character edits) as one norm, stored as the
store writes it: one change per edit (259,779 change rows, a snapshot every 1,000 changes) and/or
changes of 50 edits. Each layout is exported from SQLite, imported into PostgreSQL, exported from
PostgreSQL and imported back into SQLite, each command in its own process (peak RSS from wait4),
and the restored norm is loaded to check its text. Memory should not grow with the database:
compare the two layouts' RSS. `--edits` stores only the trace's first N edits (a quick run).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import migrations
from bench.machine import describe
from bench.seed import POSTGRES, SECRET, make_changes, owner_and_network, paper_trace, postgres_database, store_norm
from bench.store import load_once
from services.kit.db import create_engine, create_sessionmaker

# Peak memory is the child's VmHWM, read as it exits: the kernel's ru_maxrss would count the
# forked copy of this (trace-holding) process before the exec.
RUN_WITH_PEAK = """
import atexit, runpy, sys
target = sys.argv[1]
def peak():
    with open("/proc/self/status") as status, open(target, "w") as out:
        out.write(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
atexit.register(peak)
sys.argv = ["cogov", *sys.argv[2:]]
runpy.run_module("services.cli", run_name="__main__")
"""


def cogov(*args: str, database_url: str, data_dir: Path) -> tuple[float, float, str]:
    """Run one `cogov` command in its own process: (seconds, peak RSS MiB, what it printed)."""
    env = {**os.environ, "COGOV_DATABASE_URL": database_url, "COGOV_SECRET_KEY": SECRET, "COGOV_DATA_DIR": str(data_dir)}
    peak_file = data_dir.parent / "peak-kib"
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", RUN_WITH_PEAK, str(peak_file), *args], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"cogov {' '.join(args)} failed ({done.returncode}): {done.stderr}")
    return seconds, int(peak_file.read_text()) / 1024, done.stdout.strip()


async def build(url: str, trace: dict, edits_per_change: int) -> tuple[bytes, int]:
    migrations.upgrade(url)
    engine = create_engine(url)
    sessionmaker = create_sessionmaker(engine)
    owner, network_id = await owner_and_network(sessionmaker)
    changes, snapshots, created = make_changes(trace, edits_per_change)
    document_id = await store_norm(sessionmaker, owner, network_id, created, changes, snapshots)
    await engine.dispose()
    return document_id, len(changes) + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", default=POSTGRES)
    parser.add_argument("--edits-per-change", type=int, nargs="+", default=[50, 1])
    parser.add_argument("--edits", type=int, help="store only the trace's first N edits (default: all 259,778)")
    options = parser.parse_args()
    trace = paper_trace(options.edits)
    rows = []
    with tempfile.TemporaryDirectory(prefix="cogov-bench-backup-") as folder:
        work = Path(folder)
        for edits_per_change in options.edits_per_change:
            source = f"sqlite+aiosqlite:///{work / f'source-{edits_per_change}.db'}"
            started = time.perf_counter()
            document_id, changes = asyncio.run(build(source, trace, edits_per_change))
            print(f"{changes:,} changes seeded in {time.perf_counter() - started:.0f} s", file=sys.stderr)
            back = f"sqlite+aiosqlite:///{work / f'back-{edits_per_change}.db'}"
            with postgres_database(options.postgres, prefix="cogov_bench_backup") as postgres:
                migrations.upgrade(postgres)
                migrations.upgrade(back)
                steps = [
                    ("export", "SQLite", source, work / f"a-{edits_per_change}.zip"),
                    ("import", "PostgreSQL", postgres, work / f"a-{edits_per_change}.zip"),
                    ("export", "PostgreSQL", postgres, work / f"b-{edits_per_change}.zip"),
                    ("import", "SQLite", back, work / f"b-{edits_per_change}.zip"),
                ]
                for command, backend, url, archive in steps:
                    seconds, peak, said = cogov(command, str(archive), database_url=url, data_dir=work / "var")
                    print(f"  {said}", file=sys.stderr)
                    size = archive.stat().st_size / 2**20
                    rows.append(f"| {changes:,} | {command} | {backend} | {seconds:.1f} s | {size:.0f} MiB | {peak:.0f} MiB |")
                    print(rows[-1], file=sys.stderr)
                loaded = {
                    label: asyncio.run(load_once(url, document_id.hex()))["length"]
                    for label, url in (("source", source), ("restored", back))
                }
                assert loaded["source"] == loaded["restored"] == len(trace["endContent"]), loaded
    print(f"Machine: {describe()}")
    print("| change rows | command | database | time | archive | peak RSS |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
