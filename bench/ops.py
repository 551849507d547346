"""What operations cost a request: one write answered with and without the rate limits (in-process
counters, then Redis), one `/metrics` scrape, and one limiter hit alone.

    .venv/bin/python -m bench.ops [--requests 2000] [--redis redis://127.0.0.1:6379/15]

Requests go through the ASGI app in this process (no sockets), so the figures are the middleware's
own cost plus the app's, not the network's.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

import migrations
from bench.machine import describe, percentile
from services.api.app import create_app
from services.kit.ratelimit import RateLimiter, parse_limits
from services.settings import Settings

SECRET = "bench-secret-" + "x" * 40
PASSWORD = "correct horse battery"
AFFILIATION = {"stakeholder_group": "civil_society", "country": "KE", "organisation": "Digital Rights Kenya"}


async def _writes(settings: Settings, requests: int) -> list[float]:
    """Milliseconds of each of `requests` writes by one participant (PUT /api/v1/me/affiliation)."""
    app = create_app(settings)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as http:
            email = f"bench-{uuid.uuid4().hex[:8]}@example.org"
            await http.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD, "display_name": "Bench"})
            token = (await http.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            timings = []
            for _ in range(requests):
                started = time.perf_counter()
                response = await http.put("/api/v1/me/affiliation", json=AFFILIATION, headers=headers)
                timings.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.text
            scrapes = []
            for _ in range(50):
                started = time.perf_counter()
                assert (await http.get("/metrics")).status_code == 200
                scrapes.append((time.perf_counter() - started) * 1000)
            return timings, scrapes
    finally:
        await app.state.sync_hub.stop()
        await app.state.engine.dispose()


async def _hits(redis_url: str | None, count: int) -> list[float]:
    """Microseconds of each of `count` limiter hits (one participant's writes), counted in process or in Redis."""
    limiter, items, who = RateLimiter(redis_url), parse_limits(f"{count * 10}/minute"), uuid.uuid4().hex
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        assert await limiter.hit(items, "write", who) is None
        timings.append((time.perf_counter() - started) * 1e6)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cogov-bench-ops-"))
    try:
        template = work / "template.db"
        migrations.upgrade(f"sqlite+aiosqlite:///{template}")
        print(f"# {describe()} · {args.requests} writes by one participant, SQLite")
        print("| configuration | write p50 ms | write p95 ms | /metrics p50 ms |")
        print("|---|---|---|---|")
        limits = f"{args.requests * 10}/minute"
        for label, options in [
            ("no rate limits", {"rate_limits_enabled": False}),
            ("rate limits, in-process counters", {"rate_limits_enabled": True}),
            ("rate limits, Redis counters", {"rate_limits_enabled": True, "redis_url": args.redis}),
        ]:
            database = work / f"{uuid.uuid4().hex}.db"
            shutil.copyfile(template, database)
            settings = Settings(
                database_url=f"sqlite+aiosqlite:///{database}",
                secret_key=SECRET,
                data_dir=work,
                log_level="warning",
                rate_limit_writes=limits,
                rate_limit_auth=limits,
                _env_file=None,
                **options,
            )
            timings, scrapes = asyncio.run(_writes(settings, args.requests))
            print(f"| {label} | {percentile(timings, 50):.2f} | {percentile(timings, 95):.2f} | {percentile(scrapes, 50):.2f} |")
            sys.stdout.flush()
        print()
        print("| limiter alone | hit p50 µs | hit p95 µs |")
        print("|---|---|---|")
        for label, redis_url in [("in-process counters", None), ("Redis counters", args.redis)]:
            hits = asyncio.run(_hits(redis_url, args.requests))
            print(f"| {label} | {percentile(hits, 50):.0f} | {percentile(hits, 95):.0f} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
