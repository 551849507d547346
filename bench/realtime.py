"""Live sync under load: edit-to-peer latency, accepted edits/s, server CPU and memory.

Starts `cogov serve` (SQLite or PostgreSQL; one instance, or two behind a private Redis with the
peers spread over both), seeds a network and a norm, then runs Python peers
(services/realtime/client.py) in several client processes. Writers type one character per change;
every other peer records when each change reaches it. Latency is arrival minus send time, for
every (change, other peer) pair; wall clocks of one machine.

    .venv/bin/python bench/realtime.py                      # all scenarios, SQLite, one instance
    .venv/bin/python bench/realtime.py --database postgres --instances 2 --scenario 1
    .venv/bin/python bench/realtime.py --scenario 2 --minutes 2
    .venv/bin/python bench/realtime.py --scenario 1 --readers 2 --seconds 2   # a quick run

Scenarios: (1) 1 writer + 50 readers, one edit per 300 ms; (2) 8 writers typing 6 chars/s with 50
peers, first-minute vs last-minute p99; (3) more writers at 6 chars/s until p99 passes 500 ms.

Each full peer is an rc1 replica, and rc1 spends time growing with the history on every message it
takes in (about 1 ms at 3,000 changes with concurrent writers), all in the two client processes on
the machine's two cores. `--light-readers` replaces the readers (not the writers) by protocol peers
that record each change's arrival from the message and acknowledge its heads without a replica:
the figures are then the server's delivery rather than the readers' own Automerge work.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import describe  # noqa: E402
from bench.seed import confirm_addresses, without_rate_limits  # noqa: E402
from norms import document  # noqa: E402
from tests.realtime.servers import CogovServer, RedisServer, free_port  # noqa: E402

PASSWORD = "benchmark password 1"
GROUPS = [("civil_society", "KE"), ("private_sector", "BR"), ("technical_academic", "SG")]


# --- Client processes -------------------------------------------------------------------


def _chunk_hash(chunk: bytes) -> bytes | None:
    """A change chunk's hash (the SHA-256 the protocol names it by), or None if the bytes are not one."""
    try:
        return document.change_hash(chunk)
    except document.InvalidChange:
        return None


def _peers_process(sync_urls, doc_url, writers, readers, rate, start_at, seconds, light, results):
    results.put(asyncio.run(_peers(sync_urls, doc_url, writers, readers, rate, start_at, seconds, light)))


async def _peers(sync_urls, doc_url, writers, readers, rate, start_at, seconds, light):
    import cbor2
    import websockets

    from services.realtime import sync_message
    from services.realtime.client import SyncClient, _handshake

    sent: dict[bytes, float] = {}
    arrivals: list[tuple[int, bytes, float]] = []
    errors: list[str] = []
    handles = []

    async def join(index: int, ticket: str | None):
        client = await SyncClient.connect(sync_urls[index % len(sync_urls)], ticket=ticket, timeout=60)
        handle = await client.open(doc_url, timeout=60)
        original = handle._receive
        peer = len(handles)
        seen: set[bytes] = set()

        async def receive(data: bytes) -> None:
            await original(data)
            now = time.time()
            hashes = [h for h in (_chunk_hash(chunk) for chunk in sync_message.decode(data).changes) if h is not None]
            fresh = [change_hash for change_hash in hashes if change_hash not in seen]
            seen.update(fresh)
            arrivals.extend((peer, change_hash, now) for change_hash in fresh)

        handle._receive = receive
        handles.append(handle)
        return handle

    sockets = []

    async def light_reader(index: int, joined: asyncio.Future) -> None:
        """A protocol peer without a document: it records each change as it arrives and acknowledges the heads."""
        peer_id = f"bench-reader-{uuid.uuid4().hex[:12]}"
        websocket, server_id = await _handshake(sync_urls[index % len(sync_urls)], None, peer_id, None, 60)
        sockets.append(websocket)
        wire_id = doc_url.removeprefix(document.URL_PREFIX)
        frame = {"type": "request", "senderId": peer_id, "targetId": server_id, "documentId": wire_id}
        everything = sync_message.SyncMessage(sync_message.V1, (), (), (sync_message.Have((), b""),), ())
        await websocket.send(cbor2.dumps({**frame, "data": sync_message.encode(everything)}))
        peer, seen, acknowledged = 100_000 + index, set(), ()
        try:
            async for data in websocket:
                message = cbor2.loads(data)
                if message.get("type") != "sync":
                    continue
                parsed = sync_message.decode(message["data"])
                now = time.time()
                fresh = [h for h in (_chunk_hash(chunk) for chunk in parsed.changes) if h is not None and h not in seen]
                seen.update(fresh)
                arrivals.extend((peer, change_hash, now) for change_hash in fresh)
                if parsed.heads != acknowledged:
                    acknowledged = parsed.heads
                    await websocket.send(cbor2.dumps({**frame, "type": "sync", "data": sync_message.at_heads(parsed.heads)}))
                if not joined.done():
                    joined.set_result(None)
        except websockets.ConnectionClosed:
            pass

    writer_handles = [await join(i, ticket) for i, (ticket, _seed) in enumerate(writers)]
    reading = []
    for i in range(readers):
        if light:
            joined = asyncio.get_running_loop().create_future()
            reading.append(asyncio.create_task(light_reader(len(writers) + i, joined)))
            await asyncio.wait_for(joined, 60)
        else:
            await join(len(writers) + i, None)

    async def type_(handle, seed):
        rng = random.Random(seed)
        next_at = start_at + rng.random() / rate
        while next_at < start_at + seconds:
            await asyncio.sleep(max(0.0, next_at - time.time()))
            try:
                made = await handle.splice(rng.randint(0, document.text_length(handle.doc)), 0, rng.choice("abcdefghijklmnopqrstuvwxyz "))
            except Exception as exc:  # a closed socket ends this writer; reported below
                errors.append(repr(exc))
                return
            now = time.time()
            for change in made:
                sent[change] = now
            next_at += 1 / rate

    await asyncio.sleep(max(0.0, start_at - time.time()))
    await asyncio.gather(*(type_(handle, seed) for handle, (_ticket, seed) in zip(writer_handles, writers, strict=True)))
    await asyncio.sleep(max(0.0, start_at + seconds - time.time()) + 3)  # let the last edits arrive
    writer_peers = set(range(len(writer_handles)))
    for handle in handles:
        await handle.client.close()
    for websocket in sockets:
        await websocket.close()
    for task in reading:
        task.cancel()
    return {"sent": sent, "arrivals": arrivals, "writer_peers": writer_peers, "errors": errors, "pid": os.getpid()}


