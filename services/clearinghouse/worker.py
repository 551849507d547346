"""The clearing-house worker: publishes adoptions, verifies subscribers' intent, makes deliveries, reminds
electors of ballots closing within 24 hours, turns due notifications into mail, hands the mail outbox to the
SMTP server (or the Maildir), and signs a fresh head of the audit log whenever the newest
is `tree_head_seconds` old.

`cogov serve` runs one in the background unless COGOV_WORKER_IN_SERVE=false; `cogov worker` runs
one alone. Any number may run at once: every step claims its rows, so each row goes to one of
them at a time.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from norms.store import NormStore
from services.audit import tree_heads
from services.clearinghouse import activity_feed, delivery, websub
from services.clearinghouse.callbacks import CallbackClient
from services.clearinghouse.entries import HUB_PATH
from services.clearinghouse.feedstate import FeedCache
from services.clearinghouse.publication import Publisher
from services.clearinghouse.signing import SigningKey
from services.kit.clock import Clock
from services.kit.db import take_write_lock, transaction
from services.mail import outbox as mail_outbox
from services.mail import transport
from services.notifications import delivery as notifications
from services.runtime import Runtime
from services.settings import Settings

log = structlog.get_logger()


class ClearingHouseWorker:
    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        store: NormStore,
        clock: Clock,
        settings: Settings,
        key: SigningKey,
        cache: FeedCache | None = None,
        mail_transport: transport.Transport | None = None,
    ) -> None:
        self.id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.sessionmaker = sessionmaker
        self.store = store
        self.clock = clock
        self.settings = settings
        self.key = key
        self.cache = cache
        self.lease = timedelta(seconds=settings.delivery_lease_seconds)
        self.retry_window = timedelta(hours=settings.delivery_retry_hours)
        self.tree_head_every = timedelta(seconds=settings.tree_head_seconds)
        self.client = CallbackClient(
            allow_private=settings.allow_private_callbacks,
            timeout=settings.callback_timeout_seconds,
            concurrency=settings.delivery_concurrency,
        )
        self.mail_transport = mail_transport or transport.for_settings(settings)
        self.mail_retry_window = timedelta(hours=settings.mail_retry_hours)
        self.rng = random.Random()
        self.wake = asyncio.Event()

    async def publish_pending(self) -> int:
        publisher = Publisher(
            self.sessionmaker,
            self.store,
            self.clock,
            self.key,
            self.settings.base_url,
            self.id,
            lease=self.lease,
            attempts=self.settings.publication_attempts,
            rng=self.rng,
        )
        created = await publisher.publish_pending()
        if created and self.cache is not None:
            self.cache.invalidate()
        return len(created)

    async def verify_pending(self) -> int:
        return await websub.verify_pending(self.sessionmaker, self.client, self.clock, worker=self.id, lease=self.lease)

    async def deliver_due(self) -> int:
        return await delivery.deliver_due(
            self.sessionmaker,
            self.client,
            self.clock,
            worker=self.id,
            lease=self.lease,
            retry_window=self.retry_window,
            hub_url=self.settings.base_url + HUB_PATH,
            concurrency=self.settings.delivery_concurrency,
            rng=self.rng,
        )

    async def announce_activity(self) -> int:
        """Push the networks' activity feeds that changed to their WebSub subscribers."""
        return await activity_feed.announce_pending(
            self.sessionmaker, self.clock, base_url=self.settings.base_url, worker=self.id, lease=self.lease
        )

    async def remind_closing(self) -> int:
        """Remind the electors who have not voted of ballots closing within 24 hours (once per ballot)."""
        return await notifications.remind_closing(self.sessionmaker, self.clock)

    async def mail_notifications(self) -> int:
        """Write the mails of notifications now due (at once, or a digest) into the mail outbox."""
        return await notifications.mail_due(self.sessionmaker, self.settings, self.clock)

    async def send_mail(self) -> int:
        return await mail_outbox.send_due(
            self.sessionmaker,
            self.mail_transport,
            self.clock,
            worker=self.id,
            lease=self.lease,
            retry_window=self.mail_retry_window,
            concurrency=self.settings.mail_concurrency,
            rng=self.rng,
        )

    async def sign_tree_head(self) -> int:
        """Sign a head of the audit log if the newest is due for renewal; 1 when this worker signed one."""
        async with transaction(self.sessionmaker) as session:
            await take_write_lock(session)
            now = self.clock.now()
            signed = await tree_heads.sign_if_due(session, self.key, now, self.settings.base_url, self.tree_head_every)
        if signed is not None and self.cache is not None:
            self.cache.invalidate()
        return int(signed is not None)

    async def run_once(self) -> int:
        """One round of each step; how much work it found."""
        return (
            await self.publish_pending()
            + await self.verify_pending()
            + await self.announce_activity()
            + await self.deliver_due()
            + await self.remind_closing()
            + await self.mail_notifications()
            + await self.send_mail()
            + await self.sign_tree_head()
        )

    async def run(self) -> None:
        """Rounds until cancelled: at once while there is work, else after `worker_poll_seconds` or a wake-up."""
        log.info("clearinghouse_worker_started", worker=self.id)
        while True:
            try:
                busy = await self.run_once()
            except Exception:  # the database may be away for a moment; try again next round
                log.exception("clearinghouse_worker_round_failed")
                busy = 0
            if not busy:
                self.wake.clear()
                with suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), self.settings.worker_poll_seconds)

    async def aclose(self) -> None:
        await self.client.aclose()


@asynccontextmanager
async def running(worker: ClearingHouseWorker) -> AsyncIterator[ClearingHouseWorker]:
    """Run the worker in the background for the duration of the block."""
    task = asyncio.create_task(worker.run(), name="clearinghouse-worker")
    try:
        yield worker
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        await worker.aclose()


def for_runtime(runtime: Runtime) -> ClearingHouseWorker:
    """A worker sharing the runtime's database, norm store, clock, key and feed cache."""
    return ClearingHouseWorker(
        sessionmaker=runtime.sessionmaker,
        store=runtime.norm_store,
        clock=runtime.clock,
        settings=runtime.settings,
        key=runtime.clearinghouse.key,
        cache=runtime.clearinghouse.cache,
    )


@asynccontextmanager
async def in_serve(runtime: Runtime) -> AsyncIterator[None]:
    """Run a worker beside the app on its runtime unless COGOV_WORKER_IN_SERVE=false (a deployment running `cogov worker`)."""
    if not runtime.settings.worker_in_serve:
        yield
        return
    worker = for_runtime(runtime)
    runtime.clearinghouse.wake = worker.wake
    async with running(worker):
        yield
    runtime.clearinghouse.wake = None
