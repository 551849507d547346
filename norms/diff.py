"""Differences between two texts of a norm: word by word for reading, unified for patches.

Every diff is bounded by a time budget, whatever the texts. Items (lines, then the words of
changed lines) that occur once in each text anchor the alignment in linear time (patience
diff); what lies between anchors is aligned by diff-match-patch's Myers diff, which stops at
the deadline. What is still unaligned then is reported as replaced: a coarser answer, never a
wrong one — the contract of `word_diff` holds whatever the budget.
"""

from __future__ import annotations

import re
import time
from bisect import bisect_left
from collections import Counter
from collections.abc import Sequence
from typing import Literal, NamedTuple

from diff_match_patch import diff_match_patch

Op = Literal["equal", "insert", "delete"]
Tag = Literal["equal", "insert", "delete", "replace"]
Opcode = tuple[Tag, int, int, int, int]

# Time one diff may spend aligning; the rest of its cost (tokenising, joining) is linear.
DEFAULT_SECONDS = 0.5
# Whitespace runs, words and single punctuation marks: every character lands in a token.
_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")
_LINE = re.compile(r"[^\n]*\n|[^\n]+")
_CODE_POINTS = 0x110000  # distinct items one Myers diff can tell apart (one code point each)


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


def word_diff(old: str, new: str, seconds: float = DEFAULT_SECONDS) -> list[Segment]:
    """Segments that turn ``old`` into ``new`` word by word, aligned within about ``seconds``.

    Equal and delete segments, in order, spell ``old``; equal and insert segments spell
    ``new``. Adjacent segments never share an op, and a replacement is a delete followed
    by an insert. Past the budget, changed lines not yet compared are replaced whole.
    """
    deadline = time.time() + seconds
    old_lines, new_lines = _LINE.findall(old), _LINE.findall(new)
    segments: list[Segment] = []
    for tag, i1, i2, j1, j2 in _align(old_lines, new_lines, deadline):
        if tag == "equal":
            _append(segments, "equal", old_lines[i1:i2])
            continue
        if time.time() > deadline:  # out of time: changed lines stay whole
            _append(segments, "delete", old_lines[i1:i2])
            _append(segments, "insert", new_lines[j1:j2])
            continue
        # Changed lines are compared word by word, within the same budget.
        old_tokens, new_tokens = _TOKEN.findall("".join(old_lines[i1:i2])), _TOKEN.findall("".join(new_lines[j1:j2]))
        for word_tag, a1, a2, b1, b2 in _align(old_tokens, new_tokens, deadline):
            if word_tag == "equal":
                _append(segments, "equal", old_tokens[a1:a2])
            if word_tag in ("delete", "replace"):
                _append(segments, "delete", old_tokens[a1:a2])
            if word_tag in ("insert", "replace"):
                _append(segments, "insert", new_tokens[b1:b2])
    return segments


def spelled(segments: Sequence[Segment]) -> tuple[str, str]:
    """The old and the new text that a word diff's segments spell."""
    old = "".join(text for op, text in segments if op != "insert")
    return old, "".join(text for op, text in segments if op != "delete")


def diff_stats(segments: list[Segment]) -> DiffStats:
    """What the segments of a word diff insert and delete."""
    counts = {"insert": [0, 0], "delete": [0, 0]}
    for op, text in segments:
        if op in counts:
            counts[op][0] += sum(1 for token in _TOKEN.findall(text) if not token.isspace())
            counts[op][1] += len(text)
    (words_in, chars_in), (words_out, chars_out) = counts["insert"], counts["delete"]
    return DiffStats(words_in, words_out, chars_in, chars_out)


def unified_diff(old: str, new: str, from_label: str, to_label: str, seconds: float = DEFAULT_SECONDS) -> str:
    """A line-based unified diff of ``old`` to ``new`` (3 lines of context); "" when they are equal.

    Aligned within about ``seconds``, as `word_diff`: past the budget, hunks are larger.
    """
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    out = []
    for hunk in _hunks(_align(a, b, time.time() + seconds), context=3):
        (_, i1, _, j1, _), (_, _, i2, _, j2) = hunk[0], hunk[-1]
        out.append(f"@@ -{_range(i1, i2)} +{_range(j1, j2)} @@\n")
        for tag, a1, a2, b1, b2 in hunk:
            if tag == "equal":
                out.extend(" " + line for line in a[a1:a2])
            if tag in ("delete", "replace"):
                out.extend("-" + line for line in a[a1:a2])
            if tag in ("insert", "replace"):
                out.extend("+" + line for line in b[b1:b2])
    if not out:
        return ""
    # As diff(1) does, so that a last line without a newline stays a line of its own.
    return f"--- {from_label}\n+++ {to_label}\n" + "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in out
    )


# --- Alignment ----------------------------------------------------------------------------


class _Myers(diff_match_patch):
    """diff-match-patch with its half-match speed-up off: that search is quadratic on repetitive texts and ignores the deadline."""

    def diff_halfMatch(self, text1, text2):
        return None


_MYERS = _Myers()


