"""Password hashing and bearer tokens."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import jwt
from pwdlib import PasswordHash

from services.kit.errors import ServiceUnavailable

ALGORITHM = "HS256"
_hasher = PasswordHash.recommended()
# Verified against when the email is unknown, so a miss costs as long as a wrong password. Made on the first such
# miss, not at import: every process importing this (each `cogov` command, each worker) would spend an argon2 hash on it.
_DUMMY_HASH: str | None = None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:  # two threads may both make one on the first misses: either serves
        _DUMMY_HASH = _hasher.hash("not-a-real-password-for-timing")
    return _DUMMY_HASH


def verify_password(password: str, password_hash: str | None) -> bool:
    """True when the password matches; always spends one argon2 verification, found or not."""
    if password_hash is None:
        _hasher.verify(password, _dummy_hash())
        return False
    return _hasher.verify(password, password_hash)


T = TypeVar("T")
# What a refused caller is told to wait: a full queue drains in about this long on a small machine.
BUSY_RETRY_SECONDS = 2


class PasswordHashingBusy(ServiceUnavailable):
    """Too many passwords are being checked right now; try again in a moment."""

    code = "busy"


class PasswordHashing:
    """argon2 hashing and verification off the event loop (each takes 0.1–0.3 s of CPU): at most `workers`
    run at once, each in a thread of this pool, and at most `waiting` more wait for one. Past that, a call
    raises `PasswordHashingBusy` (503, Retry-After) at once instead of queueing without end. A caller that
    stops waiting (a client gone) keeps its place until its hash has finished or left the queue.
    """

    def __init__(self, workers: int, waiting: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="password-hashing")
        self._capacity = workers + waiting
        self._admitted = 0
        self._lock = threading.Lock()  # places are given back from the pool's threads

    @property
    def admitted(self) -> int:
        """Hashes running or waiting now."""
        return self._admitted

    async def hash(self, password: str) -> str:
        return await self._run(hash_password, password)

    async def verify(self, password: str, password_hash: str | None) -> bool:
        """As `verify_password`, in the pool."""
        return await self._run(verify_password, password, password_hash)

    async def _run(self, work: Callable[..., T], *args: object) -> T:
        with self._lock:
            if self._admitted >= self._capacity:
                raise PasswordHashingBusy(retry_after=BUSY_RETRY_SECONDS)
            self._admitted += 1
        try:
            future = self._executor.submit(work, *args)
        except BaseException:
            self._leave()
            raise
        future.add_done_callback(self._leave)  # also when cancelled while still queued
        return await asyncio.wrap_future(future)

    def _leave(self, _future: Future | None = None) -> None:
        with self._lock:
            self._admitted -= 1

    def close(self) -> None:
        """Let queued hashes finish, then end the pool's threads."""
        self._executor.shutdown(wait=False)


@dataclass(frozen=True)
class TokenClaims:
    participant_id: uuid.UUID
    token_version: int
    expires_at: datetime
    # The account session the token belongs to (accounts/sessions.py); None in tokens made without one, which
    # the server refuses.
    session_id: uuid.UUID | None = None


def issue_token(
    participant_id: uuid.UUID, token_version: int, secret: str, lifetime: timedelta, *, session_id: uuid.UUID | None = None
) -> tuple[str, datetime]:
    now = datetime.now(UTC)
    expires_at = now + lifetime
    claims = {"sub": str(participant_id), "ver": token_version, "iat": now, "exp": expires_at, "typ": "access"}
    if session_id is not None:
        claims["sid"] = str(session_id)
    return jwt.encode(claims, secret, algorithm=ALGORITHM), expires_at


def read_token(token: str, secret: str) -> TokenClaims | None:
    """The claims of a valid, unexpired token this server signed; None for anything else."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp", "ver"]})
        if claims.get("typ") != "access" or not isinstance(claims["ver"], int):
            return None
        session_id = uuid.UUID(claims["sid"]) if isinstance(claims.get("sid"), str) else None
        return TokenClaims(uuid.UUID(claims["sub"]), claims["ver"], datetime.fromtimestamp(claims["exp"], UTC), session_id)
    except (jwt.PyJWTError, ValueError, TypeError):
        return None


CHALLENGE_TYPE = "totp_challenge"


def issue_challenge(participant_id: uuid.UUID, token_version: int, secret: str, lifetime: timedelta) -> tuple[str, datetime]:
    """A signed note that the password was right, exchanged with a second-factor code for an access token.

    It is no access token (its `typ` differs), and signing out everywhere voids it (`ver`).
    """
    expires_at = datetime.now(UTC) + lifetime
    claims = {"sub": str(participant_id), "ver": token_version, "exp": expires_at, "typ": CHALLENGE_TYPE}
    return jwt.encode(claims, secret, algorithm=ALGORITHM), expires_at


def read_challenge(challenge: str, secret: str) -> tuple[uuid.UUID, int] | None:
    """The participant and token version of a valid, unexpired challenge; None for anything else."""
    try:
        claims = jwt.decode(challenge, secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp", "ver"]})
        if claims.get("typ") != CHALLENGE_TYPE or not isinstance(claims["ver"], int):
            return None
        return uuid.UUID(claims["sub"]), claims["ver"]
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
