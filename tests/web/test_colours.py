"""Colour slots: each person of a document looks different from the others, in a stable order."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from services.web import colours

people = st.lists(st.uuids(), max_size=80)


def test_slots_follow_first_appearance():
    ana, ben, eva = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    assert colours.assign([ben, ana, ben, eva, ana]) == {ben: 0, ana: 1, eva: 2}
    assert [colours.hue(slot) for slot in range(3)] == ["#0072b2", "#d55e00", "#009e73"]


def test_eight_people_differ_in_colour_and_the_ninth_in_line():
    assert len({colours.hue(slot) for slot in range(8)}) == 8
    assert (colours.hue(8), colours.line(8)) == (colours.hue(0), "dashed")
    assert colours.css_class(colours.SLOTS) == colours.css_class(0)


@given(people)
def test_up_to_32_people_all_look_different(order):
    slots = colours.assign(order)
    first = list(dict.fromkeys(order))[: colours.SLOTS]
    looks = {(colours.hue(slots[person]), colours.line(slots[person])) for person in first}
    assert len(looks) == len(first)
    assert {colours.css_class(slots[person]) for person in first} == {colours.css_class(slot) for slot in range(len(first))}


@given(people, people)
def test_more_people_later_never_change_anyones_slot(order, more):
    slots = colours.assign(order)
    assert {person: slot for person, slot in colours.assign([*order, *more]).items() if person in slots} == slots
    assert list(slots.values()) == [index % colours.SLOTS for index in range(len(slots))]