def _align(a: Sequence[str], b: Sequence[str], deadline: float) -> list[Opcode]:
    """Opcodes (as difflib's) turning items `a` into `b`: equal runs and, between them, one change each."""
    encoded = _encode(a, b)
    if encoded is None:
        return _extend([], [("replace", 0, len(a), 0, len(b))])
    text_a, text_b = encoded
    opcodes: list[Opcode] = []
    i = j = 0
    for anchor_i, anchor_j in [*_unique_anchors(a, b), (len(a), len(b))]:
        _extend(opcodes, _myers(text_a, text_b, i, anchor_i, j, anchor_j, deadline))
        if anchor_i < len(a):
            _extend(opcodes, [("equal", anchor_i, anchor_i + 1, anchor_j, anchor_j + 1)])
        i, j = anchor_i + 1, anchor_j + 1
    return opcodes


def _encode(a: Sequence[str], b: Sequence[str]) -> tuple[str, str] | None:
    """Each distinct item as one code point (diff-match-patch's linesToChars); None if there are more items than code points."""
    distinct = dict.fromkeys(a)
    distinct.update(dict.fromkeys(b))
    if len(distinct) > _CODE_POINTS:
        return None
    codes = dict(zip(distinct, map(chr, range(len(distinct)))))
    return "".join(map(codes.__getitem__, a)), "".join(map(codes.__getitem__, b))


def _unique_anchors(a: Sequence[str], b: Sequence[str]) -> list[tuple[int, int]]:
    """Positions of the items found exactly once in each text, the longest run of them in the same order."""
    count_a, count_b = Counter(a), Counter(b)
    unique = {item for item, count in count_a.items() if count == 1 and count_b[item] == 1}
    if not unique:
        return []
    in_b = {item: j for j, item in enumerate(b) if item in unique}
    pairs = [(i, in_b[item]) for i, item in enumerate(a) if item in unique]
    # Longest increasing subsequence of the b positions (patience sorting), O(n log n).
    tails: list[int] = []  # tails[k]: the smallest b position ending an increasing run of length k + 1
    tail_index: list[int] = []
    previous: list[int] = []
    for index, (_, j) in enumerate(pairs):
        k = bisect_left(tails, j)
        previous.append(tail_index[k - 1] if k else -1)
        if k == len(tails):
            tails.append(j)
            tail_index.append(index)
        else:
            tails[k], tail_index[k] = j, index
    chain, index = [], tail_index[-1]
    while index != -1:
        chain.append(pairs[index])
        index = previous[index]
    return chain[::-1]


def _myers(a: str, b: str, i1: int, i2: int, j1: int, j2: int, deadline: float) -> list[Opcode]:
    """Opcodes for a[i1:i2] → b[j1:j2] by diff-match-patch, which stops aligning at the deadline."""
    if i1 == i2 or j1 == j2:
        return [("replace", i1, i2, j1, j2)]
    opcodes: list[Opcode] = []
    i, j = i1, j1
    for op, text in _MYERS.diff_main(a[i1:i2], b[j1:j2], False, deadline):
        size = len(text)
        if op == diff_match_patch.DIFF_EQUAL:
            opcodes.append(("equal", i, i + size, j, j + size))
            i, j = i + size, j + size
        elif op == diff_match_patch.DIFF_DELETE:
            opcodes.append(("delete", i, i + size, j, j))
            i += size
        else:
            opcodes.append(("insert", i, i, j, j + size))
            j += size
    return opcodes


def _extend(opcodes: list[Opcode], more: list[Opcode]) -> list[Opcode]:
    """Append, merging each opcode into the last when both are equal or both are changes; empty ones dropped."""
    for tag, i1, i2, j1, j2 in more:
        if i1 == i2 and j1 == j2:
            continue
        if opcodes:
            last_tag, li1, _, lj1, _ = opcodes[-1]
            if (last_tag == "equal") == (tag == "equal"):
                merged = "equal" if tag == "equal" else _change(li1, i2, lj1, j2)
                opcodes[-1] = (merged, li1, i2, lj1, j2)
                continue
        opcodes.append((tag if tag == "equal" else _change(i1, i2, j1, j2), i1, i2, j1, j2))
    return opcodes


def _change(i1: int, i2: int, j1: int, j2: int) -> Tag:
    return "replace" if i1 < i2 and j1 < j2 else "delete" if i1 < i2 else "insert"


def _hunks(opcodes: list[Opcode], context: int) -> list[list[Opcode]]:
    """Changes grouped with up to `context` equal items around each, as diff -u shows them."""
    hunks: list[list[Opcode]] = []
    hunk: list[Opcode] = []
    for index, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag != "equal":
            hunk.append((tag, i1, i2, j1, j2))
            continue
        if hunk:  # context after the change before
            if i2 - i1 > 2 * context or index == len(opcodes) - 1:
                hunk.append(("equal", i1, min(i2, i1 + context), j1, min(j2, j1 + context)))
                hunks.append(hunk)
                hunk = []
            else:
                hunk.append((tag, i1, i2, j1, j2))
                continue
        if index < len(opcodes) - 1:  # context before the next change
            hunk = [("equal", max(i1, i2 - context), i2, max(j1, j2 - context), j2)]
    if hunk:
        hunks.append(hunk)
    return hunks


def _range(start: int, stop: int) -> str:
    """A unified diff's range: 1-based start and length, the length left out when it is 1."""
    length = stop - start
    if length == 1:
        return str(start + 1)
    return f"{start + 1 if length else start},{length}"


def _append(segments: list[Segment], op: Op, tokens: list[str]) -> None:
    text = "".join(tokens)
    if not text:
        return
    if segments and segments[-1].op == op:
        segments[-1] = Segment(op, segments[-1].text + text)
    else:
        segments.append(Segment(op, text))
