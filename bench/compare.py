"""CoGov's live sync side by side with the reference automerge-repo sync server, same machine, same run.

    make bench         # quick: shortened durations, PostgreSQL and two instances run S1 and S2 only
    make bench-full    # the durations of issue 11, every scenario on every configuration
    .venv/bin/python -m bench.compare [--full] [--targets reference,sqlite,postgres,redis] [--scenarios S1,S4]
                                      [--nice -10] [--no-write]

The reference is `bench/reference/server.mjs`: the npm packages @automerge/automerge-repo,
-network-websocket and -storage-nodefs configured as the published sync server is (a
WebSocketServerAdapter on a `ws` server, NodeFS storage, sharePolicy false), without auth. CoGov is
`cogov serve` on SQLite, on PostgreSQL, and as two instances sharing PostgreSQL behind a private
Redis (peers spread over both). One server (or pair) at a time has the machine.

The load generator is the same for both: `bench/reference/peers.mjs`, stock automerge-repo peers
(one Repo and one WebSocket each) in two Node processes separate from the server. Stock peers
rather than lean Python ones because they are a client neither server's authors wrote, they are
what users will run, and they cost far less per change than the Python peer that applies every
change through rc1 (58 of those saturated both cores); their own CPU is measured and printed
(`clients CPU`) so a run whose clients were the bottleneck shows it. CoGov's writers connect with
tickets of network members; readers connect anonymously (norms are public); the reference needs
neither. The stock client throttles its outgoing sync to one message per 100 ms per document
(automerge-repo's DocSynchronizer), for both servers alike; the reference server does the same on
every hop it forwards, which is why its latencies under load sit near 50–100 ms.

A writer's change splices one character into the body and sets the root key `n_<writer>` to its
sequence number; latency is the time from the writer's `change()` to the moment each other peer
of the document sees that number (every (edit, other peer) pair), on one machine's clock. Server
CPU is user+system time of the server process tree (/proc/<pid>/stat) from the start of typing
until the clients finish, per 1,000 delivered (edit, peer) pairs; RSS is the tree's peak. In S1,
S2, S3 and S5 the writers type for 3 s before the measured period begins (Node compiles
Automerge's WebAssembly and the first sync rounds settle); those edits count in no figure. A client
process too busy to type on time stops at the end of the period instead of sending its backlog
afterwards: accepted edits/s then falls short of the offered rate (48/s in S2), and the printed line
says the clients fell behind.

Scenarios (issue 11): S1 1 writer + 50 readers, one edit per 300 ms; S2 8 writers at 6 chars/s +
50 readers, first vs last minute p99 (first vs last third when shorter than 3 minutes); S3 writers
at 6 chars/s added 8 at a time until p99 passes 500 ms (the count reported is the last that did
not); S4 cold joins of a document holding the paper trace (one change per edit, and changes of 50
edits): a fresh peer's time from connecting to holding the full text, on a restarted server;
CoGov's copy is written through the store's tables as the store writes them (bench.seed.store_norm,
with the latest snapshot), the reference's pushed once by a peer; S5 200 documents with 5 peers
each, every peer typing one edit per second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import describe  # noqa: E402
from bench.seed import SNAPSHOT_EVERY, TRACE, WITHOUT_RATE_LIMITS, store_norm  # noqa: E402
from tests.realtime.servers import CogovServer, RedisServer, free_port  # noqa: E402

REFERENCE = ROOT / "bench" / "reference"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cogov-bench"
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Side by side with the reference sync server (`make bench`)"
FULL_SECTION = "## Side by side, full durations (`make bench-full`; kept apart from the section above, which `make bench` rewrites)"
PASSWORD = "benchmark password 1"
GROUPS = [("civil_society", "KE"), ("private_sector", "BR"), ("technical_academic", "SG")]
CLIENT_PROCESSES = 2
FAILURES: list[str] = []  # scenarios that failed in this run, named under the table


@dataclass
class Durations:
    s1: float
    s2: float
    s3_step: float
    s3_max_writers: int
    s4_joins: int
    s4_layouts: tuple[int, ...]
    s5: float
    s5_documents: int


QUICK = Durations(s1=10, s2=20, s3_step=10, s3_max_writers=64, s4_joins=5, s4_layouts=(50,), s5=10, s5_documents=200)
FULL = Durations(s1=60, s2=300, s3_step=30, s3_max_writers=128, s4_joins=20, s4_layouts=(1, 50), s5=60, s5_documents=200)


# --- Processes: CPU and memory of a process tree ------------------------------------------------


def _tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(children.get(current, []))
    return found


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in {p for root in pids for p in _tree(root)}:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in {p for root in pids for p in _tree(root)}:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
        total += int(match.group(1)) * 1024 if match else 0
    return total


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def node(command: str, config: dict, work: Path, timeout: float = 900, started: asyncio.Future | None = None) -> dict:
    """Run peers.mjs COMMAND with CONFIG; its JSON result. For `run`, STARTED is set to the start time
    sent once the process says it is ready (the caller sets `started.ready`, an Event per process)."""
    path = work / f"{command}-{uuid.uuid4().hex[:8]}.json"
    path.write_text(json.dumps(config))
    process = await asyncio.create_subprocess_exec(
        "node",
        str(REFERENCE / "peers.mjs"),
        command,
        str(path),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=open(work / f"{path.name}.stderr", "wb"),
    )
    try:
        if command == "run":
            line = await asyncio.wait_for(process.stdout.readline(), timeout)
            if line.strip() != b"ready":
                raise RuntimeError(f"peers.mjs run did not get ready: {(work / f'{path.name}.stderr').read_text()[-2000:]}")
            ready, start_at = started
            ready.set()
            process.stdin.write(f"{await start_at}\n".encode())
            await process.stdin.drain()
        process.stdin.close()  # asyncio's wait() also waits for every pipe to close...
        output = await asyncio.wait_for(process.stdout.read(), timeout)  # ...so whatever the Repos print is read
        await asyncio.wait_for(process.wait(), timeout)
        if output.strip():
            (work / f"{path.name}.stdout").write_bytes(output)
    except (TimeoutError, asyncio.CancelledError):
        process.kill()
        raise
    if process.returncode != 0:
        raise RuntimeError(f"peers.mjs {command} exited {process.returncode}: {(work / f'{path.name}.stderr').read_text()[-2000:]}")
    return json.loads(Path(f"{path}.result").read_text())


# --- The servers ------------------------------------------------------------------------------


@dataclass
class Target:
    """One configuration under test: how to start it, create documents, and let writers in."""

    name: str
    work: Path
    pids: list[int] = field(default_factory=list)

    @property
    def note(self) -> str:
        return ""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def documents(self, count: int, writers: int) -> list[str]:
        """COUNT new documents whose WRITERS writers may edit; their automerge: URLs."""
        raise NotImplementedError

    async def sync_urls(self, writers: int, readers: int) -> tuple[list[dict], list[str]]:
        """How each writer connects ({"url"} or, for CoGov, {"ticket": …}) and each reader's URL."""
        raise NotImplementedError


