"""Notifications at scale: a ballot opened in a network of `--members` (5,000) experts writes every elector's
notification in the ballot's own transaction; then one worker turns them into mails and hands them to a local
SMTP server (aiosmtpd).

    .venv/bin/python -m bench.notifications [--members 5000] [--connections 4] [--postgres]

Prints: the whole `open_ballot` transaction (roster frozen, electors and notifications written, committed),
the notification fan-out within it, and mails per second from the first notification mailed to the last mail
the SMTP server accepted. Targets (issue #24): every notification in under 1 s; at least 50 mails/s.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiosmtpd.controller import Controller
from sqlalchemy import func, insert, select

import migrations
from bench.feeds import free_port
from bench.machine import describe
from bench.seed import SECRET, postgres_database
from networks.models import Affiliation, MemberRole, Membership, MembershipPolicy, Network, NetworkCharter, NetworkStatus
from norms import ballots
from norms.models import Norm, NormVersion
from norms.schemas import BallotCreate
from services.accounts.models import Participant
from services.clearinghouse import worker as clearinghouse_worker
from services.kit.db import transaction
from services.mail.models import Mail, MailStatus
from services.notifications import events
from services.notifications.models import Notification
from services.runtime import build_runtime
from services.settings import Settings

GROUPS = ["government", "private_sector", "civil_society", "technical_academic", "intergovernmental"]
COUNTRIES = [
    ("KE", "africa"),
    ("BR", "latin_america_caribbean"),
    ("SG", "asia_pacific"),
    ("DE", "western_europe_others"),
    ("PL", "eastern_europe"),
]


class Sink:
    def __init__(self) -> None:
        self.count = 0
        self.last = 0.0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        self.last = time.perf_counter()
        return "250 OK"


async def seed(sessionmaker, members: int) -> tuple[uuid.UUID, uuid.UUID]:
    """An active network of `members` proven experts across every group and region, a norm with a version: (convener, norm)."""
    now = datetime.now(UTC)
    ids = [uuid.uuid4() for _ in range(members)]
    async with transaction(sessionmaker) as session:
        await session.execute(
            insert(Participant),
            [
                {
                    "id": pid,
                    "email": f"e{n}@bench.invalid",
                    "display_name": f"Expert {n}",
                    "password_hash": "-",
                    "role": "participant",
                    "token_version": 0,
                    "created_at": now,
                    "email_verified_at": now,
                }
                for n, pid in enumerate(ids)
            ],
        )
        await session.execute(
            insert(Affiliation),
            [
                {
                    "id": uuid.uuid4(),
                    "participant_id": pid,
                    "stakeholder_group": GROUPS[n % 5],
                    "country": COUNTRIES[(n // 5) % 5][0],
                    "region": COUNTRIES[(n // 5) % 5][1],
                    "organisation": f"Organisation {n}",
                    "valid_from": now,
                }
                for n, pid in enumerate(ids)
            ],
        )
        network = Network(
            slug="bench-network",
            name="Bench network",
            issue="-",
            aims="-",
            intended_outcome="-",
            membership_policy=MembershipPolicy.open,
            status=NetworkStatus.active,
            founded_by=ids[0],
        )
        session.add(network)
        await session.flush()
        session.add(
            NetworkCharter(
                network_id=network.id,
                version=1,
                required_groups=[],
                min_regions=2,
                quorum="1/2",
                threshold="1/2",
                min_ballot_hours=1,
                verified_only=False,  # the benchmark's people are not verified: every member is an elector
                adopted_by=ids[0],
            )
        )
        await session.execute(
            insert(Membership),
            [
                {
                    "network_id": network.id,
                    "participant_id": pid,
                    "role": MemberRole.convener if n == 0 else MemberRole.member,
                    "joined_at": now,
                }
                for n, pid in enumerate(ids)
            ],
        )
        norm = Norm(
            document_id=uuid.uuid4().bytes, network_id=network.id, slug="bench-norm", title="Bench norm", created_by=ids[0], version_count=1
        )
        session.add(norm)
        await session.flush()
        session.add(
            NormVersion(
                norm_id=norm.id,
                number=1,
                heads=[],
                text_sha256="0" * 64,
                text="Text.",
                title="Bench norm",
                label="v1",
                note="",
                created_by=ids[0],
            )
        )
        return ids[0], norm.id


async def run(settings: Settings, sink: Sink, members: int) -> None:
    runtime = build_runtime(settings)
    worker = clearinghouse_worker.for_runtime(runtime)
    try:
        convener, norm_id = await seed(runtime.sessionmaker, members)
        fan_out: list[float] = []
        real = events.ballot_opened

        async def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
            started = time.perf_counter()
            try:
                return await real(*args, **kwargs)
            finally:
                fan_out.append(time.perf_counter() - started)

        ballots.notifications.ballot_opened = timed  # type: ignore[attr-defined]
        started = time.perf_counter()
        async with transaction(runtime.sessionmaker) as session:
            await ballots.open_ballot(
                session, runtime.clock, convener, norm_id, BallotCreate(version=1, closes_at=datetime.now(UTC) + timedelta(hours=48))
            )
        opened = time.perf_counter() - started
        ballots.notifications.ballot_opened = real  # type: ignore[attr-defined]
        async with runtime.sessionmaker() as session:
            written = await session.scalar(select(func.count()).select_from(Notification).where(Notification.kind == "ballot_opened"))
        print(
            f"| ballot opened to {members:,} electors: notifications written | {written:,} in {fan_out[0] * 1000:,.0f} ms "
            f"(the whole open_ballot transaction, committed: {opened * 1000:,.0f} ms) |"
        )

        started = time.perf_counter()
        while await worker.mail_notifications():
            pass
        written_in = time.perf_counter() - started
        while await worker.send_mail():
            pass
        took = sink.last - started
        print(f"| notifications turned into mails (composed, in the mail outbox) | {written_in:.1f} s |")
        async with runtime.sessionmaker() as session:
            sent = await session.scalar(select(func.count()).select_from(Mail).where(Mail.status == MailStatus.sent))
        print(f"| one worker mails them (notification → mail outbox → SMTP) | {sent:,} mails in {took:.1f} s: {sent / took:,.0f} mails/s |")
    finally:
        await worker.aclose()
        await runtime.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=4, help="SMTP connections of the worker (COGOV_MAIL_CONCURRENCY)")
    parser.add_argument("--postgres", action="store_true", help="on a throwaway PostgreSQL database instead of SQLite")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cogov-bench-notifications-"))
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with ExitStack() as stack:
            url = stack.enter_context(postgres_database()) if args.postgres else f"sqlite+aiosqlite:///{work / 'cogov.db'}"
            migrations.upgrade(url)
            settings = Settings(
                database_url=url,
                secret_key=SECRET,
                data_dir=work,
                _env_file=None,
                smtp_url=f"smtp://127.0.0.1:{port}",
                mail_concurrency=args.connections,
                log_level="warning",
            )
            print(f"# {describe()}")
            engine = "PostgreSQL" if args.postgres else "SQLite"
            print(f"# {args.members:,} members, {engine}, aiosmtpd on 127.0.0.1, {args.connections} SMTP connections")
            print("| step | figure |")
            print("| --- | --- |")
            asyncio.run(run(settings, sink, args.members))
    finally:
        controller.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
