"""Input rules every text field shares."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError


def no_nul(value: str | None) -> str | None:
    # PostgreSQL cannot store NUL in text: refuse it at the boundary, the same on every database.
    if value is not None and "\x00" in value:
        raise PydanticCustomError("nul_character", "Must not contain NUL characters")
    return value


Text = Annotated[str, AfterValidator(no_nul)]
