"""Differences between two texts of a norm: word by word for reading, unified for patches.

Every diff is bounded by a time budget, whatever the texts. Items (lines, then the words of
changed lines) that occur once in each text anchor the alignment in linear time (patience
diff); what lies between anchors is aligned by diff-match-patch's Myers diff, which stops at
the deadline. What is still unaligned then is reported as replaced: a coarser answer, never a
wrong one — the contract of `word_diff` holds whatever the budget.
"""

from __future__ import annotations

import asyncio
import re
import time
from bisect import bisect_left
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal, NamedTuple, TypeVar, TypeVarTuple

from diff_match_patch import diff_match_patch

from services.kit import metrics

_T = TypeVar("_T")
_Args = TypeVarTuple("_Args")

Op = Literal["equal", "insert", "delete"]
Tag = Literal["equal", "insert", "delete", "replace"]
Opcode = tuple[Tag, int, int, int, int]

# Time one diff may spend aligning; the rest of its cost (tokenising, joining) is linear.
DEFAULT_SECONDS = 0.5
# Whitespace runs, words and single punctuation marks: every character lands in a token.
_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")
_LINE = re.compile(r"[^\n]*\n|[^\n]+")
# Lines as str.splitlines(keepends=True) cuts them, for the unified diff.
_ANY_LINE = re.compile(
    r"[^\n\r\v\f\x1c-\x1e\x85\u2028\u2029]*(?:\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029])|[^\n\r\v\f\x1c-\x1e\x85\u2028\u2029]+"
)
_CODE_POINTS = 0x110000  # distinct items one Myers diff can tell apart (one code point each)
# Items per call into C (regex, counting, joining): the GIL is held through each call, so a diff
# in a worker thread keeps the event loop waiting a few milliseconds at most, not a whole text's worth.
_CHUNK = 1 << 13


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
    old_lines, new_lines = _split(_LINE, old), _split(_LINE, new)
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
        old_tokens, new_tokens = _split(_TOKEN, "".join(old_lines[i1:i2])), _split(_TOKEN, "".join(new_lines[j1:j2]))
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
            counts[op][0] += sum(1 for token in _split(_TOKEN, text) if not token.isspace())
            counts[op][1] += len(text)
    (words_in, chars_in), (words_out, chars_out) = counts["insert"], counts["delete"]
    return DiffStats(words_in, words_out, chars_in, chars_out)


def unified_diff(old: str, new: str, from_label: str, to_label: str, seconds: float = DEFAULT_SECONDS) -> str:
    """A line-based unified diff of ``old`` to ``new`` (3 lines of context); "" when they are equal.

    Aligned within about ``seconds``, as `word_diff`: past the budget, hunks are larger.
    """
    return labelled(unified_hunks(old, new, seconds), from_label, to_label)


def labelled(hunks: str, from_label: str, to_label: str) -> str:
    """A unified diff: its hunks under the two texts' labels ("" when there are no hunks)."""
    return f"--- {from_label}\n+++ {to_label}\n{hunks}" if hunks else ""


def unified_hunks(old: str, new: str, seconds: float = DEFAULT_SECONDS) -> str:
    """The hunks of `unified_diff`, without the labels."""
    a, b = _split(_ANY_LINE, old), _split(_ANY_LINE, new)
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
    # As diff(1) does, so that a last line without a newline stays a line of its own.
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in out)


# --- Diffs of one instance ---------------------------------------------------------------


DiffKind = Literal["words", "unified"]


class DiffKey(NamedTuple):
    """A diff named by what it compares: a document's text at two sets of heads (never "current")."""

    kind: DiffKind
    document_id: bytes
    old_heads: tuple[bytes, ...]
    new_heads: tuple[bytes, ...]


class WordDiff(NamedTuple):
    segments: list[Segment]
    stats: DiffStats


# What a diff key computes: a word diff for "words", unified hunks for "unified".
DiffResult = WordDiff | str


def _word_diff_with_stats(old: str, new: str, seconds: float) -> WordDiff:
    segments = word_diff(old, new, seconds)
    return WordDiff(segments, diff_stats(segments))