class Reference(Target):
    def __init__(self, work: Path) -> None:
        super().__init__("reference", work)
        self.port = free_port()
        self.storage = work / "reference-storage"
        self.process: subprocess.Popen | None = None

    @property
    def note(self) -> str:
        return "forwards at most one sync message per document per peer every 100 ms"

    async def start(self) -> None:
        self.storage.mkdir(exist_ok=True)
        self.process = subprocess.Popen(
            ["node", str(REFERENCE / "server.mjs"), str(self.port), str(self.storage)],
            stdout=subprocess.PIPE,
            stderr=open(self.work / "reference.log", "ab"),
        )
        line = await asyncio.to_thread(self.process.stdout.readline)
        if not line.startswith(b"listening"):
            raise RuntimeError(f"the reference server did not start: {(self.work / 'reference.log').read_text()[-2000:]}")
        self.pids = [self.process.pid]

    async def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.process.wait, 20)
            except subprocess.TimeoutExpired:
                self.process.kill()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def documents(self, count: int, writers: int) -> list[str]:
        return (await node("create", {"url": self.url, "count": count, "title": "Bench", "text": "Start."}, self.work))["urls"]

    async def sync_urls(self, writers: int, readers: int) -> tuple[list[dict], list[str]]:
        return [{"url": self.url}] * writers, [self.url] * readers


