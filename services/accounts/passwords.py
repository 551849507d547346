"""The password rule: at least 12 characters, at most 256, and not one of the most common passwords.

Nothing else in CoGov decides whether a new password is acceptable: sign-up, `cogov create-staff` /
`create-admin` and the demo all ask `weakness`. The list is Django's 20,000 common passwords
(`data/README.md` says where it comes from and under which licence).
"""

from __future__ import annotations

import gzip
from functools import cache
from pathlib import Path

from services.kit.errors import InvalidInput

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
COMMON_PASSWORDS = Path(__file__).parent / "data" / "common-passwords.txt.gz"

TOO_SHORT = f"Use at least {MIN_PASSWORD_LENGTH} characters; a few unrelated words make a good password"
TOO_LONG = f"Use at most {MAX_PASSWORD_LENGTH} characters"
TOO_COMMON = "This password is one of the most commonly used, so it is among the first anyone would guess; choose another"


class WeakPassword(InvalidInput):
    """The password is too easy to guess."""

    code = "weak_password"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, errors=[{"field": "password", "message": detail}])


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list, lowercased (read once, ~20,000 entries)."""
    with gzip.open(COMMON_PASSWORDS, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip().lower() for line in lines if line.strip())


def weakness(password: str) -> str | None:
    """Why `password` may not be used, in a sentence for the person choosing it; None if it may."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return TOO_SHORT
    if len(password) > MAX_PASSWORD_LENGTH:
        return TOO_LONG
    # As the list is: lowercased, without surrounding spaces ("Password123!" is "password123!").
    if password.strip().lower() in common_passwords():
        return TOO_COMMON
    return None


def check(password: str) -> None:
    """Raise `WeakPassword` (422, naming the field `password`) unless `password` may be used."""
    if (reason := weakness(password)) is not None:
        raise WeakPassword(reason)
