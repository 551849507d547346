"""Mail throughput: mails queued as acts would queue them (one transaction each), sent by one worker to a
local SMTP server (aiosmtpd), on SQLite.

    .venv/bin/python -m bench.mail [--mails 1000] [--rate 100] [--connections 4]

Two runs of `--mails` each: a backlog (all queued first, then one worker drains it: mails per second), and
a steady flow (one act every 1/`--rate` s while the worker runs as `cogov worker` does, polling each
second: the time from each act's commit to the SMTP server's accepting its mail, p50/p95/max).
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import shutil
import tempfile
import time
from pathlib import Path

from aiosmtpd.controller import Controller
from sqlalchemy import func, select

import migrations
from bench.feeds import free_port
from bench.machine import describe, percentile
from services.clearinghouse import worker as clearinghouse_worker
from services.kit.db import transaction
from services.mail import outbox
from services.mail.models import Mail, MailStatus
from services.runtime import build_runtime
from services.settings import Settings

SECRET = "bench-secret-" + "x" * 40


class Sink:
    """An SMTP server noting when it accepted each mail, by recipient."""

    def __init__(self) -> None:
        self.accepted: dict[str, float] = {}

    async def handle_DATA(self, server, session, envelope):
        for recipient in envelope.rcpt_tos:
            self.accepted[recipient] = time.time()
        return "250 OK"


async def queue(runtime, settings: Settings, label: str, count: int, rate: float | None) -> dict[str, float]:
    """Queue `count` mails, one transaction each (at `rate` per second if given); the commit time of each, by recipient."""
    committed: dict[str, float] = {}
    started = time.perf_counter()
    for n in range(count):
        if rate:
            await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
        recipient = f"{label}-{n}@example.org"
        async with transaction(runtime.sessionmaker) as session:
            now = runtime.clock.now()
            context = {"link": f"{settings.base_url}/verify-email?token=bench-{n}"}
            await outbox.queue(session, settings, kind="verify_email", recipient=recipient, name=f"Person {n}", context=context, now=now)
        committed[recipient] = time.time()
    return committed


async def pending(runtime) -> int:
    async with runtime.sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(Mail).where(Mail.status == MailStatus.pending)) or 0


STALLED_SECONDS = 120
EXIT_SECONDS = 30


async def drain(runtime, step) -> None:
    """Await `step` until no mail is pending; should none leave the outbox for STALLED_SECONDS, stop with what
    the pending mails say (tries, last error) and where every task stands, rather than wait for ever."""
    left, progressed = await pending(runtime), time.monotonic()
    while left:
        await step()
        now_left = await pending(runtime)
        if now_left < left:
            left, progressed = now_left, time.monotonic()
        elif time.monotonic() - progressed > STALLED_SECONDS:
            async with runtime.sessionmaker() as session:
                stuck = (await session.scalars(select(Mail).where(Mail.status == MailStatus.pending).limit(5))).all()
            for mail in stuck:
                print(
                    f"# pending: {mail.recipient} tries {mail.attempts}, next {mail.next_attempt_at}, "
                    f"leased until {mail.claimed_until}, last error {mail.last_error!r}"
                )
            for task in asyncio.all_tasks():
                task.print_stack(limit=8)
            raise SystemExit(f"{left} mails still pending after {STALLED_SECONDS} s without progress")


async def run(settings: Settings, sink: Sink, mails: int, rate: float) -> None:
    runtime = build_runtime(settings)
    worker = clearinghouse_worker.for_runtime(runtime)
    try:
        await queue(runtime, settings, "backlog", mails, None)
        started = time.perf_counter()
        await drain(runtime, worker.send_mail)
        took = time.perf_counter() - started
        print(f"| backlog of {mails:,} mails, one worker | {mails / took:,.0f} mails/s | {took:.2f} s |")

        async with clearinghouse_worker.running(worker):  # which ends the worker's round before the runtime closes
            committed = await queue(runtime, settings, "steady", mails, rate)
            await drain(runtime, lambda: asyncio.sleep(0.2))
        delays = [sink.accepted[recipient] - at for recipient, at in committed.items()]
        print(
            f"| steady flow of {mails:,} acts at {rate:g}/s | act → SMTP hand-off p50 {percentile(delays, 50):.2f} s, "
            f"p95 {percentile(delays, 95):.2f} s, max {max(delays):.2f} s |"
        )
    finally:
        # Should closing down take longer than EXIT_SECONDS (a task or thread that does not end), print where
        # every thread stands and exit 1, rather than hang.
        faulthandler.dump_traceback_later(EXIT_SECONDS, exit=True)
        await worker.aclose()
        await runtime.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0, help="acts per second in the steady flow")
    parser.add_argument("--connections", type=int, default=4, help="SMTP connections of the worker (COGOV_MAIL_CONCURRENCY)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cogov-bench-mail-"))
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        database = work / "cogov.db"
        migrations.upgrade(f"sqlite+aiosqlite:///{database}")
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{database}",
            secret_key=SECRET,
            data_dir=work,
            _env_file=None,
            smtp_url=f"smtp://127.0.0.1:{port}",
            mail_concurrency=args.connections,
            log_level="warning",
        )
        print(f"# {describe()}")
        print(f"# {args.mails:,} mails per run to aiosmtpd on 127.0.0.1, {args.connections} SMTP connections, SQLite")
        print("| run | figure | |")
        print("| --- | --- | --- |")
        asyncio.run(run(settings, sink, args.mails, args.rate))
    finally:
        controller.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
