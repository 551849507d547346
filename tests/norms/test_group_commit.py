"""Group commit: writes arriving together share one commit, and each caller hears back only after it."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from sqlalchemy import event, func, select

from norms import document
from norms.errors import AttributionRefused, UnknownDependencies
from norms.models import NormChange
from norms.store import Limits, NormStore
from tests.fixtures.norms import member_id


async def _peers(store: NormStore, document_id: bytes, count: int) -> list:
    async with store.reading(document_id) as doc:
        saved = doc.save()
    return [document.load(saved, actor=os.urandom(16)) for _ in range(count)]


async def _stored(app, hashes) -> int:
    async with app.state.sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(NormChange).where(NormChange.hash.in_(list(hashes))))


@pytest.fixture
def commits(app):
    """How many transactions the app's engine committed (a list, so tests read it as it grows)."""
    engine = app.state.sessionmaker.kw["bind"].sync_engine
    counted = [0]

    def count(_connection) -> None:
        counted[0] += 1

    event.listen(engine, "commit", count)
    yield counted
    event.remove(engine, "commit", count)


async def test_concurrent_writes_to_several_norms_share_commits_and_each_is_stored_before_its_caller_hears(
    client, app, network, norm, commits
):
    second = await client.post(
        f"/api/v1/networks/{network['slug']}/norms",
        json={"title": "Second", "text": "Another text."},
        headers=network["members"][0]["headers"],
    )
    norms = [norm, second.json()]
    store = NormStore(app.state.sessionmaker, Limits(snapshot_every=7), group_commit=True)
    document_ids = [document.parse_document_id(n["url"]) for n in norms]
    peers = {document_id: await _peers(store, document_id, 4) for document_id in document_ids}
    unstored_on_return: list[str] = []

    async def write(document_id: bytes, peer, member: uuid.UUID, letter: str) -> None:
        made = document.apply_splices(peer, peer.get_actor(), [(0, 0, letter)])
        applied = await store.apply(document_id, member, b"".join(made))
        if await _stored(app, [change.hash for change in applied.changes]) != len(made):
            unstored_on_return.append(letter)

    writes = 0
    commits_before = commits[0]
    for round_ in range(5):
        calls = [
            write(document_id, peer, member_id(network, i % 3), chr(ord("a") + i + 4 * round_))
            for document_id in document_ids
            for i, peer in enumerate(peers[document_id])
        ]
        writes += len(calls)
        await asyncio.gather(*calls)

    assert unstored_on_return == []
    assert commits[0] - commits_before < writes  # some writes shared a commit
    for n, document_id in zip(norms, document_ids, strict=True):
        restarted = NormStore(app.state.sessionmaker, Limits())
        async with restarted.reading(document_id) as doc:
            text = document.read_text(doc)
        letters = "".join(chr(ord("a") + i + 4 * r) for r in range(5) for i in range(4))
        assert sorted(text.removesuffix(n["text"])) == sorted(letters)
        async with store.reading(document_id) as doc:
            assert document.read_text(doc) == text
    listed = (await client.get(f"/api/v1/norms/{norms[1]['id']}")).json()
    assert listed["change_count"] == 1 + 4 * 5


async def test_a_failed_commit_fails_every_caller_of_its_round_and_stores_nothing(client, app, network, norm):
    store = NormStore(app.state.sessionmaker, Limits(), group_commit=True)
    document_id = document.parse_document_id(norm["url"])
    peers = await _peers(store, document_id, 5)
    made = [document.apply_splices(peer, peer.get_actor(), [(0, 0, str(i))]) for i, peer in enumerate(peers)]
    engine = app.state.sessionmaker.kw["bind"].sync_engine

    def disk_failure(_connection) -> None:
        raise OSError("I/O error while committing")

    event.listen(engine, "commit", disk_failure)
    try:
        outcomes = await asyncio.gather(
            *(store.apply(document_id, member_id(network, i % 3), b"".join(changes)) for i, changes in enumerate(made)),
            return_exceptions=True,
        )
    finally:
        event.remove(engine, "commit", disk_failure)

    assert all(isinstance(outcome, OSError) for outcome in outcomes), outcomes
    assert await _stored(app, [document.split_changes(c[0])[0].hash for c in made]) == 0
    # The copy in memory holds none of it either: readers and the next writes see the stored text.
    async with store.reading(document_id, catch_up=False) as doc:
        assert document.read_text(doc) == norm["text"]
    assert (await client.get(f"/api/v1/norms/{norm['id']}")).json()["text"] == norm["text"]
    # Sent again once the disk is back, the same changes are stored.
    for i, changes in enumerate(made):
        await store.apply(document_id, member_id(network, i % 3), b"".join(changes))
    async with store.reading(document_id) as doc:
        assert sorted(document.read_text(doc).removesuffix(norm["text"])) == list("01234")


