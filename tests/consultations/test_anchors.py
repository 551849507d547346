"""Anchored comments follow their passage through later edits of the norm."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from norms.anchoring import reanchor
from tests.fixtures.accounts import affiliate
from tests.fixtures.norms import TEXT
from tests.norms.test_diff_api import _diffs_counted


async def test_anchors_survive_edits_before_and_inside_the_passage(client, council, consultation, sign_up):
    reader = await affiliate(client, await sign_up("Reader"))
    start = TEXT.index("ranking criteria")
    made = await client.post(
        f"/api/v1/consultations/{consultation['id']}/comments",
        json={"body": "Which criteria?", "anchor": {"start": start, "end": start + 16, "quote": "ranking criteria"}},
        headers=reader["headers"],
    )
    assert made.status_code == 201, made.text
    [anchor] = (await client.get(f"/api/v1/consultations/{consultation['id']}/anchors")).json()
    assert (anchor["state"], anchor["current"]) == ("exact", "ranking criteria")

    member = council["members"][1]
    edit = lambda index, insert: client.post(  # noqa: E731
        f"/api/v1/norms/{council['norm']['id']}/edits", json={"splices": [{"index": index, "insert": insert}]}, headers=member["headers"]
    )
    assert (await edit(0, "Large ")).status_code == 200  # before the passage
    [anchor] = (await client.get(f"/api/v1/consultations/{consultation['id']}/anchors")).json()
    assert (anchor["state"], anchor["start"], anchor["current"]) == ("exact", start + 6, "ranking criteria")

    text = (await client.get(f"/api/v1/norms/{council['norm']['id']}")).json()["text"]
    assert (await edit(text.index("criteria"), "main ")).status_code == 200  # inside it
    text = (await client.get(f"/api/v1/norms/{council['norm']['id']}")).json()["text"]
    [anchor] = (await client.get(f"/api/v1/consultations/{consultation['id']}/anchors")).json()
    assert anchor["state"] == "shifted"
    assert anchor["current"] == "ranking main criteria" == text[anchor["start"] : anchor["end"]]


def test_deleted_passage_is_lost_and_moved_one_is_found():
    old = "Alpha beta gamma. Delta epsilon."
    assert reanchor("beta", 6, 10, old, "Alpha gamma. Delta epsilon.")[0] == "lost"
    moved = "Delta epsilon. Alpha beta gamma."
    state, start, end = reanchor("beta", 6, 10, old, moved)
    assert moved[start:end] == "beta"


@given(
    prefix=st.text(alphabet="abc .", max_size=20),
    passage=st.text(alphabet="xyz", min_size=1, max_size=10),
    suffix=st.text(alphabet="abc .", max_size=20),
    before=st.text(alphabet="abc .", max_size=10),
    after=st.text(alphabet="abc .", max_size=10),
)
def test_edits_outside_the_passage_keep_it_exact(prefix, passage, suffix, before, after):
    old = f"{prefix} {passage} {suffix}"
    start = len(prefix) + 1
    new = f"{before}{prefix} {passage} {suffix}{after}"
    state, new_start, new_end = reanchor(passage, start, start + len(passage), old, new)
    assert state == "exact" and new[new_start:new_end] == passage


async def test_anchors_are_mapped_through_one_kept_diff_until_the_text_changes(client, council, consultation, sign_up):
    reader = await affiliate(client, await sign_up("Reader"))
    start = TEXT.index("ranking criteria")
    made = await client.post(
        f"/api/v1/consultations/{consultation['id']}/comments",
        json={"body": "Which criteria?", "anchor": {"start": start, "end": start + 16, "quote": "ranking criteria"}},
        headers=reader["headers"],
    )
    assert made.status_code == 201, made.text
    member = council["members"][1]
    edited = await client.post(
        f"/api/v1/norms/{council['norm']['id']}/edits", json={"splices": [{"index": 0, "insert": "Large "}]}, headers=member["headers"]
    )
    assert edited.status_code == 200, edited.text
    before = await _diffs_counted(client)

    views = [(await client.get(f"/api/v1/consultations/{consultation['id']}/anchors")).json() for _ in range(3)]

    assert views[0] == views[1] == views[2] and views[0][0]["start"] == start + 6
    counted = await _diffs_counted(client)
    assert counted.get(("words", "computed"), 0) - before.get(("words", "computed"), 0) == 1
    assert counted.get(("words", "kept"), 0) - before.get(("words", "kept"), 0) == 2
