"""The store's journal of recent changes, which the sync hub serves caught-up peers from."""

from __future__ import annotations

import os

from hypothesis import given
from hypothesis import strategies as st

from norms import document
from norms.store import JOURNAL_KEEP, Journal


def _changes(count: int) -> list[document.Change]:
    doc, _made = document.create("T", "", os.urandom(16))
    made = []
    for n in range(count):
        made += document.apply_splices(doc, doc.get_actor(), [(n, 0, "x")])
    return document.split_changes(b"".join(made))


CHANGES = _changes(40)


@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 45)), max_size=12))
def test_since_gives_exactly_the_changes_after_a_kept_position(steps):
    journal, merged, start = Journal(), [], 0
    for count, forget in steps:
        batch = CHANGES[len(merged) : len(merged) + count]
        journal.add(batch)
        merged += batch
        journal.forget(forget)
        assert journal.end == len(merged)
        start = max(start, min(forget, len(merged)))
        assert journal.start == start
        for position in range(len(merged) + 2):
            found = journal.since(position)
            if journal.start <= position <= len(merged):
                assert found == merged[position:]
            else:
                assert found is None
        assert all(journal.positions[change.hash] == n for n, change in enumerate(merged))


def test_forgotten_changes_are_gone_but_their_hashes_stay_known():
    journal = Journal()
    journal.add(CHANGES[:10])
    journal.forget(8)
    assert journal.since(7) is None
    assert journal.since(8) == CHANGES[8:10]
    assert len(journal.entries) == 2
    assert journal.positions[CHANGES[0].hash] == 0


def test_at_most_the_last_thousand_changes_are_kept():
    journal = Journal()
    many = [CHANGES[n % len(CHANGES)] for n in range(JOURNAL_KEEP + 5)]
    journal.add(many)
    assert len(journal.entries) == len(journal.recent) == JOURNAL_KEEP
    assert journal.start == 5 and journal.end == JOURNAL_KEEP + 5
    assert journal.since(4) is None and len(journal.since(5)) == JOURNAL_KEEP
