"""What parallel sign-ins cost everyone else: `/healthz` answered while N sign-ins (production argon2
parameters) are checked at once, and how those sign-ins are answered.

    .venv/bin/python -m bench.sign_in [--sign-ins 30] [--workers 2] [--waiting 32]

Requests go through the ASGI app in this process (no sockets), on SQLite. The sign-in throttle is
off here (each sign-in comes from its own address) so that every password is really checked.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx

import migrations
from bench.machine import describe, percentile
from services.api.app import create_app
from services.settings import Settings

SECRET = "bench-secret-" + "x" * 40
PASSWORD = "correct horse battery"


async def run(settings: Settings, sign_ins: int) -> tuple[list[float], float, Counter]:
    app = create_app(settings)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as http:
            email = f"bench-{uuid.uuid4().hex[:8]}@example.org"
            await http.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD, "display_name": "Bench"})

            async def sign_in(n: int) -> int:
                address = httpx.ASGITransport(app=app, client=(f"198.51.100.{n % 250 + 1}", 40000))
                async with httpx.AsyncClient(transport=address, base_url="http://bench") as client:
                    return (await client.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})).status_code

            started = time.perf_counter()
            signing_in = asyncio.gather(*(sign_in(n) for n in range(sign_ins)))
            # A probe is due every 10 ms; its figure is how late its answer came after it was due, so time
            # the event loop spent elsewhere (before the probe could even be sent) counts too.
            health = []
            due = time.perf_counter()
            while not signing_in.done():
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                assert (await http.get("/healthz")).status_code == 200
                answered = time.perf_counter()
                health.append((answered - due) * 1000)
                due = answered + 0.01
            statuses = Counter(await signing_in)
            return health, time.perf_counter() - started, statuses
    finally:
        await app.state.sync_hub.stop()
        await app.state.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sign-ins", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--waiting", type=int, default=32)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cogov-bench-sign-in-"))
    try:
        database = work / "cogov.db"
        migrations.upgrade(f"sqlite+aiosqlite:///{database}")
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{database}",
            secret_key=SECRET,
            data_dir=work,
            _env_file=None,
            rate_limits_enabled=False,
            login_failures_per_minute=100_000,
            password_hash_workers=args.workers,
            password_hash_waiting=args.waiting,
        )
        print(f"# {describe()}")
        print(f"# {args.sign_ins} parallel sign-ins, hashing pool of {args.workers} workers + {args.waiting} waiting")
        health, took, statuses = asyncio.run(run(settings, args.sign_ins))
        print(f"sign-ins answered in {took:.2f} s: " + ", ".join(f"{count}× {status}" for status, count in sorted(statuses.items())))
        print(
            f"/healthz meanwhile (due every 10 ms; lateness of each answer): {len(health)} answers, "
            f"median {percentile(health, 50):.1f} ms, "
            f"p99 {percentile(health, 99):.1f} ms, max {max(health):.1f} ms"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
