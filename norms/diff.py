"""Differences between two texts of a norm: word by word for reading, unified for patches."""

from __future__ import annotations

import difflib
import re
from typing import Literal, NamedTuple

Op = Literal["equal", "insert", "delete"]

# Whitespace runs, words and single punctuation marks: every character lands in a token.
_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")


class Segment(NamedTuple):
    """A run of text that both versions share (equal), or only the new (insert) or old (delete)."""

    op: Op
    text: str


class DiffStats(NamedTuple):
    """Words (tokens other than whitespace) and characters inserted and deleted."""

    words_inserted: int
    words_deleted: int
    chars_inserted: int
    chars_deleted: int


def word_diff(old: str, new: str) -> list[Segment]:
    """Segments that turn ``old`` into ``new`` word by word.

    Equal and delete segments, in order, spell ``old``; equal and insert segments spell
    ``new``. Adjacent segments never share an op, and a replacement is a delete followed
    by an insert.
    """
    old_tokens, new_tokens = _TOKEN.findall(old), _TOKEN.findall(new)
    matcher = difflib.SequenceMatcher(None, old_tokens, new_tokens, autojunk=False)
    segments: list[Segment] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            _append(segments, "equal", old_tokens[i1:i2])
        if tag in ("delete", "replace"):
            _append(segments, "delete", old_tokens[i1:i2])
        if tag in ("insert", "replace"):
            _append(segments, "insert", new_tokens[j1:j2])
    return segments


def diff_stats(segments: list[Segment]) -> DiffStats:
    """What the segments of a word diff insert and delete."""
    counts = {"insert": [0, 0], "delete": [0, 0]}
    for op, text in segments:
        if op in counts:
            counts[op][0] += sum(1 for token in _TOKEN.findall(text) if not token.isspace())
            counts[op][1] += len(text)
    (words_in, chars_in), (words_out, chars_out) = counts["insert"], counts["delete"]
    return DiffStats(words_in, words_out, chars_in, chars_out)


def unified_diff(old: str, new: str, from_label: str, to_label: str) -> str:
    """A line-based unified diff of ``old`` to ``new``; "" when they are equal."""
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=from_label,
        tofile=to_label,
    )
    # As diff(1) does, so that a last line without a newline stays a line of its own.
    return "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
        for line in lines
    )


def _append(segments: list[Segment], op: Op, tokens: list[str]) -> None:
    text = "".join(tokens)
    if not text:
        return
    if segments and segments[-1].op == op:
        segments[-1] = Segment(op, segments[-1].text + text)
    else:
        segments.append(Segment(op, text))
