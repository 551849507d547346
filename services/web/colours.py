"""Each person's colour on a norm's pages: authorship marks and legend, history, live cursors and presence.

The people of a document get slots in order — its authors by first appearance in the text, then the
network's other members, then the viewer — so the first `SLOTS` people all look different: 8
colour-blind-safe hues (Okabe–Ito and Tol) × 4 line styles. site.css gives slot N its class
`.author-N`; the live editor gets the same slots from the page. Pure functions, no I/O.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

HUES = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#882255", "#332288")
LINES = ("solid", "dashed", "dotted", "double")
SLOTS = len(HUES) * len(LINES)


def assign(people: Iterable[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Each person's slot in order of first mention: all distinct for the first `SLOTS` people, then round again."""
    slots: dict[uuid.UUID, int] = {}
    for person in people:
        if person not in slots:
            slots[person] = len(slots) % SLOTS
    return slots


def hue(slot: int) -> str:
    """The colour of a slot: hues change first, so up to 8 people differ in colour alone."""
    return HUES[slot % len(HUES)]


def line(slot: int) -> str:
    """The line style (CSS border style) of a slot."""
    return LINES[slot // len(HUES) % len(LINES)]


def css_class(slot: int) -> str:
    """The class that gives an element the slot's colour as `--author` and its style as `--author-line`."""
    return f"author-{slot % SLOTS}"
