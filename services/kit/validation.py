"""The one text policy: which characters no text entering CoGov may hold, and how a refusal reads.

Refused, wherever text comes from:
- control characters (Unicode category Cc: U+0000–U+001F, U+007F–U+009F) other than tab
  (U+0009), line feed (U+000A) and carriage return (U+000D, as in the CRLF line ends that
  forms and Windows send);
- surrogates (U+D800–U+DFFF): halves of a UTF-16 pair, not characters, and not encodable as UTF-8;
- U+FFFE and U+FFFF, which XML 1.0 cannot carry.
So any stored text can go into Atom, JSON Feed, Akoma Ntoso and PostgreSQL as it is.

Request schemas (and the page forms, which parse with the same schemas) use `SafeText` or
`Annotated[str, TextBounds(...)]`; the norm store applies `refused_character` to the characters an Automerge
change inserts. Nothing is stripped or replaced: text is taken as sent, or refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, GetCoreSchemaHandler, StringConstraints
from pydantic_core import PydanticCustomError, core_schema

_REFUSED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class RefusedCharacter:
    """The first refused character of a text: its index in code points (from 0) and its code point."""

    index: int
    codepoint: int

    @property
    def character(self) -> str:
        """What it is, for a person: "the control character U+0001"."""
        if 0xD800 <= self.codepoint <= 0xDFFF:
            kind = "a lone surrogate"
        elif self.codepoint >= 0xFFFE:
            kind = "the non-character"
        else:
            kind = "the control character"
        return f"{kind} U+{self.codepoint:04X}"

    def __str__(self) -> str:
        return f"{self.character} at index {self.index}"


def refused_character(text: str) -> RefusedCharacter | None:
    """The first character of `text` the policy refuses, or None if it holds none."""
    found = _REFUSED.search(text)
    return None if found is None else RefusedCharacter(found.start(), ord(found.group()))


def check_text(value: Any) -> Any:
    """Pydantic validator: `value` as it is, unless it is a string holding a refused character.

    It sees the value as sent (before any stripping), so the index is the sender's.
    """
    if isinstance(value, str) and (found := refused_character(value)) is not None:
        raise PydanticCustomError(
            "refused_character",
            "Must not contain {character} (at index {index}, counting code points from 0)",
            {"character": found.character, "index": found.index, "codepoint": f"U+{found.codepoint:04X}"},
        )
    return value


# The validator comes last so that it wraps the string's own constraints and runs first.
SafeText = Annotated[str, BeforeValidator(check_text)]
"""Any text from outside: refused characters are a 422 naming the field, the character and its index."""


def check_not_blank(value: str) -> str:
    """Pydantic validator: refuses text of nothing but whitespace (kept as sent otherwise)."""
    if not value.strip():
        raise PydanticCustomError("blank", "Must say something: only spaces or line breaks were sent")
    return value


Prose = Annotated[str, AfterValidator(check_not_blank), BeforeValidator(check_text)]
"""`SafeText` that must hold more than whitespace: what people write for others to read (comments, replies, reasons)."""


@dataclass(frozen=True)
class TextBounds:
    """`SafeText` with length bounds, as `Annotated[str, TextBounds(120, min_length=1, strip=True)]`.

    Lengths are checked after stripping surrounding whitespace, if `strip`; the text policy runs
    first, on the value as sent, so a refusal's index is the sender's.
    """

    max_length: int
    min_length: int = 0
    strip: bool = False

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        constraints = StringConstraints(strip_whitespace=self.strip, min_length=self.min_length, max_length=self.max_length)
        return core_schema.no_info_before_validator_function(check_text, handler(Annotated[source, constraints]))
