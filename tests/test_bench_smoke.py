"""Every benchmark under bench/ still runs: each script, started as a person would (`python -m bench.NAME`)
with tiny sizes, exits 0 and prints its figures. How fast is the scripts' business, not this test's.

The environment carries a deployment's tight rate limits: a benchmark's clients all come from one address,
so the servers and apps it starts must run without them (bench.seed.without_rate_limits), whatever the
environment says.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.fixtures.databases import POSTGRES_URL
from tests.fixtures.environment import TRACES, service_unavailable

pytestmark = pytest.mark.bench

ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("COGOV_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CHROMIUM = Path("/usr/bin/chromium")
BUNDLE = ROOT / "services" / "web" / "static" / "build" / "manifest.json"
NUMBER = r"[\d.,]+"

# script: (arguments, what it needs, a line of figures it prints)
RUNS = {
    "anchors": (
        ["--chars", "600", "--comments", "2", "--runs", "2"],
        {"chromium"},
        rf"\| resolve all anchors after an edit .* \| {NUMBER} ms \| {NUMBER} ms \|",
    ),
    "backup": (
        ["--edits", "300", "--edits-per-change", "50", "--postgres", POSTGRES_URL],
        {"postgres", "trace"},
        rf"\| 7 \| import \| SQLite \| {NUMBER} s \| {NUMBER} MiB \| {NUMBER} MiB \|",
    ),
    "browser": (
        ["--idle", "2", "--seconds", "1"],
        {"chromium"},
        rf"\| both typing continuously \| {NUMBER} \| {NUMBER} ms \| {NUMBER} ms \|",
    ),
    "compare": (["--help"], set(), r"--targets"),
    "faults": (["--small", "--only", "ballots"], {"initdb"}, r"\| ballot closing raced from two instances \| 5 ballots"),
    "feeds": (
        ["--entries", "3", "--subscribers", "2", "--adoptions", "1", "--clients", "2", "--seconds", "1"],
        set(),
        rf"\| adoption 1 → feed at 2 WebSub subscribers \| — \| first {NUMBER} s, all {NUMBER} s",
    ),
    "pages": (
        ["--readers", "3", "--edits", "3", "--edit-ms", "50", "--unthrottled", "--languages", "ar"],
        {"chromium"},
        rf"\| 3 SSE readers, a member typing 3 characters every 50 ms \| 9 deliveries \| p50 {NUMBER} ms",
    ),
    "ops": (["--requests", "20", "--redis", REDIS_URL], {"redis"}, rf"\| rate limits, Redis counters \| {NUMBER} \|"),
    "realtime": (
        ["--scenario", "1", "--readers", "2", "--seconds", "2"],
        set(),
        rf"\(1\): 1 writers \+ 2 readers, 2 s: {NUMBER} edits .* latency p50 {NUMBER} ms",
    ),
    "signoff": (["--electors", "300", "--organisations", "20", "--runs", "3"], set(), rf"tally over 3 runs: min {NUMBER} ms"),
    "store": (
        ["--edits", "300", "--skip-per-edit", "--samples", "8", "--loads", "1", "--postgres", POSTGRES_URL],
        {"postgres", "trace"},
        rf"\| PostgreSQL \| \(b\) 50 edits per change \| 7 \| {NUMBER} s \|",
    ),
    "sync_fuzz": (["40"], set(), r"\d+ passed"),
    "audit_log": (["--events", "50", "--samples", "5", "--no-postgres"], set(), rf"sign a tree head .*: median {NUMBER} ms"),
    "diff": (["--sizes", "1000"], set(), rf"\| 1,000 \| /healthz while these ran .* \| p50 {NUMBER} ms \|"),
    "sign_in": (["--sign-ins", "4"], set(), rf"/healthz meanwhile .* median {NUMBER} ms"),
    "search": (
        ["--norms", "20", "--versions", "40", "--entries", "10", "--queries", "3", "--huge-chars", "20000", "--postgres", POSTGRES_URL],
        {"postgres", "trace"},
        rf"\| PostgreSQL tsvector \+ GIN \| {NUMBER} s \| 70 \| CJK \| {NUMBER} ms \| {NUMBER} ms \| {NUMBER} ms \|",
    ),
    "verification": (
        ["--members", "200", "--organisations", "20", "--runs", "2"],
        set(),
        rf"\| SQLite \| formation check \| {NUMBER} ms \| {NUMBER} ms \|",
    ),
    "mail": (["--mails", "20", "--rate", "20"], set(), rf"\| steady flow of 20 acts at 20/s \| act → SMTP hand-off p50 {NUMBER} s"),
    "notifications": (["--members", "20"], set(), rf"\| one worker mails them .* \| 20 mails in {NUMBER} s: {NUMBER} mails/s \|"),
}


def test_every_script_under_bench_has_a_smoke_run():
    scripts = {path.stem for path in (ROOT / "bench").glob("*.py")} - {"__init__", "machine", "seed"}
    assert scripts == set(RUNS)


def _answers(url: str, default_port: int) -> bool:
    parsed = make_url(url)
    try:
        with socket.create_connection((parsed.host or "127.0.0.1", parsed.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def _require(needs: set[str]) -> None:
    if "postgres" in needs and not _answers(POSTGRES_URL, 5432):
        service_unavailable(f"PostgreSQL at {POSTGRES_URL}")
    if "redis" in needs and not _answers(REDIS_URL, 6379):
        service_unavailable(f"Redis at {REDIS_URL}")
    if "trace" in needs and not (TRACES / "automerge-paper.json.gz").is_file():
        service_unavailable(f"the paper trace in {TRACES}")
    if "chromium" in needs and not (CHROMIUM.exists() and BUNDLE.exists()):
        service_unavailable(f"Chromium at {CHROMIUM} and the live editor bundle (`make bundle`)")
    if "initdb" in needs:
        from tests.faults.processes import _postgres_binaries

        if _postgres_binaries() is None:
            service_unavailable("PostgreSQL server binaries (initdb)")


@pytest.mark.parametrize("script", sorted(RUNS))
def test_the_benchmark_runs_and_prints_its_figures(script, tmp_path):
    arguments, needs, figures = RUNS[script]
    _require(needs)
    environment = os.environ | {"PYTHONPATH": str(ROOT), "COGOV_TRACES_DIR": str(TRACES), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    if script != "sync_fuzz":  # which runs a test of the suite, under the suite's own limits
        # A deployment's limits, far below what any benchmark's seeding makes.
        environment |= {"COGOV_RATE_LIMIT_WRITES": "3/minute", "COGOV_RATE_LIMIT_AUTH": "3/minute"}
    for name in [name for name in environment if name == "COGOV_RATE_LIMITS_ENABLED" or name.startswith("PYTEST_")]:
        del environment[name]  # nor pytest's own variables, for the benchmark that runs pytest
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{script}", *arguments], cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=600
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert re.search(figures, done.stdout), done.stdout[-4000:]
