"""Request rate limits: sign-in and sign-up per client address, writes per participant (or address),
and a password-guessing throttle per account and per address. Over a limit: 429, `Retry-After`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from fastapi import Request
from limits import RateLimitItem, RateLimitItemPerMinute
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from services.accounts import service as accounts
from services.accounts import twofactor
from services.accounts.models import Participant
from services.accounts.security import PasswordHashing, read_token
from services.kit import metrics
from services.kit.ratelimit import RateLimiter, TooManyRequests, parse_limits
from services.settings import Settings

T = TypeVar("T")

# Requests that sign in or create accounts: limited per client address, not per account.
AUTH_PATHS = frozenset(
    {
        "/api/v1/auth/token",
        "/api/v1/auth/token/totp",
        "/api/v1/auth/register",
        "/api/v1/auth/forgot-password",
        "/signin",
        "/signin/code",
        "/signup",
        "/forgot-password",
    }
)
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SESSION_COOKIE = b"cogov_session="


def client_address(scope: Scope) -> str:
    """The client's address (uvicorn puts the proxy's X-Forwarded-For there when the proxy is trusted)."""
    client = scope.get("client")
    return client[0] if client else "unknown"


def _bearer_or_cookie(scope: Scope) -> str | None:
    headers = dict(scope["headers"])
    authorization = headers.get(b"authorization", b"")
    if authorization[:7].lower() == b"bearer ":
        return authorization[7:].strip().decode("latin-1")
    for part in headers.get(b"cookie", b"").split(b";"):
        part = part.strip()
        if part.startswith(SESSION_COOKIE):
            return part[len(SESSION_COOKIE) :].decode("latin-1")
    return None


class RateLimits:
    """429 for writes over `rate_limit_writes` per participant (by a valid token; else per address) and for
    sign-in/sign-up attempts over `rate_limit_auth` per address. Reads are not limited here."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter, settings: Settings) -> None:
        self.app = app
        self.limiter = limiter
        self.settings = settings
        self.auth = parse_limits(settings.rate_limit_auth)
        self.writes = parse_limits(settings.rate_limit_writes)

    def _writer(self, scope: Scope) -> str:
        token = _bearer_or_cookie(scope)
        claims = read_token(token, self.settings.signing_key) if token else None
        return f"participant:{claims.participant_id}" if claims else f"address:{client_address(scope)}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITE_METHODS:
            await self.app(scope, receive, send)
            return
        if scope["path"] in AUTH_PATHS:
            limit, wait, what = "auth", await self.limiter.hit(self.auth, "auth", client_address(scope)), "sign-in and sign-up attempts"
        else:
            limit, wait, what = "writes", await self.limiter.hit(self.writes, "write", self._writer(scope)), "changes"
        if wait is None:
            await self.app(scope, receive, send)
            return
        metrics.rate_limited(limit)
        body = {"detail": f"Too many {what}; try again in {wait} seconds", "code": TooManyRequests.code, "retry_after": wait}
        await JSONResponse(body, 429, headers={"Retry-After": str(wait)})(scope, receive, send)


class LoginThrottle:
    """Password guessing: after `per_minute` failed sign-ins (wrong passwords or second-factor codes) for one
    account, or from one address, within a minute, every sign-in for that account or from that address
    answers 429 until the minute is over.

    Each sign-in is counted before its password is checked, in one atomic step (in Redis when configured),
    so attempts made all at once cannot pass the check together: of 50 parallel guesses, `per_minute` are
    checked and the rest refused unchecked. A sign-in that is refused, not checked (a full hashing queue)
    or right is given back, so only wrong passwords stay counted; a success resets nothing else, so a
    guesser cannot mix in a known password to keep going.
    """

    def __init__(self, limiter: RateLimiter, per_minute: int) -> None:
        self.limiter = limiter
        self.items: list[RateLimitItem] = [RateLimitItemPerMinute(per_minute)] if per_minute > 0 else []

    async def authenticate(
        self, request: Request, session: AsyncSession, hashing: PasswordHashing, email: str, password: str
    ) -> Participant:
        return await self.guard(request, email, lambda: accounts.authenticate(session, hashing, email, password))

    async def guard(self, request: Request, account: str, attempt: Callable[[], Awaitable[T]]) -> T:
        """Run one attempt at a secret of `account` (a password or a second-factor code) under the throttle:
        a wrong one (`InvalidCredentials`, `InvalidCode`) stays counted, anything else is given back."""
        if not self.items:
            return await attempt()
        # The address first: a guesser held back there does not use up the account's attempts.
        keys = (("sign-in-address", client_address(request.scope)), ("sign-in-account", account.strip().lower()[:320]))
        taken: list[tuple[str, str]] = []
        try:
            for key in keys:
                if (wait := await self.limiter.take(self.items, *key)) is not None:
                    metrics.rate_limited("login_failures")
                    raise TooManyRequests(f"Too many failed sign-ins; try again in {wait} seconds", wait)
                taken.append(key)
            result = await attempt()
        except (accounts.InvalidCredentials, twofactor.InvalidCode):
            raise  # a wrong secret: it stays counted
        except BaseException:
            await self._give_back(taken)
            raise
        await self._give_back(taken)
        return result

    async def _give_back(self, keys: list[tuple[str, str]]) -> None:
        for key in keys:
            await self.limiter.give_back(self.items, *key)


async def authenticate(request: Request, session: AsyncSession, email: str, password: str) -> Participant:
    """The participant these credentials belong to, through the app's password-guessing throttle."""
    state = request.app.state
    return await state.login_throttle.authenticate(request, session, state.password_hashing, email, password)


async def guarded(request: Request, account: str, attempt: Callable[[], Awaitable[T]]) -> T:
    """`attempt` (a check of one of `account`'s secrets) through the app's password-guessing throttle."""
    throttle: LoginThrottle = request.app.state.login_throttle
    return await throttle.guard(request, account, attempt)


async def mail_wait(request: Request, *identifiers: str) -> int | None:
    """Count one mail caused for `identifiers` against `rate_limit_mail`; None if it may go, else the seconds to wait."""
    state = request.app.state
    if not state.settings.rate_limits_enabled:
        return None
    wait: int | None = await state.rate_limiter.hit(parse_limits(state.settings.rate_limit_mail), "mail", *identifiers)
    return wait
