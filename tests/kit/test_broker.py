"""Both brokers fan a message out to every subscriber of its channel and to no one else."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest

from services.kit.broker import InProcessBroker, RedisBroker, create_broker
from tests.fixtures.environment import service_unavailable

REDIS_URL = os.environ.get("COGOV_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(params=["in_process", pytest.param("redis", marks=pytest.mark.redis)])
async def broker(request):
    if request.param == "in_process":
        instance = InProcessBroker()
    else:
        instance = RedisBroker(REDIS_URL)
        try:
            await asyncio.wait_for(instance.ping(), 3)
        except Exception as exc:
            await instance.close()
            service_unavailable(f"Redis at {REDIS_URL} ({exc!r})")
    yield instance
    await instance.close()


async def _next(messages, timeout: float = 5.0) -> bytes:
    return await asyncio.wait_for(anext(messages), timeout)


async def test_every_subscriber_of_a_channel_gets_each_message_in_order(broker):
    channel, other = f"doc:{uuid.uuid4().hex}", f"doc:{uuid.uuid4().hex}"
    async with broker.subscribe(channel) as first, broker.subscribe(channel) as second, broker.subscribe(other) as elsewhere:
        for n in range(3):
            await broker.publish(channel, f"change {n}".encode())
        for messages in (first, second):
            assert [await _next(messages) for _ in range(3)] == [b"change 0", b"change 1", b"change 2"]
        await broker.publish(other, b"\x00\xffbinary")
        assert await _next(elsewhere) == b"\x00\xffbinary"
        with pytest.raises(asyncio.TimeoutError):
            await _next(first, timeout=0.2)


async def test_publishing_with_no_subscriber_is_harmless(broker):
    await broker.publish(f"nobody:{uuid.uuid4().hex}", b"x")


@pytest.mark.redis
async def test_two_redis_clients_are_two_instances_sharing_messages():
    one, two = RedisBroker(REDIS_URL), RedisBroker(REDIS_URL)
    try:
        try:
            await asyncio.wait_for(one.ping(), 3)
        except Exception as exc:
            service_unavailable(f"Redis at {REDIS_URL} ({exc!r})")
        channel = f"doc:{uuid.uuid4().hex}"
        async with two.subscribe(channel) as messages:
            await one.publish(channel, b"from instance one")
            assert await _next(messages) == b"from instance one"
    finally:
        await one.close()
        await two.close()


def test_no_redis_url_means_in_process():
    assert isinstance(create_broker(None), InProcessBroker)