# --- The server side ----------------------------------------------------------------------


def _proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _proc_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def _seed(base: str, writers: int, database_url: str) -> tuple[str, list[str]]:
    """A network whose members are the writers, a norm; returns its URL and each writer's bearer token."""
    tokens = []
    run = uuid.uuid4().hex[:6]
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        for i in range(max(writers, 3)):
            email = f"writer{i}-{run}@bench.example"
            assert (
                await http.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD, "display_name": f"Writer {i}"})
            ).status_code == 202
            await confirm_addresses(database_url)
            token = (await http.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})).json()["access_token"]
            group, country = GROUPS[i % len(GROUPS)]
            headers = {"Authorization": f"Bearer {token}"}
            await http.put(
                "/api/v1/me/affiliation", json={"stakeholder_group": group, "country": country, "organisation": f"Org {i}"}, headers=headers
            )
            tokens.append(token)
        founder = {"Authorization": f"Bearer {tokens[0]}"}
        network = (
            await http.post(
                "/api/v1/networks",
                json={
                    "name": f"Bench {run}",
                    "issue": "Benchmarking live sync.",
                    "aims": "Measure.",
                    "intended_outcome": "Figures.",
                },
                headers=founder,
            )
        ).json()
        for token in tokens[1:]:
            await http.post(f"/api/v1/networks/{network['slug']}/join", headers={"Authorization": f"Bearer {token}"})
        norm = (
            await http.post(f"/api/v1/networks/{network['slug']}/norms", json={"title": "Bench", "text": "Start."}, headers=founder)
        ).json()
    return norm["url"], tokens[:writers]


async def _tickets(base: str, tokens: list[str]) -> list[str]:
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        return [
            (await http.post("/api/v1/sync/tickets", headers={"Authorization": f"Bearer {token}"})).json()["ticket"] for token in tokens
        ]


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def scenario(
    servers, base: str, writers: int, readers: int, rate: float, seconds: float, processes: int = 2, light: bool = False
) -> dict:
    doc_url, tokens = await _seed(base, writers, servers[0].env["COGOV_DATABASE_URL"])
    tickets = await _tickets(base, tokens)
    sync_urls = [server.sync_url for server in servers]
    writer_specs = [(ticket, seed) for seed, ticket in enumerate(tickets)]
    start_at = time.time() + 8 + (writers + readers) * 0.05
    queue = multiprocessing.get_context("spawn").Queue()
    jobs = []
    for p in range(processes):
        job = multiprocessing.get_context("spawn").Process(
            target=_peers_process,
            args=(
                sync_urls[p % len(sync_urls) :] + sync_urls[: p % len(sync_urls)],
                doc_url,
                writer_specs[p::processes],
                readers // processes + (1 if p < readers % processes else 0),
                rate,
                start_at,
                seconds,
                light,
                queue,
            ),
        )
        job.start()
        jobs.append(job)
    pids = [server.process.pid for server in servers]
    cpu_before = sum(_proc_cpu_seconds(pid) for pid in pids)
    peak_rss = 0
    while time.time() < start_at + seconds:
        peak_rss = max(peak_rss, sum(_proc_rss(pid) for pid in pids))
        await asyncio.sleep(0.5)
    cpu = sum(_proc_cpu_seconds(pid) for pid in pids) - cpu_before
    results = [await asyncio.to_thread(queue.get, True, 300) for _ in jobs]
    for job in jobs:
        job.join(30)

    sent = {}
    for result in results:
        sent.update(result["sent"])
    latencies: list[tuple[float, float]] = []  # (send time, latency)
    for result in results:
        for _peer, change, arrived in result["arrivals"]:
            if change in sent:
                latencies.append((sent[change], arrived - sent[change]))
    values = [latency * 1000 for _t, latency in latencies]
    first = [lat * 1000 for t, lat in latencies if t < start_at + 60]
    last = [lat * 1000 for t, lat in latencies if t >= start_at + seconds - 60]
    return {
        "writers": writers,
        "readers": readers,
        "seconds": seconds,
        "edits": len(sent),
        "edits_per_s": len(sent) / seconds,
        "deliveries": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "first_minute_p99": percentile(first, 99),
        "last_minute_p99": percentile(last, 99),
        "server_cpu_percent": 100 * cpu / seconds,
        "server_peak_rss_mib": peak_rss / 2**20,
        "errors": sum(len(result["errors"]) for result in results),
    }


