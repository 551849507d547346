"""Clearing-house feeds under load, and WebSub push latency, on one `cogov serve` process.

    python -m bench.feeds [--backend sqlite|postgres] [--entries 200] [--subscribers 100] [--clients 50] [--seconds 10]

Seeds a network whose norms are adopted through real ballots (open, four approvals) and
published by the clearing-house worker, then starts `cogov serve` (one process, its built-in
worker on) and measures:
  1. requests/s for the Atom feed of all entries (`?limit=200`), full and conditional (304),
     with 50 concurrent clients (wrk when installed, else an httpx load generator);
  2. the time from the vote that closes a ballot to the last of 100 WebSub subscribers
     (a local server on 127.0.0.1) receiving the feed, for a few adoptions.
Targets (issue 8): 304s at >= 3,000 req/s, full feed at >= 300 req/s, 100 subscribers within 5 s.
The seeding app and the server run without rate limits (bench.seed.without_rate_limits).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import uvicorn

import migrations
from bench.machine import describe
from bench.seed import POSTGRES, confirm_addresses, postgres_database, without_rate_limits
from services.api.app import create_app
from services.clearinghouse import worker as clearinghouse_worker
from services.kit.clock import ManualClock
from services.settings import Settings

SECRET = "bench-secret-" + "b" * 40
PASSWORD = "correct horse battery"
COUNCIL = [
    ("Amina", "civil_society", "KE", "Digital Rights Kenya"),
    ("Bruno", "private_sector", "BR", "Rede Aberta"),
    ("Chen", "technical_academic", "SG", "NUS"),
    ("Dana", "civil_society", "DE", "EDRi"),
]
CHARTER = {
    # The benchmark's people are not verified: the network counts every member.
    "verified_only": False,
    "required_groups": ["civil_society", "private_sector", "technical_academic"],
    "min_regions": 3,
    "signoff": {"quorum": "1/2", "threshold": "1/2", "min_ballot_hours": 1},
}
PARAGRAPH = (
    "Platforms above {n} million monthly users publish, in plain language, the main criteria their "
    "recommender systems use to rank content, the weight of each, and how users can change them. "
)


def norm_text(n: int) -> str:
    """About 1.5 KB of norm text, different for each norm."""
    return "".join(PARAGRAPH.format(n=n + k) for k in range(6)).strip()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- Seeding ---------------------------------------------------------------------------------


async def seed(settings: Settings, entries: int, pending: int) -> list[dict]:
    """`entries` norms adopted and published; `pending` more with a ballot that lacks one approval (returned)."""
    app = create_app(settings)
    clock = app.state.clock = app.state.runtime.clock = ManualClock()
    worker = clearinghouse_worker.for_runtime(app.state.runtime)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:

        async def call(method: str, path: str, person: dict | None = None, **kwargs) -> dict:
            response = await client.request(method, path, headers=person["headers"] if person else None, **kwargs)
            assert response.status_code < 300, (path, response.text)
            return response.json() if response.content else {}

        members = []
        for name, group, country, organisation in COUNCIL:
            email = f"{name.lower()}-{uuid.uuid4().hex[:6]}@example.org"
            await call("POST", "/api/v1/auth/register", json={"email": email, "password": PASSWORD, "display_name": name})
            await confirm_addresses(settings.database_url)
            token = (await client.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})).json()["access_token"]
            person = {"headers": {"Authorization": f"Bearer {token}"}}
            await call(
                "PUT", "/api/v1/me/affiliation", person, json={"stakeholder_group": group, "country": country, "organisation": organisation}
            )
            members.append(person)
        network = await call(
            "POST",
            "/api/v1/networks",
            members[0],
            json={
                "name": "Platform Transparency Council",
                "issue": "Recommender systems shape public debate.",
                "aims": "Voluntary transparency norms.",
                "intended_outcome": "Norms platforms adopt.",
                "charter": CHARTER,
            },
        )
        for person in members[1:]:
            await call("POST", f"/api/v1/networks/{network['slug']}/join", person)

        ballots = []
        for n in range(entries + pending):
            norm = await call(
                "POST",
                f"/api/v1/networks/{network['slug']}/norms",
                members[0],
                json={"title": f"Recommender transparency {n + 1}", "text": norm_text(n)},
            )
            await call("POST", f"/api/v1/norms/{norm['id']}/versions", members[0], json={"label": "For sign-off"})
            ballot = await call(
                "POST",
                f"/api/v1/norms/{norm['id']}/ballots",
                members[0],
                json={"version": 1, "closes_at": (clock.now() + timedelta(days=30)).isoformat()},
            )
            voters = members if n < entries else members[:-1]
            for person in voters:
                await call("PUT", f"/api/v1/ballots/{ballot['id']}/vote", person, json={"position": "approve"})
            if n >= entries:
                ballots.append({"id": ballot["id"], "last_voter": members[-1]})
            clock.advance(seconds=1)
            if n % 20 == 19 or n == entries - 1:
                while await worker.publish_pending():
                    pass
                print(f"  seeded {min(n + 1, entries)} entries", file=sys.stderr)
    await worker.aclose()
    await app.state.sync_hub.stop()
    await app.state.engine.dispose()
    return ballots


# --- Load ------------------------------------------------------------------------------------


def wrk(url: str, headers: dict, clients: int, seconds: int) -> tuple[float, str]:
    command = ["wrk", "-t1", f"-c{clients}", f"-d{seconds}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p99 = re.search(r"99%\s+(\S+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        raise RuntimeError(f"wrk saw {non_2xx.group(1)} error responses")
    return rate, p99.group(1) if p99 else "?"


async def httpx_load(url: str, headers: dict, clients: int, seconds: int, expect: int) -> tuple[float, str]:
    done, latencies = 0, []
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def one_client() -> None:
            nonlocal done
            while time.monotonic() < deadline:
                started = time.perf_counter()
                response = await client.get(url, headers=headers)
                assert response.status_code == expect, response.status_code
                latencies.append(time.perf_counter() - started)
                done += 1

        started = time.monotonic()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        elapsed = time.monotonic() - started
    p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) > 1 else latencies[0]
    return done / elapsed, f"{p99 * 1000:.1f}ms"


def load(url: str, headers: dict, clients: int, seconds: int, expect: int) -> tuple[float, str, str]:
    """Requests/s and p99 of `clients` concurrent clients for `seconds`, and which load generator ran:
    wrk when installed, else an httpx one in this process (which tops out before a fast server does)."""
    if shutil.which("wrk"):
        return (*wrk(url, headers, clients, seconds), "wrk")
    return (*asyncio.run(httpx_load(url, headers, clients, seconds, expect)), "httpx")


# --- Push ------------------------------------------------------------------------------------


class Subscribers:
    """Many WebSub subscribers (one path each) on one local server; notes when each first receives a delivery."""

    def __init__(self) -> None:
        self.verified = 0
        self.arrived: dict[str, float] = {}

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        body = b""
        if scope["method"] == "GET":
            from urllib.parse import parse_qs

            body = parse_qs(scope["query_string"].decode())["hub.challenge"][0].encode()
            self.verified += 1
        else:
            self.arrived.setdefault(scope["path"], time.perf_counter())
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": body})


async def push(base: str, ballots: list[dict], subscribers: int) -> list[tuple[float, float]]:
    """For each ballot: (first, last) seconds from its closing vote to the subscribers' receipt of the feed."""
    receiver = Subscribers()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(receiver, host="127.0.0.1", port=port, log_level="critical", lifespan="off"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    results = []
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            for n in range(subscribers):
                response = await client.post(
                    "/websub",
                    data={
                        "hub.mode": "subscribe",
                        "hub.topic": f"{base}/feeds/norms.atom",
                        "hub.callback": f"http://127.0.0.1:{port}/s{n}",
                        "hub.secret": f"secret-{n}",
                    },
                )
                assert response.status_code == 202, response.text
            while receiver.verified < subscribers:
                await asyncio.sleep(0.05)
            await asyncio.sleep(1)  # the last verification's transaction commits after its GET
            for ballot in ballots:
                receiver.arrived.clear()
                started = time.perf_counter()
                response = await client.put(
                    f"/api/v1/ballots/{ballot['id']}/vote", json={"position": "approve"}, headers=ballot["last_voter"]["headers"]
                )
                assert response.status_code == 200 and response.json()["adopted"], response.text
                while len(receiver.arrived) < subscribers:
                    await asyncio.sleep(0.005)
                    if time.perf_counter() - started > 60:
                        raise RuntimeError(f"only {len(receiver.arrived)} of {subscribers} subscribers received the feed in 60 s")
                times = sorted(at - started for at in receiver.arrived.values())
                results.append((times[0], times[-1]))
                await asyncio.sleep(1.5)
    finally:
        server.should_exit = server.force_exit = True
        await serving
    return results


# --- Main ------------------------------------------------------------------------------------


def run(database_url: str, data_dir: Path, args) -> list[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings(database_url=database_url, secret_key=SECRET, data_dir=data_dir, base_url=base, log_level="warning", _env_file=None)
    migrations.upgrade(database_url)
    started = time.perf_counter()
    ballots = asyncio.run(seed(settings, args.entries, args.adoptions))
    print(f"  seeding took {time.perf_counter() - started:.0f} s", file=sys.stderr)

    environment = os.environ | {
        "COGOV_DATABASE_URL": database_url,
        "COGOV_SECRET_KEY": SECRET,
        "COGOV_DATA_DIR": str(data_dir),
        "COGOV_BASE_URL": base,
        "COGOV_ALLOW_PRIVATE_CALLBACKS": "1",
        "COGOV_LOG_LEVEL": "warning",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "--port", str(port)],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        url = f"{base}/feeds/norms.atom?limit={args.entries}"
        full = httpx.get(url, headers={"Accept-Encoding": "identity"})
        assert full.status_code == 200 and full.text.count("<entry>") == args.entries, full.status_code
        etag = full.headers["etag"]
        zipped = httpx.get(url, headers={"Accept-Encoding": "gzip"})
        size_gz = int(zipped.headers.get("content-length", 0))
        rows = []
        for label, headers, expect in (
            (f"full ({len(full.content) // 1024} KiB)", {"Accept-Encoding": "identity"}, 200),
            (f"full, gzip ({size_gz // 1024} KiB)", {"Accept-Encoding": "gzip"}, 200),
            ("conditional (If-None-Match → 304)", {"If-None-Match": etag}, 304),
        ):
            rate, p99, tool = load(url, headers, args.clients, args.seconds, expect)
            rows.append(f"| Atom feed, {args.entries} entries, {label} | {args.clients} | {rate:,.0f} req/s | {p99} | {tool} |")
        latencies = asyncio.run(push(base, ballots, args.subscribers))
        for n, (first, last) in enumerate(latencies, start=1):
            rows.append(
                f"| adoption {n} → feed at {args.subscribers} WebSub subscribers | — | first {first:.2f} s, all {last:.2f} s | — | — |"
            )
        return rows
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--postgres", default=POSTGRES)
    parser.add_argument("--entries", type=int, default=200)
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--adoptions", type=int, default=3, help="adoptions timed for push latency")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    # Seeding makes hundreds of writes a minute as one participant; 100 subscribers subscribe from one address.
    without_rate_limits()
    print(describe())
    print(f"backend: {args.backend}; one `cogov serve` process, its worker polling every second")
    if not shutil.which("wrk"):
        print(
            "wrk not found: an httpx load generator in this process runs instead, and tops out before the server does "
            "(apt-get install wrk for the server's own figures)",
            file=sys.stderr,
        )
    rows = ["| what | concurrent clients | result | p99 latency | load generator |", "|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        if args.backend == "sqlite":
            rows += run(f"sqlite+aiosqlite:///{tmp}/bench.db", Path(tmp) / "var", args)
        else:
            with postgres_database(args.postgres) as url:
                rows += run(url, Path(tmp) / "var", args)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
