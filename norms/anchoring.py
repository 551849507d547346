"""Passage anchoring: one mechanism for everything that points at a passage of a norm's text —
consultation comments, discussion threads and suggested changes.

An anchor is a range of a text as it was (a version's, or the text at some heads) and the passage
quoted there. It is found again in a later text by mapping the range through the word diff of the two
texts: "exact" when the same words are there, "shifted" when they were edited inside, "lost" (the thing
anchored is detached) when the passage was deleted and its words are nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple

from norms.diff import Segment, word_diff
from services.kit.errors import InvalidInput


class AnchorInvalid(InvalidInput):
    """The anchor must lie inside the version's text, and its quote must be the text at that range."""

    code = "anchor_invalid"


def _map(segments: Sequence[Segment], position: int, *, start: bool) -> int:
    """`position` in the old text mapped into the new one; text inserted right at the boundary stays outside the passage."""
    old = new = 0
    for op, text in segments:
        size = len(text)
        if op == "insert":
            new += size
            continue
        inside = old <= position < old + size if start else old < position <= old + size
        if inside:
            return new + (position - old) if op == "equal" else new
        old += size
        if op == "equal":
            new += size
    return new


def reanchor(
    quote: str, start: int, end: int, old_text: str, new_text: str, segments: list[Segment] | None = None
) -> tuple[str, int | None, int | None]:
    """Where the passage `old_text[start:end]` (== quote) is in `new_text`: ("exact"|"shifted"|"lost", start, end).

    `segments`, the word diff of the two texts, may be passed in when mapping many anchors.
    """
    if old_text == new_text:
        return "exact", start, end
    segments = segments if segments is not None else word_diff(old_text, new_text)
    new_start, new_end = _map(segments, start, start=True), _map(segments, end, start=False)
    if new_end > new_start:
        return ("exact" if new_text[new_start:new_end] == quote else "shifted"), new_start, new_end
    # The passage was deleted where it was; the same words elsewhere, the nearest first, still carry it.
    found = [index for index in _occurrences(new_text, quote)]
    if found:
        nearest = min(found, key=lambda index: abs(index - new_start))
        return "exact", nearest, nearest + len(quote)
    return "lost", None, None


def locate(quote: str, text: str, version_number: int) -> tuple[int, int]:
    """Where the passage `quote` is in a version's `text` (start, end), for a person who typed the words rather
    than selecting them; AnchorInvalid when they are not there, or there more than once."""
    words = quote.strip()
    found = list(_occurrences(text, words)) if words else []
    if not found:
        raise AnchorInvalid(f"These words are not in the text of v{version_number}: copy them as they are written there")
    if len(found) > 1:
        raise AnchorInvalid(f"These words appear {len(found)} times in the text of v{version_number}: add a few words around them")
    return found[0], found[0] + len(words)


def _occurrences(text: str, quote: str) -> Iterator[int]:
    index = text.find(quote)
    while index != -1:
        yield index
        index = text.find(quote, index + 1)


def passage(text: str, start: int, end: int, quote: str | None, where: str) -> str:
    """The passage `text[start:end]` an anchor points at; AnchorInvalid when the range leaves `text` or a given
    `quote` is not what is written there. `where` names the text for the message ("version 2's text")."""
    if not 0 <= start < end:
        raise AnchorInvalid("An anchor's start must be at least 0 and before its end")
    if end > len(text):
        raise AnchorInvalid(f"The anchor ends at {end}, past the end of {where} ({len(text)} characters)")
    found = text[start:end]
    if quote is not None and quote != found:
        raise AnchorInvalid(f"The quote does not match {where} at {start}..{end}")
    return found


class Found(NamedTuple):
    """Where an anchored passage is now: `state` "exact" | "shifted" | "lost" (detached), its range and text then."""

    state: str
    start: int | None
    end: int | None
    current: str | None


def follow(anchors: Sequence[tuple[str, int, int]], segments: Sequence[Segment]) -> list[Found]:
    """Each (quote, start, end) anchor of the diff's old text found in its new text (see `reanchor`)."""
    old = "".join(text for op, text in segments if op != "insert")
    new = "".join(text for op, text in segments if op != "delete")
    out = []
    for quote, start, end in anchors:
        state, new_start, new_end = reanchor(quote, start, end, old, new, list(segments))
        out.append(Found(state, new_start, new_end, new[new_start:new_end] if new_start is not None else None))
    return out
