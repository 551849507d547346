import re
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from norms import diff as text_diff
from norms.diff import Segment, diff_stats, unified_diff, word_diff

# Few distinct words and lines, so that texts share, repeat and move them.
texts = st.one_of(
    st.text(),
    st.text(alphabet="ab .,\n\t", max_size=200),
    st.lists(st.sampled_from(["Article 1\n", "Data is shared.\n", "Members vote.", " ", "\n", "share", "data", "!"]), max_size=60).map(
        "".join
    ),
)
# 0: the budget is spent before aligning starts, so every result is the coarsest the diff gives.
budgets = st.sampled_from([0.0, 0.5])


def spelled(segments, side):
    return "".join(s.text for s in segments if s.op in ("equal", side))


def test_word_diff_marks_words_changed():
    old = "Members share data with partners."
    new = "Members openly share personal data with partners!"

    segments = word_diff(old, new)

    assert segments == [
        Segment("equal", "Members "),
        Segment("insert", "openly "),
        Segment("equal", "share "),
        Segment("insert", "personal "),
        Segment("equal", "data with partners"),
        Segment("delete", "."),
        Segment("insert", "!"),
    ]
    assert diff_stats(segments) == (3, 1, 17, 1)


def test_word_diff_of_equal_and_empty_texts():
    assert word_diff("same text", "same text") == [Segment("equal", "same text")]
    assert word_diff("", "") == []
    assert word_diff("", "new") == [Segment("insert", "new")]
    assert word_diff("old", "") == [Segment("delete", "old")]


@given(texts, texts, budgets)
def test_word_diff_spells_both_texts(old, new, seconds):
    segments = word_diff(old, new, seconds)

    assert spelled(segments, "delete") == old
    assert spelled(segments, "insert") == new
    assert all(a.op != b.op for a, b in pairwise(segments))
    assert all(s.text for s in segments)
    # A replacement is a delete followed by an insert, never the other way round.
    assert not any(a.op == "insert" and b.op == "delete" for a, b in pairwise(segments))


def test_word_diff_past_its_budget_is_coarser_but_still_true():
    old, new = "la la la la\n", "la li la lo\n"  # no word occurs once in each: nothing to anchor on

    assert word_diff(old, new) == [
        Segment("equal", "la "),
        Segment("delete", "la"),
        Segment("insert", "li"),
        Segment("equal", " la "),
        Segment("delete", "la"),
        Segment("insert", "lo"),
        Segment("equal", "\n"),
    ]
    assert word_diff(old, new, 0.0) == [Segment("delete", old), Segment("insert", new)]
    assert word_diff("Same.\n" + old, "Same.\n" + new, 0.0) == [Segment("equal", "Same.\n"), *word_diff(old, new, 0.0)]


def test_word_diff_of_repetitive_texts_is_true():
    old = "x " * 5000 + "A " + "x " * 5000
    new = "B " + "x " * 4000 + "C " + "x " * 6000

    segments = word_diff(old, new)

    assert (spelled(segments, "delete"), spelled(segments, "insert")) == (old, new)


def test_unified_diff():
    old = "Article 1\nData is shared.\nArticle 2\n"
    new = "Article 1\nData is shared openly.\nArticle 2\n"

    assert unified_diff(old, new, "v1", "v2") == (
        "--- v1\n+++ v2\n@@ -1,3 +1,3 @@\n Article 1\n-Data is shared.\n+Data is shared openly.\n Article 2\n"
    )
    assert unified_diff(old, old, "v1", "v2") == ""


def test_unified_diff_marks_a_missing_final_newline():
    diff = unified_diff("a\nb", "a\nb\n", "v1", "v2")

    assert diff.endswith("-b\n\\ No newline at end of file\n+b\n")


def patched(old: str, diff: str) -> str:
    """`old` with a unified diff applied, as patch(1) would."""
    lines, out, at = old.splitlines(keepends=True), [], 0
    body = diff.replace("\n\\ No newline at end of file\n", "").splitlines(keepends=True)[2:]
    index = 0
    while index < len(body):
        start = int(re.match(r"@@ -(\d+)(?:,(\d+))?", body[index]).group(1))
        length = re.match(r"@@ -\d+(?:,(\d+))?", body[index]).group(1)
        start = start - 1 if length != "0" else start
        out.extend(lines[at:start])
        at = start
        index += 1
        while index < len(body) and not body[index].startswith("@@"):
            kind, line = body[index][0], body[index][1:]
            if kind in " -":
                assert lines[at] == line
                at += 1
            if kind in " +":
                out.append(line)
            index += 1
    return "".join(out + lines[at:])


@given(texts, texts, budgets)
def test_unified_diff_patches_old_into_new(old, new, seconds):
    # Texts whose line breaks are all "\n" and that end with one, as patch(1) reads them.
    old, new = old.replace("\r", "") + "\n", new.replace("\r", "") + "\n"
    old, new = ["".join(ch for ch in text if ch == "\n" or not ch.isspace() or ch in " \t") for text in (old, new)]

    diff = unified_diff(old, new, "v1", "v2", seconds)

    assert patched(old, diff) == new
    assert (diff == "") == (old == new)


@given(st.one_of(texts, st.text(alphabet="ab \r\n\u2028_-", max_size=60)), st.integers(min_value=1, max_value=5))
def test_texts_split_a_chunk_at_a_time_as_at_once(text, chunk):
    saved, text_diff._CHUNK = text_diff._CHUNK, chunk
    try:
        assert text_diff._split(text_diff._TOKEN, text) == text_diff._TOKEN.findall(text)
        assert text_diff._split(text_diff._LINE, text) == text_diff._LINE.findall(text)
        assert text_diff._split(text_diff._ANY_LINE, text) == text.splitlines(keepends=True)
    finally:
        text_diff._CHUNK = saved


@given(st.text(alphabet="ab \nمن中😀", max_size=40), st.text(alphabet="ab \nمن中😀", max_size=40))
def test_the_splice_between_two_texts_spells_the_new_one_and_keeps_what_they_share(old, new):
    splice = text_diff.splice_between(old, new)
    if old == new:
        assert splice is None
        return
    assert splice is not None
    assert old[: splice.index] + splice.insert + old[splice.index + splice.delete :] == new
    kept = len(old) - splice.delete
    # Nothing shared is resent: the kept prefix and suffix are as long as the texts allow.
    assert not (splice.delete and splice.insert and splice.insert[0] == old[splice.index])
    assert not (splice.delete and splice.insert and splice.insert[-1] == old[splice.index + splice.delete - 1])
    assert kept <= len(new)


def test_a_splice_is_where_the_typing_was():
    assert text_diff.splice_between("(المادة 3)", "(المادة 3، الفقرة 2)") == text_diff.TextSplice(9, 0, "، الفقرة 2")
    assert text_diff.splice_between("abc", "abXc") == text_diff.TextSplice(2, 0, "X")
    assert text_diff.splice_between("abcd", "ad") == text_diff.TextSplice(1, 2, "")
    assert text_diff.splice_between("", "new") == text_diff.TextSplice(0, 0, "new")