class DiffCache:
    """The diffs of one instance: computed in worker threads, never on the event loop, and kept.

    A kept diff answers every later request for the same key, and a diff being computed answers
    every request that arrives meanwhile: a pair of versions is diffed once. At most `workers`
    diffs run at once; others wait their turn. Kept diffs are dropped, least recently used first,
    once the texts they compare exceed `max_chars` characters in all.
    """

    def __init__(self, *, seconds: float = DEFAULT_SECONDS, max_chars: int = 16_000_000, workers: int = 2) -> None:
        self.seconds = seconds
        self._max_chars = max_chars
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="diff")
        self._kept: OrderedDict[DiffKey, tuple[asyncio.Future[DiffResult], int]] = OrderedDict()
        self._chars = 0

    async def computing(self, key: DiffKey, read: Callable[[], tuple[str, str]]) -> Awaitable[DiffResult]:
        """What to await for the diff `key` (a `WordDiff`, or unified hunks): kept, being computed, or started now.

        `read` returns the old and new text; it runs in a worker thread, and only when the diff is not
        kept, so the caller calls this while it may read them (inside the store's `reading`).
        """
        entry, outcome = self._kept.get(key), "kept"
        if entry is None:
            old, new = await self.run(read)
            entry = self._kept.get(key)  # another request may have started it meanwhile
            if entry is None:
                entry, outcome = self._start(key, old, new), "computed"
        self._kept.move_to_end(key)
        metrics.diff_requested(key.kind, outcome)
        # Shielded: a request that goes away does not cancel a diff others wait for.
        return asyncio.shield(entry[0])

    async def run(self, function: Callable[[*_Args], _T], *args: *_Args) -> _T:
        """`function(*args)` in a diff worker thread; a cancelled caller still waits for the thread to finish."""
        future = asyncio.get_running_loop().run_in_executor(self._executor, function, *args)
        try:
            return await asyncio.shield(future)
        finally:
            if not future.done():  # the caller may hold what the thread reads (a document's lock): not released before it is done
                await asyncio.wait([future])

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _start(self, key: DiffKey, old: str, new: str) -> tuple[asyncio.Future[DiffResult], int]:
        compute: Callable[[str, str, float], DiffResult] = _word_diff_with_stats if key.kind == "words" else unified_hunks
        future = asyncio.get_running_loop().run_in_executor(self._executor, compute, old, new, self.seconds)
        entry = self._kept[key] = (future, len(old) + len(new))
        self._chars += entry[1]
        future.add_done_callback(lambda done: self._forget(key, done) if done.cancelled() or done.exception() else None)
        while self._chars > self._max_chars and len(self._kept) > 1:
            _, (_, size) = self._kept.popitem(last=False)
            self._chars -= size
        return entry

    def _forget(self, key: DiffKey, future: asyncio.Future[DiffResult]) -> None:
        entry = self._kept.get(key)
        if entry is not None and entry[0] is future:
            del self._kept[key]
            self._chars -= entry[1]


# --- Alignment ----------------------------------------------------------------------------


class _Myers(diff_match_patch):
    """diff-match-patch with its half-match speed-up off: that search is quadratic on repetitive texts and ignores the deadline."""

    def diff_halfMatch(self, text1: str, text2: str) -> None:
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
    distinct: dict[str, None] = {}
    for items in (a, b):
        for start in range(0, len(items), _CHUNK):
            distinct.update(dict.fromkeys(items[start : start + _CHUNK]))
    if len(distinct) > _CODE_POINTS:
        return None
    codes = dict(zip(distinct, map(chr, range(len(distinct))), strict=True))

    def encoded(items: Sequence[str]) -> str:
        return "".join(["".join(map(codes.__getitem__, items[start : start + _CHUNK])) for start in range(0, len(items), _CHUNK)])

    return encoded(a), encoded(b)


def _unique_anchors(a: Sequence[str], b: Sequence[str]) -> list[tuple[int, int]]:
    """Positions of the items found exactly once in each text, the longest run of them in the same order."""
    count_a: Counter[str] = Counter()
    count_b: Counter[str] = Counter()
    for items, count in ((a, count_a), (b, count_b)):
        for start in range(0, len(items), _CHUNK):
            count.update(items[start : start + _CHUNK])
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


def _split(pattern: re.Pattern[str], text: str) -> list[str]:
    """`pattern.findall(text)`, a chunk of text at a time (a match cut at a chunk's end is joined again)."""
    items: list[str] = []
    for start in range(0, len(text), _CHUNK):
        part = pattern.findall(text, start, start + _CHUNK)
        joined = pattern.match(items[-1][-1] + part[0][0]) if items and part else None
        if joined is not None and joined.end() == 2:  # one match across the cut
            items[-1] += part[0]
            part = part[1:]
        items.extend(part)
    return items


def _append(segments: list[Segment], op: Op, tokens: list[str]) -> None:
    text = "".join(tokens)
    if not text:
        return
    if segments and segments[-1].op == op:
        segments[-1] = Segment(op, segments[-1].text + text)
    else:
        segments.append(Segment(op, text))


@dataclass(frozen=True, slots=True)
class TextSplice:
    """Delete `delete` code points at `index`, then insert `insert` there."""

    index: int
    delete: int
    insert: str


def splice_between(old: str, new: str) -> TextSplice | None:
    """The one splice that turns `old` into `new`, keeping their common prefix and suffix; None if they are equal.

    Exact (applied to `old` it spells `new`) and cheap whatever the length: the prefix and suffix are
    found by halving, each step one comparison in C, so no character is visited from Python.
    """
    if old == new:
        return None
    limit = min(len(old), len(new))
    prefix = _shared_length(old, new, limit, lambda text, n: text[:n])
    suffix = _shared_length(old, new, limit - prefix, lambda text, n: text[len(text) - n :])
    return TextSplice(prefix, len(old) - prefix - suffix, new[prefix : len(new) - suffix])


def _shared_length(a: str, b: str, limit: int, part: Callable[[str, int], str]) -> int:
    low, high = 0, limit
    while low < high:
        middle = (low + high + 1) // 2
        if part(a, middle) == part(b, middle):
            low = middle
        else:
            high = middle - 1
    return low
