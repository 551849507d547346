"""`kill -9` of `cogov worker` in the middle of deliveries loses none: after a restart every one is made."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time

from sqlalchemy import select

from services.clearinghouse.models import Delivery, DeliveryStatus
from tests.clearinghouse.test_websub import subscribed
from tests.fixtures.app import TEST_SECRET
from tests.fixtures.clearinghouse import adopt

SUBSCRIBERS = 8


async def start_worker(settings) -> asyncio.subprocess.Process:
    environment = os.environ | {
        "COGOV_DATABASE_URL": settings.database_url,
        "COGOV_SECRET_KEY": TEST_SECRET,
        "COGOV_DATA_DIR": str(settings.data_dir),
        "COGOV_ALLOW_PRIVATE_CALLBACKS": "1",
        "COGOV_DELIVERY_LEASE_SECONDS": "2",
        "COGOV_CALLBACK_TIMEOUT_SECONDS": "60",
        "COGOV_WORKER_POLL_SECONDS": "0.2",
        "COGOV_LOG_LEVEL": "warning",
    }
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli", "worker", env=environment, stdout=asyncio.subprocess.DEVNULL
    )


async def statuses(app) -> list[DeliveryStatus]:
    async with app.state.sessionmaker() as session:
        return list((await session.scalars(select(Delivery.status).order_by(Delivery.id))).all())


async def eventually(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def test_killing_the_worker_during_deliveries_loses_none(client, app, council, clock, worker, subscriber, settings):
    for n in range(SUBSCRIBERS):
        await subscribed(client, worker, subscriber.url(f"/s{n}"))
    await adopt(client, council, clock)
    assert await worker.publish_pending() == 1
    assert await statuses(app) == [DeliveryStatus.pending] * SUBSCRIBERS

    subscriber.delay = 600  # every delivery hangs in flight
    first = await start_worker(settings)
    try:

        async def all_in_flight() -> bool:
            return subscriber.arrivals >= SUBSCRIBERS

        await eventually(all_in_flight)
    finally:
        first.send_signal(signal.SIGKILL)
        await first.wait()
    assert first.returncode == -signal.SIGKILL
    assert await statuses(app) == [DeliveryStatus.pending] * SUBSCRIBERS  # none was acknowledged, none is lost

    subscriber.delay = 0
    second = await start_worker(settings)
    try:

        async def all_delivered() -> bool:
            return await statuses(app) == [DeliveryStatus.delivered] * SUBSCRIBERS

        await eventually(all_delivered)
    finally:
        second.send_signal(signal.SIGTERM)
        await second.wait()
    assert second.returncode == 0
    assert sorted(d.path for d in subscriber.accepted()) == sorted(f"/s{n}" for n in range(SUBSCRIBERS))
