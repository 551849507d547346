from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from norms.diff import Segment, diff_stats, unified_diff, word_diff


def spelled(segments, side):
    return "".join(s.text for s in segments if s.op in ("equal", side))


def test_word_diff_marks_words_changed():
    old = "Members share data with partners."
    new = "Members openly share personal data with partners!"

    segments = word_diff(old, new)

    assert segments == [
        Segment("equal", "Members "),
        Segment("insert", "openly "),
        Segment("equal", "share"),
        Segment("insert", " personal"),
        Segment("equal", " data with partners"),
        Segment("delete", "."),
        Segment("insert", "!"),
    ]
    assert diff_stats(segments) == (3, 1, 17, 1)


def test_word_diff_of_equal_and_empty_texts():
    assert word_diff("same text", "same text") == [Segment("equal", "same text")]
    assert word_diff("", "") == []
    assert word_diff("", "new") == [Segment("insert", "new")]
    assert word_diff("old", "") == [Segment("delete", "old")]


@given(st.text(), st.text())
def test_word_diff_spells_both_texts(old, new):
    segments = word_diff(old, new)

    assert spelled(segments, "delete") == old
    assert spelled(segments, "insert") == new
    assert all(a.op != b.op for a, b in pairwise(segments))
    assert all(s.text for s in segments)


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
