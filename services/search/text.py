"""How words are folded, split and matched: one definition for the index, the query and the snippet, on every database.

Pure functions over strings, no I/O. Both SQLite FTS5 and PostgreSQL index the *folded* text this module makes, so
both see the same tokens and answer the same queries:

- compatibility forms are unified (NFKC), combining marks are dropped (French accents, Arabic harakat), case is
  folded (Russian, Greek, Latin), Arabic tatweel is dropped and hamza-carrying alefs become a bare alef;
- a word is a run of letters and digits; CJK ideographs and kana, written without spaces, are indexed as
  overlapping pairs (the usual CJK bigram) with each run's last character alone, so any run of two or more
  characters is found as a phrase of pairs and one character as a prefix.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

MAX_QUERY_CHARS = 500

_ALEF = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ـ": None, "ى": "ي", "ة": "ه"})
_ALEF_FORMS = re.compile("[أإآٱـىة]")
# Han, kana, Hangul syllables and CJK compatibility ideographs: scripts written without spaces between words.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]+|[^\W_{_CJK}]+")
_CJK_RUN = re.compile(rf"[{_CJK}]+")
_MARKS = re.compile(
    r"[\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]"
)


def fold(text: str) -> str:
    """`text` with case, accents, diacritics and compatibility forms folded away (same length or shorter per character)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    composed = unicodedata.normalize("NFC", _MARKS.sub("", decomposed))
    return composed.translate(_ALEF) if _ALEF_FORMS.search(composed) else composed  # translate is slow on long texts


def _cjk_tokens(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)] + [run[-1]]


def tokens(text: str) -> list[str]:
    """The folded words of `text`, in order, as both indexes store them."""
    folded = fold(text)
    words = _TOKEN.findall(folded)
    if not _CJK_RUN.search(folded):  # the common case, in one pass: no run to split into pairs
        return words
    found: list[str] = []
    for word in words:
        found.extend(_cjk_tokens(word) if _CJK_RUN.fullmatch(word) else [word])
    return found


def index_text(text: str) -> str:
    """What the full-text index is given for `text`: its folded words separated by single spaces."""
    return " ".join(tokens(text))


# PostgreSQL refuses a tsvector over 1 MiB; each lexeme costs its bytes plus a header, each position
# two bytes (at most 256 kept per lexeme). Leave room for the title's.
TSVECTOR_BUDGET = 900_000


def fit_tsvector(folded: str, budget: int = TSVECTOR_BUDGET) -> str:
    """The longest start of `folded` (index_text's output) whose PostgreSQL tsvector stays within `budget` bytes,
    so an exceptionally varied text is indexed in part rather than refused (SQLite has no such limit)."""
    if len(folded.encode()) <= budget // 3:  # every token costs at least its bytes, a position and a header: fits
        return folded
    seen: dict[str, int] = {}
    size = 0
    at = 0
    for word in folded.split(" "):
        count = seen.get(word, 0)
        cost = (len(word.encode()) + 8 if count == 0 else 0) + (2 if count < 256 else 0)
        if size + cost > budget:
            return folded[: max(0, at - 1)]
        seen[word] = count + 1
        size += cost
        at += len(word) + 1
    return folded


# --- Queries -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """Words that must appear together in this order (one word, or a quoted phrase), or a prefix."""

    words: tuple[str, ...]
    prefix: bool = False
    negated: bool = False


@dataclass(frozen=True)
class Query:
    terms: tuple[Term, ...] = field(default_factory=tuple)

    @property
    def positive(self) -> tuple[Term, ...]:
        return tuple(t for t in self.terms if not t.negated)

    @property
    def negative(self) -> tuple[Term, ...]:
        return tuple(t for t in self.terms if t.negated)

    def __bool__(self) -> bool:
        return bool(self.positive)


_PART = re.compile(r'(-?)"([^"]*)"?|(\S+)')


def _term(text: str, *, negated: bool, phrase: bool) -> Term | None:
    prefix = not phrase and text.endswith("*") and len(text.rstrip("*")) > 0
    words: list[str] = []
    parts = [match.group() for match in _TOKEN.finditer(fold(text))]
    for n, word in enumerate(parts):
        if not _CJK_RUN.fullmatch(word):
            words.append(word)
        elif len(parts) == 1 and len(word) == 1:
            words.append(word)
            prefix = True  # one ideograph alone: the start of any pair, or a run's last character
        elif n + 1 < len(parts):
            words.extend(_cjk_tokens(word))  # another word follows, so the run ends here: its last character too
        else:
            words.extend(_cjk_tokens(word)[:-1] if len(word) > 1 else [word])
    if not words:
        return None
    return Term(tuple(words), prefix=prefix and len(words) == 1, negated=negated)


def parse_query(q: str) -> Query:
    """Every word must match; `"a phrase"` in order, `-word` excluded, `word*` as a prefix; anything else is text.

    Never fails: operators of either database's syntax (`NEAR`, `:`, `&`, `|`, parentheses, unbalanced quotes) are
    taken as the words they contain.
    """
    terms: list[Term] = []
    for match in _PART.finditer(q):
        if match.group(3) is not None:
            raw = match.group(3)
            negated = raw.startswith("-") and len(raw) > 1
            term = _term(raw[1:] if negated else raw, negated=negated, phrase=False)
        else:
            term = _term(match.group(2), negated=bool(match.group(1)), phrase=True)
        if term is not None and term not in terms:
            terms.append(term)
    return Query(tuple(terms))


