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
    many = _changes(JOURNAL_KEEP + 5)
    journal.add(many)
    assert len(journal.entries) == len(journal.positions) == JOURNAL_KEEP
    assert many[4].hash not in journal.positions and journal.positions[many[5].hash] == 5
    assert journal.start == 5 and journal.end == JOURNAL_KEEP + 5
    assert journal.since(4) is None and len(journal.since(5)) == JOURNAL_KEEP


def test_a_batch_is_known_new_from_heads_and_recent_changes_without_the_database():
    from norms.residents import all_fresh

    doc, made = document.create("T", "", os.urandom(16))
    first = document.split_changes(b"".join(made))
    left, right = document.load(doc.save(), actor=os.urandom(16)), document.load(doc.save(), actor=os.urandom(16))
    a = document.split_changes(b"".join(document.apply_splices(left, left.get_actor(), [(0, 0, "a")])))
    b = document.split_changes(b"".join(document.apply_splices(right, right.get_actor(), [(0, 0, "b")])))
    document.merge_changes(doc, a)
    after_a = document.split_changes(b"".join(document.apply_splices(left, left.get_actor(), [(1, 0, "c")])))
    document.merge_changes(doc, b)  # heads: a and b
    journal = Journal()
    journal.add(a + b)
    assert all_fresh(after_a, doc, journal.positions)  # builds on a (a head)
    assert not all_fresh(a, doc, journal.positions)  # stored already: it is recent
    assert not all_fresh(first, doc, journal.positions)  # the first change has no dependencies to vouch for it
    stranger = document.load(doc.save(), actor=os.urandom(16))
    unknown_base = document.split_changes(b"".join(document.apply_splices(stranger, stranger.get_actor(), [(0, 0, "x")])))
    built = document.split_changes(b"".join(document.apply_splices(stranger, stranger.get_actor(), [(0, 0, "y")])))
    assert not all_fresh(built, doc, journal.positions)  # its dependency is unknown here
    assert all_fresh(unknown_base + built, doc, journal.positions)  # together they build on the heads
    document.merge_changes(doc, after_a)
    document.merge_changes(left, b)
    joined = document.split_changes(b"".join(document.apply_splices(left, left.get_actor(), [(0, 0, "e")])))
    document.merge_changes(doc, joined)  # builds on both: b is no longer a head here
    journal.add(after_a + joined)
    late = document.split_changes(b"".join(document.apply_splices(right, right.get_actor(), [(0, 0, "d")])))
    assert late[0].deps == tuple(change.hash for change in b) and b[0].hash not in doc.get_heads()
    assert all_fresh(late, doc, journal.positions)  # b is recent
    assert not all_fresh(late, doc)  # without the journal only the database could say
