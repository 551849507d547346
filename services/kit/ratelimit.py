"""Rate limits over the `limits` library: counters in Redis when one is configured (shared by every
instance), else in this process. A Redis that does not answer never stops requests: its counters are
replaced by in-process ones for a few seconds, then Redis is tried again.

Two kinds: `hit` counts requests in a moving window; `take` and `give_back` count attempts that are
reserved before the work they guard and returned after it if they should not count (a sign-in whose
password was right), in fixed windows whose count is one atomic increment.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import structlog
from limits import RateLimitItem, parse_many
from limits import strategies as in_process
from limits.aio import strategies as shared
from limits.aio.storage import RedisStorage
from limits.storage import MemoryStorage
from limits.util import WindowStats

from services.kit.errors import DomainError

log = structlog.get_logger()

# After Redis fails, how long counters stay in this process before Redis is tried again.
REDIS_RETRY_SECONDS = 5.0


class TooManyRequests(DomainError):
    """Too many requests: wait before trying again."""

    status_code = 429
    code = "rate_limited"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.headers = {"Retry-After": str(retry_after)}


def parse_limits(value: str) -> list[RateLimitItem]:
    """`"30/minute;500/hour"` as limit items; raises ValueError on anything else."""
    return parse_many(value)


class RateLimiter:
    """Moving-window counters keyed by (limit, identifiers…)."""

    def __init__(self, redis_url: str | None = None, *, prefix: str = "cogov-limits") -> None:
        # In process: the synchronous storage (plain dicts, nothing tied to an event loop).
        memory = self._memory_storage = MemoryStorage()
        self._memory = {"moving": in_process.MovingWindowRateLimiter(memory), "fixed": in_process.FixedWindowRateLimiter(memory)}
        self._redis: dict[str, shared.MovingWindowRateLimiter | shared.FixedWindowRateLimiter] | None = None
        if redis_url:
            storage = RedisStorage(
                _async_uri(redis_url),
                implementation="redispy",
                key_prefix=prefix,
                wrap_exceptions=True,
                socket_connect_timeout=0.5,
                socket_timeout=0.5,
            )
            self._redis = {"moving": shared.MovingWindowRateLimiter(storage), "fixed": shared.FixedWindowRateLimiter(storage)}
        self._redis_down_until = 0.0

    async def _call(self, method: str, *args: object, window: str = "moving") -> Any:
        if self._redis is not None and time.monotonic() >= self._redis_down_until:
            try:
                return await getattr(self._redis[window], method)(*args)
            except Exception as exc:  # Redis away: count here for a while rather than refuse or stall every request
                log.warning("rate_limit.redis_unavailable", error=repr(exc))
                self._redis_down_until = time.monotonic() + REDIS_RETRY_SECONDS
        return getattr(self._memory[window], method)(*args)

    async def _add(self, item: RateLimitItem, identifiers: tuple[str, ...], amount: int) -> int:
        """Add `amount` to a fixed window's count, atomically (INCRBY in Redis); the count after it."""
        key, expiry = item.key_for(*identifiers), item.get_expiry()
        if self._redis is not None and time.monotonic() >= self._redis_down_until:
            try:
                return await self._redis["fixed"].storage.incr(key, expiry, amount=amount)
            except Exception as exc:  # as in _call
                log.warning("rate_limit.redis_unavailable", error=repr(exc))
                self._redis_down_until = time.monotonic() + REDIS_RETRY_SECONDS
        storage = self._memory_storage
        return storage.incr(key, expiry, amount=amount) if amount > 0 else storage.decr(key, -amount)

    async def hit(self, items: Sequence[RateLimitItem], *identifiers: str) -> int | None:
        """Count one request against every limit; None if all allow it, else the seconds to wait."""
        waits = [await self._wait(item, identifiers) for item in items if not await self._call("hit", item, *identifiers)]
        return max(waits) if waits else None

    async def take(self, items: list[RateLimitItem], *identifiers: str) -> int | None:
        """Count one attempt against every limit before it is made; None if all allow it (the attempt then
        counts until `give_back`), else the seconds to wait (and nothing stays counted).

        Each count is one atomic increment, so of any number of attempts at once no more than a limit get through.
        """
        counts = [await self._add(item, identifiers, 1) for item in items]
        over = [item for item, count in zip(items, counts, strict=True) if count > item.amount]
        if not over:
            return None
        await self.give_back(items, *identifiers)
        return max([await self._wait(item, identifiers, window="fixed") for item in over])

    async def give_back(self, items: list[RateLimitItem], *identifiers: str) -> None:
        """Return an attempt `take` counted, as if it had not been made."""
        for item in items:
            if await self._add(item, identifiers, -1) < 0:  # its window ended meanwhile: no credit for the next one
                await self._call("clear", item, *identifiers, window="fixed")

    async def _wait(self, item: RateLimitItem, identifiers: tuple[str, ...], window: str = "moving") -> int:
        stats: WindowStats = await self._call("get_window_stats", item, *identifiers, window=window)
        return max(1, math.ceil(stats.reset_time - time.time()))


def _async_uri(redis_url: str) -> str:
    # limits picks its asyncio storage by the scheme: redis://… → async+redis://…
    return redis_url if redis_url.startswith("async+") else f"async+{redis_url}"