class Cogov(Target):
    def __init__(self, work: Path, database: str, instances: int) -> None:
        super().__init__(
            f"CoGov {'SQLite' if database == 'sqlite' else 'PostgreSQL'}{', 2 instances + Redis' if instances > 1 else ''}", work
        )
        self.database, self.instances = database, instances
        self.database_url = ""
        self.servers: list[CogovServer] = []
        self.redis: RedisServer | None = None
        self.tokens: list[str] = []
        self.slug = ""
        self.network_id: uuid.UUID | None = None
        self.owner: uuid.UUID | None = None

    async def start(self) -> None:
        if not self.database_url:
            if self.database == "sqlite":
                self.database_url = f"sqlite+aiosqlite:///{self.work}/cogov-{uuid.uuid4().hex[:6]}.db"
            else:
                from tests.fixtures.databases import create_postgres_database

                self.database_url = await asyncio.to_thread(create_postgres_database)
            env = {**os.environ, "COGOV_DATABASE_URL": self.database_url}
            await asyncio.to_thread(
                subprocess.run, [sys.executable, "-m", "services.cli", "db", "upgrade"], env=env, check=True, capture_output=True
            )
        if self.instances > 1 and self.redis is None:
            self.redis = await RedisServer().start()
        self.servers = []
        for _ in range(self.instances):
            server = CogovServer(self.database_url, self.work, self.redis.url if self.redis else None)
            # One address opens every connection and asks for every ticket: the per-participant write
            # limit (120/minute) would refuse S5's 1,000 tickets. The benchmark measures sync, not it.
            server.env.update(WITHOUT_RATE_LIMITS)
            # S5 gives each of a document's five writers its own participant, the same five for all
            # 200 documents: far over the 32 sockets a participant may hold open on one instance.
            server.env["COGOV_SYNC_MAX_SOCKETS_PER_PARTICIPANT"] = "100000"
            self.servers.append(await server.start())
        self.pids = [server.process.pid for server in self.servers]

    async def stop(self) -> None:
        for server in self.servers:
            await asyncio.to_thread(server.stop)

    async def close(self) -> None:
        await self.stop()
        if self.redis:
            self.redis.stop()
        if self.database == "postgres" and self.database_url:
            from tests.fixtures.databases import drop_postgres_database

            await asyncio.to_thread(drop_postgres_database, self.database_url)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.servers[0].port}"

    async def _members(self, http: httpx.AsyncClient, count: int) -> None:
        """Enough participants, members of one network, to give every writer of a document its own."""
        run = uuid.uuid4().hex[:6]
        while len(self.tokens) < max(count, 1):
            i = len(self.tokens)
            email = f"writer{i}-{run}@bench.example"
            response = await http.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD, "display_name": f"Writer {i}"})
            response.raise_for_status()
            token = (await http.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            group, country = GROUPS[i % len(GROUPS)]
            await http.put(
                "/api/v1/me/affiliation", json={"stakeholder_group": group, "country": country, "organisation": f"Org {i}"}, headers=headers
            )
            if self.slug:
                (await http.post(f"/api/v1/networks/{self.slug}/join", headers=headers)).raise_for_status()
            else:
                network = (
                    await http.post(
                        "/api/v1/networks",
                        json={
                            "name": f"Bench {run}",
                            "issue": "Benchmarking live sync.",
                            "aims": "Measure.",
                            "intended_outcome": "Figures.",
                        },
                        headers=headers,
                    )
                ).json()
                self.slug = network["slug"]
            self.tokens.append(token)

    async def documents(self, count: int, writers: int) -> list[str]:
        async with httpx.AsyncClient(base_url=self.base, timeout=60) as http:
            await self._members(http, writers)
            founder = {"Authorization": f"Bearer {self.tokens[0]}"}
            urls = []
            for i in range(count):
                response = await http.post(
                    f"/api/v1/networks/{self.slug}/norms", json={"title": f"Bench {i}", "text": "Start."}, headers=founder
                )
                response.raise_for_status()
                urls.append(response.json()["url"])
        return urls

    async def sync_urls(self, writers: int, readers: int) -> tuple[list[dict], list[str]]:
        """Writer i connects as member i % members to instance i % instances, with a ticket it fetches
        just before connecting (tickets are valid 60 s); readers are anonymous."""
        async with httpx.AsyncClient(base_url=self.base, timeout=60) as http:
            await self._members(http, min(writers, 8))
        servers = self.servers
        return (
            [
                {
                    "ticket": {
                        "api": f"http://127.0.0.1:{servers[i % len(servers)].port}",
                        "token": self.tokens[i % len(self.tokens)],
                        "sync": servers[i % len(servers)].sync_url,
                    }
                }
                for i in range(writers)
            ],
            [servers[(i + 1) % len(servers)].sync_url for i in range(readers)],
        )


# --- Live scenarios (S1, S2, S3, S5) ------------------------------------------------------------


WARMUP_SECONDS = 3.0


async def live(
    target: Target, documents: int, writers: int, readers: int, rate: float, seconds: float, window: float | None = None
) -> dict:
    """DOCUMENTS documents, each with WRITERS writers typing RATE edits/s and READERS readers.

    Writers start typing WARMUP_SECONDS before the measured period (Node compiling Automerge's
    WebAssembly, the first sync round trips); those edits count in no figure.
    """
    urls = await target.documents(documents, writers)
    writer_urls, reader_urls = await target.sync_urls(writers * documents, readers * documents)
    peers = []
    for d, doc in enumerate(urls):
        for w in range(writers):
            peers.append({**writer_urls[d * writers + w], "doc": doc, "writer": f"d{d}w{w}", "seed": d * 1000 + w + 1})
        for r in range(readers):
            peers.append({"url": reader_urls[d * readers + r], "doc": doc})
    settle = 3
    start = asyncio.get_running_loop().create_future()
    readies = [asyncio.Event() for _ in range(CLIENT_PROCESSES)]
    jobs = [
        node(
            "run",
            {"peers": peers[p::CLIENT_PROCESSES], "seconds": seconds, "rate": rate, "settle": settle, "warmup": WARMUP_SECONDS},
            target.work,
            timeout=2 * seconds + len(peers) + 900,
            started=(readies[p], start),
        )
        for p in range(CLIENT_PROCESSES)
    ]
    running = asyncio.gather(*jobs)
    waiting = asyncio.gather(*(ready.wait() for ready in readies))
    await asyncio.wait([running, waiting], return_when=asyncio.FIRST_COMPLETED)
    if running.done():
        running.result()  # a client process failed before it was ready: its error
    start_at = time.time() + 1 + WARMUP_SECONDS
    start.set_result(start_at * 1000)
    await asyncio.sleep(max(0.0, start_at - time.time()))
    cpu_before = cpu_seconds(target.pids)
    peak = rss_bytes(target.pids)
    while not running.done():
        peak = max(peak, rss_bytes(target.pids))
        await asyncio.wait([running], timeout=0.5)
    cpu = cpu_seconds(target.pids) - cpu_before
    elapsed = time.time() - start_at  # typing, settling, and however late overloaded peers finished
    results = running.result()

    sent: dict[str, list[float]] = {}
    for result in results:
        sent.update(result["sent"])
    start_ms = start_at * 1000
    measured = {writer: [k for k, at in enumerate(times) if at >= start_ms] for writer, times in sent.items()}
    by_doc: dict[str, list[dict]] = {}
    for result in results:
        for peer in result["peers"]:
            by_doc.setdefault(peer["doc"], []).append(peer)
    latencies: list[tuple[float, float]] = []  # (sent at, ms)
    expected = 0
    accepted = set()
    for doc_peers in by_doc.values():
        doc_writers = [peer["writer"] for peer in doc_peers if peer["writer"]]
        for peer in doc_peers:
            for writer in doc_writers:
                if writer == peer["writer"]:
                    continue
                arrivals = peer["arrivals"].get(writer, [])
                times = sent.get(writer, [])
                expected += len(measured.get(writer, []))
                for k in measured.get(writer, []):
                    if k < len(arrivals) and arrivals[k] is not None:
                        latencies.append((times[k], arrivals[k] - times[k]))
                        accepted.add((writer, k))
    values = [ms for _t, ms in latencies]
    window = window if window is not None else min(60.0, seconds / 3)
    first = [ms for t, ms in latencies if t < start_ms + window * 1000]
    last = [ms for t, ms in latencies if t >= start_ms + (seconds - window) * 1000]
    client_cpu = sum(result["cpuSeconds"] for result in results)
    return {
        "edits": sum(map(len, measured.values())),
        "offered": round(len(sent) * rate * seconds),
        "accepted_per_s": len(accepted) / seconds,
        "deliveries": len(values),
        "expected": expected,
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "first_p99": percentile(first, 99),
        "last_p99": percentile(last, 99),
        "cpu_per_1000": 1000 * cpu / len(values) if values else float("nan"),
        "server_cpu_percent": 100 * cpu / elapsed,
        "rss_mib": peak / 2**20,
        "client_cpu_percent": 100 * client_cpu / elapsed,
        "errors": [error for result in results for error in result["errors"]],
    }


# --- S4: cold joins of the paper trace -----------------------------------------------------------


async def paper(edits_per_change: int, work: Path) -> dict:
    """The paper trace as changes (cached: generating one change per edit takes minutes)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    created, changes, snapshot = (CACHE / f"paper-{edits_per_change}-{name}" for name in ("created.bin", "changes.bin", "snapshot.bin"))
    meta = CACHE / f"paper-{edits_per_change}.json"
    if not meta.exists():
        from norms import document

        _doc, made = document.create("The paper", "", os.urandom(16))
        created.write_bytes(made[0])
        result = await node(
            "generate",
            {
                "trace": str(TRACE),
                "created": str(created),
                "editsPerChange": edits_per_change,
                "changesOut": str(changes),
                "snapshotOut": str(snapshot),
                "snapshotEvery": SNAPSHOT_EVERY,
            },
            work,
            timeout=1800,
        )
        meta.write_text(json.dumps(result))
    return {**json.loads(meta.read_text()), "created": created, "changes_file": changes, "snapshot": snapshot}


def read_changes(path: Path) -> list[bytes]:
    data = path.read_bytes()
    count = int.from_bytes(data[:4], "little")
    offset = 4 * (count + 1)
    parts = []
    for i in range(count):
        size = int.from_bytes(data[4 * (i + 1) : 4 * (i + 2)], "little")
        parts.append(data[offset : offset + size])
        offset += size
    return parts


async def seed_paper(target: Target, trace: dict) -> str:
    if isinstance(target, Reference):
        return (
            await node(
                "seed",
                {"url": target.url, "created": str(trace["created"]), "changes": str(trace["changes_file"]), "length": trace["length"]},
                target.work,
                timeout=1800,
            )
        )["url"]
    assert isinstance(target, Cogov)
    from sqlalchemy import select

    from networks.models import Network
    from norms import document
    from services.kit.db import create_engine, create_sessionmaker

    await target.documents(0, 1)  # the network and its founder
    engine = create_engine(target.database_url)
    sessionmaker = create_sessionmaker(engine)
    async with sessionmaker() as session:
        network = await session.scalar(select(Network).where(Network.slug == target.slug))
    snapshots = {trace["snapshotAt"]: trace["snapshot"].read_bytes()} if trace["snapshotAt"] else {}
    document_id = await store_norm(
        sessionmaker, network.founded_by, network.id, trace["created"].read_bytes(), read_changes(trace["changes_file"]), snapshots
    )
    await engine.dispose()
    return document.document_url(document_id)


async def cold_joins(target: Target, edits_per_change: int, joins: int) -> dict:
    trace = await paper(edits_per_change, target.work)
    started = time.monotonic()
    doc = await seed_paper(target, trace)
    seeded = time.monotonic() - started
    await target.restart()
    _writers, readers = await target.sync_urls(0, joins)
    cpu_before = cpu_seconds(target.pids)
    result = await node("join", {"urls": readers, "doc": doc, "length": trace["length"]}, target.work, timeout=joins * 180)
    cpu = cpu_seconds(target.pids) - cpu_before
    seconds = result["seconds"]
    return {
        "changes": trace["changes"] + 1,
        "seed_seconds": seeded,
        "first": seconds[0] * 1000,
        "p50": percentile(seconds, 50) * 1000,
        "p95": percentile(seconds, 95) * 1000,
        "cpu_per_join": cpu / len(seconds),
        "rss_mib": rss_bytes(target.pids) / 2**20,
        "errors": result["errors"],
    }


# --- Running and reporting ---------------------------------------------------------------------


def reference_packages() -> None:
    """Node.js and the stock automerge-repo packages the peers and the reference server run on, installed
    with npm (as `make bench` does) when missing; exits naming what to install when that cannot be done."""
    if shutil.which("node") is None:
        raise SystemExit(
            "bench.compare runs its peers and the reference server on Node.js: install `node` and `npm` (apt-get install nodejs npm)"
        )
    if (REFERENCE / "node_modules" / ".package-lock.json").is_file():
        return
    if shutil.which("npm") is None:
        raise SystemExit(
            f"bench.compare needs the packages of {REFERENCE.relative_to(ROOT)}: install `npm`, or run "
            f"`npm ci --prefix {REFERENCE.relative_to(ROOT)}` where npm is"
        )
    print(f"# installing the reference packages: npm ci --prefix {REFERENCE.relative_to(ROOT)}", flush=True)
    subprocess.run(["npm", "ci", "--prefix", str(REFERENCE), "--no-audit", "--no-fund", "--loglevel=error"], check=True)


async def run_target(target: Target, durations: Durations, scenarios: set[str], emit) -> dict:
    """Every scenario asked for; one that fails is reported and left out of the table, the rest still run."""
    figures: dict[str, dict] = {}

    async def attempt(name: str, work) -> dict | None:
        try:
            figures[name] = await work
        except (Exception, TimeoutError) as exc:  # noqa: BLE001 - a benchmark reports and carries on
            print(f"{target.name} {name}: failed: {exc!r}"[:2000], flush=True)
            FAILURES.append(f"{target.name} {name}: {exc!r}"[:300])
            return None
        emit(target, name, figures[name])
        return figures[name]

    await target.start()
    try:
        if "S1" in scenarios:
            await attempt("S1", live(target, 1, 1, 50, 1 / 0.3, durations.s1))
        if "S2" in scenarios:
            await attempt("S2", live(target, 1, 8, 50, 6, durations.s2))
        if "S3" in scenarios:
            passed, last = 0, None
            for writers in range(8, durations.s3_max_writers + 1, 8):
                step = await attempt(f"S3 {writers} writers", live(target, 1, writers, 0, 6, durations.s3_step))
                if step is None or step["p99"] > 500 or step["deliveries"] < 0.99 * step["expected"]:
                    break
                passed, last = writers, step
            figures["S3"] = {**(last or {}), "writers": passed}
        if "S5" in scenarios:
            await attempt("S5", live(target, durations.s5_documents, 5, 0, 1, durations.s5))
        if "S4" in scenarios:
            for layout in durations.s4_layouts:
                await attempt(f"S4/{layout}", cold_joins(target, layout, durations.s4_joins))
    finally:
        if isinstance(target, Cogov):
            await target.close()
        else:
            await target.stop()
    return figures


def emit(target: Target, scenario: str, f: dict) -> None:
    if scenario.startswith("S4"):
        text = (
            f"{f['changes']:,} changes, seeded in {f['seed_seconds']:.0f} s; join to full text: first {f['first']:.0f} ms, "
            f"p50 {f['p50']:.0f} ms, p95 {f['p95']:.0f} ms; server CPU {f['cpu_per_join']:.2f} s per join, RSS {f['rss_mib']:.0f} MiB"
        )
    else:
        typed = f" of {f['offered']} offered (the clients fell behind)" if f["edits"] < 0.98 * f["offered"] else ""
        text = (
            f"{f['edits']} edits{typed} ({f['accepted_per_s']:.1f}/s accepted), {f['deliveries']:,} of {f['expected']:,} deliveries; "
            f"p50 {f['p50']:.1f} ms, p95 {f['p95']:.1f} ms, p99 {f['p99']:.1f} ms (first {f['first_p99']:.1f}, last {f['last_p99']:.1f}); "
            f"server {f['cpu_per_1000']:.2f} CPU s per 1,000 deliveries ({f['server_cpu_percent']:.0f}% of a core), "
            f"peak RSS {f['rss_mib']:.0f} MiB; clients {f['client_cpu_percent']:.0f}% of a core"
        )
    errors = f.get("errors") or []
    print(f"{target.name} {scenario}: {text}" + (f"; {len(errors)} client errors, e.g. {errors[0][:200]}" if errors else ""), flush=True)


ROWS = [
    # (label, scenario, key, format, lower is better)
    ("S1 p50 latency", "S1", "p50", "{:.1f} ms"),
    ("S1 p99 latency", "S1", "p99", "{:.1f} ms"),
    ("S1 server CPU per 1,000 deliveries", "S1", "cpu_per_1000", "{:.2f} s"),
    ("S1 server peak RSS", "S1", "rss_mib", "{:.0f} MiB"),
    ("S2 p50 latency", "S2", "p50", "{:.1f} ms"),
    ("S2 p95 latency", "S2", "p95", "{:.1f} ms"),
    ("S2 p99 latency", "S2", "p99", "{:.1f} ms"),
    ("S2 first-window p99", "S2", "first_p99", "{:.1f} ms"),
    ("S2 last-window p99", "S2", "last_p99", "{:.1f} ms"),
    ("S2 accepted edits/s", "S2", "accepted_per_s", "{:.1f}"),
    ("S2 server CPU per 1,000 deliveries", "S2", "cpu_per_1000", "{:.2f} s"),
    ("S2 server peak RSS", "S2", "rss_mib", "{:.0f} MiB"),
    ("S3 writers before p99 > 500 ms", "S3", "writers", "{:d}"),
    ("S3 p99 at that count", "S3", "p99", "{:.1f} ms"),
    ("S3 accepted edits/s at that count", "S3", "accepted_per_s", "{:.1f}"),
    ("S4 join, 1 change per edit, p50", "S4/1", "p50", "{:.0f} ms"),
    ("S4 join, 1 change per edit, p95", "S4/1", "p95", "{:.0f} ms"),
    ("S4 join, 50 edits per change, p50", "S4/50", "p50", "{:.0f} ms"),
    ("S4 join, 50 edits per change, p95", "S4/50", "p95", "{:.0f} ms"),
    ("S4 server RSS after joins (50 per change)", "S4/50", "rss_mib", "{:.0f} MiB"),
    ("S5 p50 latency", "S5", "p50", "{:.1f} ms"),
    ("S5 p99 latency", "S5", "p99", "{:.1f} ms"),
    ("S5 accepted edits/s", "S5", "accepted_per_s", "{:.1f}"),
    ("S5 server CPU per 1,000 deliveries", "S5", "cpu_per_1000", "{:.2f} s"),
    ("S5 server peak RSS", "S5", "rss_mib", "{:.0f} MiB"),
]


def table(results: dict[str, dict]) -> str:
    names = [name for name in results if name != "reference"]
    header = "| figure | reference | " + " | ".join(f"{name} | ÷ ref" for name in names) + " |"
    lines = [header, "|---|---:|" + "---:|---:|" * len(names)]
    for label, scenario, key, fmt in ROWS:
        reference = results.get("reference", {}).get(scenario, {}).get(key)
        cells = []
        for name in names:
            value = results[name].get(scenario, {}).get(key)
            cells.append(fmt.format(value) if value is not None else "—")
            cells.append(f"{value / reference:.2f}" if value is not None and reference not in (None, 0) and reference == reference else "—")
        if all(cell == "—" for cell in cells) and reference is None:
            continue
        lines.append(f"| {label} | {fmt.format(reference) if reference is not None else '—'} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def add_full_run(text: str) -> None:
    """A full run goes first in its own section, above the full runs before it (they are kept)."""
    current = RESULTS.read_text()
    start = current.find(FULL_SECTION)
    if start < 0:
        write_section(f"{FULL_SECTION}\n\n{text}", replace=False)
        return
    position = start + len(FULL_SECTION) + 2
    RESULTS.write_text(current[:position] + text.rstrip() + "\n\n" + current[position:].lstrip("\n"))


def write_section(text: str, replace: bool = True) -> None:
    """`text` (a section) first after the introduction; the `make bench` section it replaces is dropped."""
    current = RESULTS.read_text()
    start = current.find(SECTION) if replace else -1
    if start >= 0:
        end = current.find("\n## ", start + len(SECTION))
        current = current[:start] + current[end + 1 :] if end >= 0 else current[:start]
    # Newest benchmark first: after the introduction, before the first section.
    first = current.find("\n## ")
    position = first + 1 if first >= 0 else len(current)
    RESULTS.write_text(current[:position] + text.rstrip() + "\n\n" + current[position:])


async def main(args) -> None:
    reference_packages()
    if "S4" in args.scenarios.split(",") and not TRACE.is_file():
        raise SystemExit(f"S4 joins the paper trace, which is not at {TRACE}: set COGOV_TRACES_DIR, or leave S4 out (--scenarios)")
    durations = FULL if args.full else QUICK
    # SIGTERM (a stopped `make bench`) ends the run through the `finally`s below: servers stopped,
    # temporary databases dropped.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, asyncio.current_task().cancel)
    priority = ""
    if args.nice:
        # Every server and peer process inherits this niceness; a shared PostgreSQL does not.
        try:
            os.setpriority(os.PRIO_PROCESS, 0, args.nice)
            priority = f"Servers and peers at nice {args.nice} (ahead of other work on the machine; PostgreSQL not). "
        except PermissionError:
            print(f"# cannot set nice {args.nice} (needs CAP_SYS_NICE); running at the default priority", flush=True)
    work = Path(tempfile.mkdtemp(prefix="cogov-compare-"))
    wanted = args.targets.split(",")
    all_scenarios = set(args.scenarios.split(","))
    machine_before = describe()
    print(f"# {machine_before} · {'full' if args.full else 'quick'} run", flush=True)
    results: dict[str, dict] = {}
    notes = []
    try:
        plan: list[tuple[str, Target, set[str]]] = []
        if "reference" in wanted:
            plan.append(("reference", Reference(work), all_scenarios))
        if "sqlite" in wanted:
            plan.append(("CoGov SQLite", Cogov(work, "sqlite", 1), all_scenarios))
        secondary = all_scenarios if args.full else all_scenarios & {"S1", "S2"}
        if "postgres" in wanted:
            plan.append(("CoGov PostgreSQL", Cogov(work, "postgres", 1), secondary))
        if "redis" in wanted:
            plan.append(("CoGov PostgreSQL ×2 + Redis", Cogov(work, "postgres", 2), secondary))
        for name, target, scenarios in plan:
            started = time.monotonic()
            results[name] = await run_target(target, durations, scenarios, emit)
            notes.append(f"{name}: {time.monotonic() - started:.0f} s, load average after {os.getloadavg()[0]:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = table(results)
    print(text)
    if not args.no_write:
        d = durations
        (add_full_run if args.full else write_section)(
            ("" if args.full else f"{SECTION}\n\n")
            + f"`python -m bench.compare {' '.join(sys.argv[1:])}`".replace(" `", "`")
            + " (its docstring gives the method). "
            f"{machine_before} at the start. "
            f"{'Full' if args.full else 'Quick'} run: S1 {d.s1:.0f} s, S2 {d.s2:.0f} s, S3 {d.s3_step:.0f} s per step of 8 writers, "
            f"S4 {d.s4_joins} joins per layout ({', '.join(f'{k} edit(s) per change' for k in d.s4_layouts)}), "
            f"S5 {d.s5_documents} documents × 5 peers for {d.s5:.0f} s"
            f"{'' if args.full else '; PostgreSQL and two instances ran S1 and S2 only'}. "
            f"{priority}Peers: stock automerge-repo 2.5.6 clients in 2 Node processes on the same 2 cores. "
            "The reference forwards at most one sync message per document per peer every 100 ms (automerge-repo's "
            "sync throttle), and the stock clients throttle theirs the same way for both servers. "
            f"Wall time per configuration: {'; '.join(notes)}.\n\n{text}\n" + (f"\nFailed: {'; '.join(FAILURES)}.\n" if FAILURES else "")
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="the durations of issue 11 (about an hour)")
    parser.add_argument("--targets", default="reference,sqlite,postgres,redis")
    parser.add_argument("--scenarios", default="S1,S2,S3,S4,S5")
    parser.add_argument("--nice", type=int, default=0, help="run servers and peers at this niceness, e.g. -10 on a busy machine")
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    asyncio.run(main(parser.parse_args()))