async def test_a_refused_write_fails_alone_and_the_others_of_its_round_are_stored(client, app, network, norm):
    store = NormStore(app.state.sessionmaker, Limits(), group_commit=True)
    document_id = document.parse_document_id(norm["url"])
    honest, forger, impatient, other = await _peers(store, document_id, 4)
    # The forger's actor is first bound to member 1; member 2 then submits a change in its name.
    first = document.apply_splices(forger, forger.get_actor(), [(0, 0, "F")])
    await store.apply(document_id, member_id(network, 1), b"".join(first))
    forged = document.apply_splices(forger, forger.get_actor(), [(0, 0, "G")])
    # A change whose dependency was never sent.
    document.apply_splices(impatient, impatient.get_actor(), [(0, 0, "x")])
    orphan = document.apply_splices(impatient, impatient.get_actor(), [(0, 0, "y")])
    good = [document.apply_splices(peer, peer.get_actor(), [(0, 0, letter)]) for peer, letter in ((honest, "H"), (other, "O"))]

    outcomes = await asyncio.gather(
        store.apply(document_id, member_id(network, 0), b"".join(good[0])),
        store.apply(document_id, member_id(network, 2), b"".join(forged)),
        store.apply(document_id, member_id(network, 0), b"".join(orphan)),
        store.apply(document_id, member_id(network, 2), b"".join(good[1])),
        return_exceptions=True,
    )

    assert isinstance(outcomes[1], AttributionRefused)
    assert isinstance(outcomes[2], UnknownDependencies)
    assert [len(outcome.changes) for outcome in (outcomes[0], outcomes[3])] == [1, 1]
    assert await _stored(app, [document.split_changes(c)[0].hash for c in (*forged, *orphan)]) == 0
    assert await _stored(app, [document.split_changes(c[0])[0].hash for c in good]) == 2
    text = (await client.get(f"/api/v1/norms/{norm['id']}")).json()["text"]
    assert sorted(text.removesuffix(norm["text"])) == sorted("FHO")


async def test_two_instances_writing_in_turn_each_catch_up_before_writing_and_a_resent_change_is_stored_once(client, app, network, norm):
    """Each instance's copy learns of the other's writes from the norm's change count, before its own write."""
    first, second = NormStore(app.state.sessionmaker, Limits()), NormStore(app.state.sessionmaker, Limits())
    document_id = document.parse_document_id(norm["url"])
    left, right = await _peers(first, document_id, 2)
    async with second.reading(document_id):
        pass  # both instances hold the document now
    for n in range(4):
        made = document.apply_splices(left, left.get_actor(), [(0, 0, str(n))])
        assert len((await first.apply(document_id, member_id(network, 0), b"".join(made))).changes) == 1
        # The same change again, through the other instance: already stored, so nothing new.
        assert (await second.apply(document_id, member_id(network, 0), b"".join(made))).changes == []
        made = document.apply_splices(right, right.get_actor(), [(0, 0, chr(ord("a") + n))])
        assert len((await second.apply(document_id, member_id(network, 1), b"".join(made))).changes) == 1
    # The first instance's copy, without a catch-up of its own, holds everything once it writes again.
    made = document.apply_splices(left, left.get_actor(), [(0, 0, "!")])
    await first.apply(document_id, member_id(network, 0), b"".join(made))
    async with first.reading(document_id, catch_up=False) as doc:
        text = document.read_text(doc)
        heads = document.heads_hex(doc)
    assert sorted(text.removesuffix(norm["text"])) == sorted("0123abcd!")
    async with NormStore(app.state.sessionmaker, Limits()).reading(document_id) as doc:
        assert document.heads_hex(doc) == heads
    assert (await client.get(f"/api/v1/norms/{norm['id']}")).json()["change_count"] == 1 + 4 + 4 + 1