def fts5_match(query: Query, terms: tuple[Term, ...] | None = None) -> str:
    """The FTS5 MATCH expression of `terms` (default: the positive ones), all required; words are quoted."""
    chosen = query.positive if terms is None else terms
    parts = []
    for term in chosen:
        phrase = '"' + " ".join(term.words) + '"'
        parts.append(phrase + ("*" if term.prefix else ""))
    return " AND ".join(parts)


def tsquery(query: Query, terms: tuple[Term, ...] | None = None, *, loose: bool = False) -> str:
    """The PostgreSQL tsquery text of `terms` (default: the positive ones): `&` between terms, `<->` within a phrase
    (with `loose`, `&` there too: every word, anywhere — what a GIN index answers without reading positions)."""
    chosen = query.positive if terms is None else terms
    parts = []
    for term in chosen:
        lexemes = ["'" + word + "'" for word in term.words]
        if term.prefix:
            lexemes[-1] += ":*"
        parts.append("(" + (" & " if loose else " <-> ").join(lexemes) + ")")
    return " & ".join(parts)


# --- Snippets ------------------------------------------------------------------------------

SNIPPET_CHARS = 200
# A snippet is looked for in this much of a long text; beyond it the text's start is shown.
SNIPPET_WINDOW = 100_000


@lru_cache(maxsize=65_536)
def _folded_word(word: str) -> str:
    return "".join(tokens(word))


_WORD = re.compile(rf"[{_CJK}]+|[^\W_{_CJK}]+(?:[\u0300-\u036f\u064b-\u065f\u0670]*[^\W_{_CJK}]*)*")


def _hits(text: str, query: Query, length: int) -> list[tuple[int, int]]:
    """Spans of `text` (original characters) whose folded words match a positive term's word, from the first
    match to `length` characters after it."""
    whole = {w for t in query.positive for w in (t.words[:-1] if t.prefix else t.words)}
    prefixes = tuple(t.words[-1] for t in query.positive if t.prefix)
    needles = [n for t in query.positive if _CJK_RUN.fullmatch(n := t.words[0] + "".join(w[1:] for w in t.words[1:]))]
    spans: list[tuple[int, int]] = []
    for match in _WORD.finditer(text):
        if spans and match.start() > spans[0][0] + length:
            break
        word = match.group()
        if _CJK_RUN.fullmatch(word):
            for needle in needles:
                start = word.find(needle)
                while start >= 0:
                    spans.append((match.start() + start, match.start() + start + len(needle)))
                    start = word.find(needle, start + 1)
            continue
        folded = _folded_word(word)
        if folded in whole or (prefixes and folded.startswith(prefixes)):
            spans.append(match.span())
    return sorted(spans)


def snippet(text: str, query: Query, length: int = SNIPPET_CHARS) -> str:
    """Safe HTML: up to `length` characters of `text` around the first match, each matched word in `<mark>`."""
    window = text[:SNIPPET_WINDOW]
    spans = _hits(window, query, length) if query else []
    start = 0
    if spans:
        start = max(0, spans[0][0] - length // 4)
        # Start at a word boundary when one is near.
        space = window.rfind(" ", max(0, start - 20), spans[0][0])
        start = space + 1 if space >= 0 and start > 0 else start
    end = min(len(window), start + length)
    parts = ["…" if start > 0 else ""]
    at = start
    for a, b in spans:
        if a < at or b > end:
            continue
        parts.append(html.escape(window[at:a]))
        parts.append("<mark>" + html.escape(window[a:b]) + "</mark>")
        at = b
    parts.append(html.escape(window[at:end]))
    if end < len(text):
        parts.append("…")
    return "".join(parts)


def best_snippet(texts: Sequence[str], query: Query, length: int = SNIPPET_CHARS) -> str:
    """The snippet of the first of `texts` (a body, then a title) that holds a matched word, else of the first
    non-empty one: a thing found by its title alone shows its title with the words marked."""
    present = [text for text in texts if text]
    for text in present:
        if query and _hits(text[:SNIPPET_WINDOW], query, length):
            return snippet(text, query, length)
    return snippet(present[0] if present else "", query, length)


# --- Languages -----------------------------------------------------------------------------

LANGUAGES = ("ar", "en", "es", "fr", "ru", "zh")
_SCRIPTS = (
    ("zh", re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")),
    ("ar", re.compile(r"[\u0600-\u06ff]")),
    ("ru", re.compile(r"[\u0400-\u04ff]")),
)
# The commonest short words of the Latin-script UN languages, each telling its language apart.
_FUNCTION_WORDS = {
    "en": frozenset("the and of to is are for with that this be by on".split()),
    "fr": frozenset("le la les des et est une du pour dans sont que qui au aux".split()),
    "es": frozenset("el los las del y es una por para con que se al son".split()),
}
LANGUAGE_SAMPLE = 5000


def guess_language(text: str) -> str | None:
    """Which UN language `text` is written in (its script, else its commonest words), or None when unsure."""
    sample = text[:LANGUAGE_SAMPLE]
    counts = {code: len(pattern.findall(sample)) for code, pattern in _SCRIPTS}
    script, most = max(counts.items(), key=lambda item: item[1])
    if most >= 2:
        return script
    words = tokens(sample)
    scores = {code: sum(word in common for word in words) for code, common in _FUNCTION_WORDS.items()}
    best, score = max(scores.items(), key=lambda item: item[1])
    if score == 0 or list(scores.values()).count(score) > 1:
        return None
    return best


def fold_document(title: str, body: str, dialect: str) -> tuple[str, str, str | None]:
    """What the index stores for a document: its folded title, its folded body (fitted to a `tsvector` on
    PostgreSQL) and its language. Top-level, so a worker process can run it for a long text."""
    folded = index_text(body)
    return index_text(title), fit_tsvector(folded) if dialect == "postgresql" else folded, guess_language(title + "\n" + body)
