"""A notification's title, written in each reader's language when it is shown or mailed.

A title is a message of the interface's catalogs (marked with `N_` so `make messages` extracts it) and the
values that fill it in: the names, titles and numbers of the act, which stay as they were written. Both are
stored with the notification; its `title` column keeps the English text for readers of the raw data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.web import i18n


def N_(message: str) -> str:
    """Mark `message` for the catalogs without translating it: it is translated when shown."""
    return message


@dataclass(frozen=True)
class Title:
    message: str
    values: Mapping[str, str | int]

    def source(self) -> dict[str, Any]:
        return {"message": self.message, "values": dict(self.values)}

    def english(self) -> str:
        with i18n.speaking(i18n.DEFAULT):
            return shown(self.source(), "")


def title(message: str, **values: str | int) -> Title:
    return Title(message, values)


def shown(source: Mapping[str, Any] | None, stored: str) -> str:
    """The title in the current language; `stored` for notifications written before titles were kept this way,
    or should a catalog's translation not take the message's values."""
    if not source:
        return stored
    values = dict(source.get("values") or {})
    if isinstance(values.get("how"), str):  # a verification's words (networks.verification.describe)
        values["how"] = i18n.evidence_words(values["how"])
    try:
        return i18n.formatted(str(source["message"]), **values)
    except (KeyError, TypeError, ValueError):
        return stored or str(source.get("message", ""))