def _print(name: str, figures: dict) -> None:
    print(
        f"{name}: {figures['writers']} writers + {figures['readers']} readers, {figures['seconds']:.0f} s: "
        f"{figures['edits']} edits ({figures['edits_per_s']:.1f}/s accepted), {figures['deliveries']} deliveries; "
        f"latency p50 {figures['p50']:.1f} ms, p95 {figures['p95']:.1f} ms, p99 {figures['p99']:.1f} ms; "
        f"server CPU {figures['server_cpu_percent']:.0f}%, peak RSS {figures['server_peak_rss_mib']:.0f} MiB"
        + (
            f"; first-minute p99 {figures['first_minute_p99']:.1f} ms, last-minute p99 {figures['last_minute_p99']:.1f} ms"
            if figures["seconds"] >= 120
            else ""
        )
        + (f"; {figures['errors']} peer errors" if figures["errors"] else ""),
        flush=True,
    )


# --- Main ----------------------------------------------------------------------------------


async def main(args) -> None:
    work = Path(tempfile.mkdtemp(prefix="cogov-bench-"))
    if args.database == "sqlite":
        database_url = f"sqlite+aiosqlite:///{work}/bench.db"
    else:
        import asyncpg  # noqa: F401

        from tests.fixtures.databases import create_postgres_database

        database_url = await asyncio.to_thread(create_postgres_database)
    # The seeding signs up to 128 writers from one address in seconds: more than a deployment's sign-up limit.
    without_rate_limits()
    env = {**os.environ, "COGOV_DATABASE_URL": database_url, "COGOV_DATA_DIR": str(work)}
    subprocess.run([sys.executable, "-m", "services.cli", "db", "upgrade"], env=env, check=True, capture_output=True)
    redis = await RedisServer().start() if args.instances > 1 else None
    servers = [await CogovServer(database_url, work, redis.url if redis else None, port=free_port()).start() for _ in range(args.instances)]
    base = f"http://127.0.0.1:{servers[0].port}"
    print(
        f"# {describe()} · database {args.database}, {args.instances} instance(s){' behind Redis' if redis else ''}; "
        f"peers in 2 client processes on the same machine",
        flush=True,
    )
    try:
        if "1" in args.scenario:
            _print("(1)", await scenario(servers, base, 1, args.readers, 1 / 0.3, args.seconds, light=args.light_readers))
        if "2" in args.scenario:
            _print("(2)", await scenario(servers, base, 8, args.readers, 6, args.minutes * 60, light=args.light_readers))
        if "3" in args.scenario:
            for writers in range(args.writers, 129, 8):
                figures = await scenario(servers, base, writers, 0, 6, args.seconds)
                _print(f"(3) {writers} writers", figures)
                if figures["p99"] > 500 or figures["errors"]:
                    break
    finally:
        for server in servers:
            server.stop()
        if redis:
            redis.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--instances", type=int, choices=[1, 2], default=1)
    parser.add_argument("--scenario", default="123", help="which scenarios to run, e.g. 13")
    parser.add_argument("--seconds", type=float, default=30, help="length of scenarios 1 and 3")
    parser.add_argument("--minutes", type=float, default=2, help="length of scenario 2")
    parser.add_argument("--writers", type=int, default=8, help="writers scenario 3 starts with (then 8 more each round)")
    parser.add_argument("--readers", type=int, default=50, help="readers in scenarios 1 and 2")
    parser.add_argument(
        "--light-readers",
        action="store_true",
        help="readers that record arrivals and acknowledge heads without an Automerge replica of their own "
        "(the writers stay full peers): the server's delivery, without the readers' own rc1 work",
    )
    asyncio.run(main(parser.parse_args()))
