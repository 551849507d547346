"""Password hashing and bearer tokens."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from pwdlib import PasswordHash

ALGORITHM = "HS256"
_hasher = PasswordHash.recommended()
# Verified against when the email is unknown, so a miss costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password-for-timing")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    """True when the password matches; always spends one argon2 verification, found or not."""
    if password_hash is None:
        _hasher.verify(password, _DUMMY_HASH)
        return False
    return _hasher.verify(password, password_hash)


@dataclass(frozen=True)
class TokenClaims:
    participant_id: uuid.UUID
    token_version: int
    expires_at: datetime


def issue_token(participant_id: uuid.UUID, token_version: int, secret: str, lifetime: timedelta) -> tuple[str, datetime]:
    now = datetime.now(UTC)
    expires_at = now + lifetime
    claims = {"sub": str(participant_id), "ver": token_version, "iat": now, "exp": expires_at, "typ": "access"}
    return jwt.encode(claims, secret, algorithm=ALGORITHM), expires_at


def read_token(token: str, secret: str) -> TokenClaims | None:
    """The claims of a valid, unexpired token this server signed; None for anything else."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp", "ver"]})
        if claims.get("typ") != "access" or not isinstance(claims["ver"], int):
            return None
        return TokenClaims(uuid.UUID(claims["sub"]), claims["ver"], datetime.fromtimestamp(claims["exp"], UTC))
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
