"""Opaque cursors for keyset pagination: a client passes back what it was given and nothing else."""

from __future__ import annotations

import base64
import json
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from services.kit.errors import InvalidInput

T = TypeVar("T")

MAX_LIMIT = 200


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class InvalidCursor(InvalidInput):
    """The cursor is not one this server issued; start again without it."""

    code = "invalid_cursor"


def encode_cursor(*key: object) -> str:
    raw = json.dumps(list(key), separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *types: type) -> list[Any]:
    """The key a cursor carries, or InvalidCursor unless it holds exactly values of these types."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidCursor() from exc
    if (
        not isinstance(key, list)
        or len(key) != len(types)
        or not all(isinstance(value, kind) and not isinstance(value, bool) for value, kind in zip(key, types, strict=True))
    ):
        raise InvalidCursor()
    return key
