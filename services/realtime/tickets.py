"""Single-use tickets that let a browser open an authenticated sync socket.

Browsers cannot set headers on a WebSocket, so a signed-in client trades its bearer token for a
ticket (`POST /api/v1/sync/tickets`) and connects to `/api/v1/sync?ticket=…`. A ticket is a
signed token naming the participant and their token version, valid for `ticket_seconds`; its id
is claimed on first use, in Redis when one is configured (any replica may see the connection)
or else in this process.
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from services.accounts.security import ALGORITHM

TICKET_TYPE = "sync_ticket"


class TicketRefused(Exception):
    """The ticket is malformed, expired, already used or revoked."""


@dataclass(frozen=True)
class Ticket:
    participant_id: uuid.UUID
    token_version: int
    ticket_id: str


def issue(participant_id: uuid.UUID, token_version: int, secret: str, lifetime: timedelta) -> tuple[str, datetime]:
    expires_at = datetime.now(UTC) + lifetime
    claims = {"typ": TICKET_TYPE, "sub": str(participant_id), "ver": token_version, "jti": secrets.token_urlsafe(16), "exp": expires_at}
    return jwt.encode(claims, secret, algorithm=ALGORITHM), expires_at


def read(ticket: str, secret: str) -> Ticket:
    """The ticket's claims if it is one this server signed and it has not expired (use is not checked here)."""
    try:
        claims = jwt.decode(ticket, secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp", "ver", "jti"]})
        if claims.get("typ") != TICKET_TYPE or not isinstance(claims["ver"], int) or not isinstance(claims["jti"], str):
            raise TicketRefused("not a sync ticket")
        return Ticket(uuid.UUID(claims["sub"]), claims["ver"], claims["jti"])
    except jwt.ExpiredSignatureError:
        raise TicketRefused("the ticket has expired; ask for a new one") from None
    except (jwt.PyJWTError, ValueError, TypeError):
        raise TicketRefused("not a valid sync ticket") from None


class InProcessTicketLedger:
    """Ticket ids already used, in this process (one instance without Redis)."""

    def __init__(self) -> None:
        self._used: dict[str, float] = {}

    async def claim(self, ticket_id: str, ttl_seconds: float) -> bool:
        now = time.monotonic()
        for used, until in list(self._used.items()):
            if until < now:
                del self._used[used]
        if ticket_id in self._used:
            return False
        self._used[ticket_id] = now + ttl_seconds
        return True

    async def close(self) -> None:
        self._used.clear()


class RedisTicketLedger:
    """Ticket ids already used, shared by every replica through Redis."""

    def __init__(self, url: str) -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(url)

    async def claim(self, ticket_id: str, ttl_seconds: float) -> bool:
        return bool(await self._redis.set(f"cogov:sync-ticket:{ticket_id}", b"1", nx=True, ex=max(1, int(ttl_seconds) + 1)))

    async def close(self) -> None:
        await self._redis.aclose()


def create_ledger(redis_url: str | None) -> InProcessTicketLedger | RedisTicketLedger:
    return RedisTicketLedger(redis_url) if redis_url else InProcessTicketLedger()
