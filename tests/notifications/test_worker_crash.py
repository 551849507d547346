"""`kill -9` of `cogov worker` in the middle of a batch of notification mails, then a restart: each elector
gets their mail exactly once (each mail is recorded as soon as the SMTP server took it)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from services.mail.models import Mail, MailStatus
from tests.clearinghouse.test_worker_crash import eventually
from tests.fixtures.app import TEST_SECRET
from tests.fixtures.mail import SmtpSink
from tests.fixtures.norms import COUNCIL_CHARTER, build_council
from tests.notifications.test_notifications import drain

GROUPS = ["civil_society", "private_sector", "technical_academic", "government"]
COUNTRIES = ["KE", "BR", "SG", "DE", "FR", "IN"]
TWELVE = [(f"Expert {n:02d}", GROUPS[n % 4], COUNTRIES[n % 6], f"Organisation {n}") for n in range(12)]
HANDED_BEFORE_THE_KILL = 5


class HoldingSink(SmtpSink):
    """Takes `hold_after` ballot mails, then holds the next one in the middle of DATA until `release` (and then
    answers 451 without keeping it: the mail was in flight when its sender died)."""

    def __init__(self) -> None:
        super().__init__()
        self.hold_after: int | None = None
        self.holding = threading.Event()
        self.release = threading.Event()

    def ballot_mails(self) -> list:
        return [mail for mail in self.received if "Ballot open on" in str(mail["Subject"])]

    async def handle_DATA(self, server, session, envelope):
        if self.hold_after is not None and len(self.ballot_mails()) >= self.hold_after and b"Ballot open on" in envelope.content:
            self.holding.set()
            while not self.release.is_set():
                await asyncio.sleep(0.02)
            self.hold_after = None  # held once: the rest are taken
            return "451 4.3.0 Try again later"
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def smtp():
    sink = HoldingSink().start()
    yield sink
    sink.release.set()
    sink.stop()


@pytest.fixture
def settings_overrides(smtp) -> dict:
    return {"smtp_url": smtp.url, "mail_from": "CoGov <cogov@example.org>", "base_url": "http://cogov.test"}


async def start_worker(settings, smtp) -> asyncio.subprocess.Process:
    environment = os.environ | {
        "COGOV_DATABASE_URL": settings.database_url,
        "COGOV_SECRET_KEY": TEST_SECRET,
        "COGOV_DATA_DIR": str(settings.data_dir),
        "COGOV_SMTP_URL": smtp.url,
        "COGOV_MAIL_FROM": "CoGov <cogov@example.org>",
        "COGOV_MAIL_CONCURRENCY": "1",
        "COGOV_DELIVERY_LEASE_SECONDS": "2",
        "COGOV_WORKER_POLL_SECONDS": "0.2",
        "COGOV_LOG_LEVEL": "warning",
    }
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli", "worker", env=environment, stdout=asyncio.subprocess.DEVNULL
    )


async def test_killing_the_worker_mid_batch_sends_each_mail_exactly_once(client, app, sign_up, smtp, worker, clock, settings):
    council = await build_council(client, sign_up, TWELVE, COUNCIL_CHARTER)
    await drain(worker)  # the sign-up mails and notifications of forming the council
    opened = await client.post(
        f"/api/v1/norms/{council['norm']['id']}/ballots",
        json={"version": 1, "closes_at": (clock.now() + timedelta(hours=48)).isoformat()},
        headers=council["convener"]["headers"],
    )
    assert opened.status_code == 201, opened.text
    smtp.hold_after = HANDED_BEFORE_THE_KILL

    first = await start_worker(settings, smtp)
    try:

        async def holding() -> bool:
            return smtp.holding.is_set()

        await eventually(holding)
    finally:
        first.send_signal(signal.SIGKILL)
        await first.wait()
    smtp.release.set()
    assert len(smtp.ballot_mails()) == HANDED_BEFORE_THE_KILL

    second = await start_worker(settings, smtp)
    try:

        async def all_sent() -> bool:
            async with app.state.sessionmaker() as session:
                statuses = (await session.scalars(select(Mail.status).where(Mail.subject.like("Ballot open on%")))).all()
            return len(statuses) == len(TWELVE) and all(status is MailStatus.sent for status in statuses)

        await eventually(all_sent)
    finally:
        second.send_signal(signal.SIGTERM)
        await second.wait()
    for member in council["members"]:
        assert len([mail for mail in smtp.ballot_mails() if member["email"] in str(mail["To"])]) == 1, member["email"]
    assert len(smtp.ballot_mails()) == len(TWELVE)
