"""Fan-out of small messages between the parts of one deployment.

The database is the source of truth; a broker only tells other instances that something changed,
so a subscriber that misses a message catches up from storage. Without Redis, one process
uses the in-process broker.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

import structlog

log = structlog.get_logger()

# A subscriber that falls this far behind loses the oldest messages rather than stalling publishers.
QUEUE_LIMIT = 10_000


class Broker(Protocol):
    async def publish(self, channel: str, message: bytes) -> None: ...

    def subscribe(self, channel: str) -> AbstractAsyncContextManager[AsyncIterator[bytes]]: ...

    async def close(self) -> None: ...


class _Subscription:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(QUEUE_LIMIT)

    def deliver(self, message: bytes) -> None:
        if self.queue.full():
            self.queue.get_nowait()
        self.queue.put_nowait(message)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            yield await self.queue.get()


class InProcessBroker:
    """Delivers each message to every subscriber of its channel in this process."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[_Subscription]] = defaultdict(set)

    async def publish(self, channel: str, message: bytes) -> None:
        for subscription in list(self._subscribers.get(channel, ())):
            subscription.deliver(message)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[bytes]]:
        subscription = _Subscription()
        self._subscribers[channel].add(subscription)
        try:
            yield aiter(subscription)
        finally:
            self._subscribers[channel].discard(subscription)
            if not self._subscribers[channel]:
                del self._subscribers[channel]

    async def close(self) -> None:
        self._subscribers.clear()


class RedisBroker:
    """Redis pub/sub: every instance subscribed to a channel gets each message published to it."""

    def __init__(self, url: str) -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(url)

    async def publish(self, channel: str, message: bytes) -> None:
        await self._redis.publish(channel, message)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[bytes]]:
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(channel)
        # Wait for the server's confirmation: from here on, no message published to the channel is missed.
        async with asyncio.timeout(10):
            while (confirmation := await pubsub.get_message(timeout=1)) is None or confirmation["type"] != "subscribe":
                pass

        async def messages() -> AsyncIterator[bytes]:
            async for item in pubsub.listen():
                if item["type"] == "message":
                    yield item["data"]

        try:
            yield messages()
        finally:
            await pubsub.unsubscribe(channel)
            await pubsub.aclose()

    async def ping(self) -> bool:
        return bool(await self._redis.ping())

    async def close(self) -> None:
        await self._redis.aclose()


def create_broker(redis_url: str | None) -> Broker:
    """Redis when a URL is configured, else the in-process broker."""
    if redis_url:
        return RedisBroker(redis_url)
    log.info("broker.in_process", reason="COGOV_REDIS_URL not set")
    return InProcessBroker()
