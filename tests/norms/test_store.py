"""The norm store on a real database: limits, snapshots, reloads, and the paper trace end to end."""

from __future__ import annotations

import asyncio
import os
import threading
from itertools import islice

import pytest
from sqlalchemy import func, select

from norms import document
from norms.models import Norm, NormChange, NormSnapshot
from norms.store import Limits, NormStore
from services.settings import Settings
from tests.fixtures.app import TEST_SECRET
from tests.fixtures.environment import load_trace
from tests.fixtures.norms import member_id

OCTETS = {"content-type": "application/octet-stream"}


@pytest.fixture
def settings(database_url, tmp_path):
    return Settings(
        database_url=database_url,
        secret_key=TEST_SECRET,
        data_dir=tmp_path / "var",
        norm_max_chars=100,
        submission_max_ops=60,
        submission_max_bytes=4096,
        snapshot_every=3,
        _env_file=None,
    )


async def _count(app, model) -> int:
    async with app.state.sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_a_norm_over_the_character_limit_is_413_and_not_created(client, network):
    response = await client.post(
        f"/api/v1/networks/{network['slug']}/norms", json={"title": "Long", "text": "x" * 101}, headers=network["members"][0]["headers"]
    )
    assert response.status_code == 413
    assert response.json()["code"] == "norm_too_large"
    assert (await client.get(f"/api/v1/networks/{network['slug']}/norms")).json() == []


async def test_creating_a_norm_is_held_to_the_operation_limit_of_every_write(client, app, network):
    headers = network["members"][0]["headers"]
    # 61 characters fit in a norm (100) but not in one submission (60 operations), as for an edit.
    response = await client.post(f"/api/v1/networks/{network['slug']}/norms", json={"title": "Long", "text": "x" * 61}, headers=headers)
    assert response.status_code == 413
    assert response.json()["code"] == "norm_too_large" and "at most 60 operations" in response.json()["detail"]
    assert (await client.get(f"/api/v1/networks/{network['slug']}/norms")).json() == []
    assert await _count(app, NormChange) == 0
    within = await client.post(f"/api/v1/networks/{network['slug']}/norms", json={"title": "Short", "text": "x" * 58}, headers=headers)
    assert within.status_code == 201, within.text


async def test_the_server_answers_while_a_new_norm_s_document_is_built(client, network, monkeypatch):
    """Building a norm's first change is one rc1 call per character (seconds for a long text): it is not done on the event loop."""
    building, release = threading.Event(), threading.Event()
    released: list[bool] = []
    real_create = document.create

    def slow_create(*args):
        building.set()
        # Stands for a long text. Were the build on the event loop, nothing could release it: it gives up.
        released.append(release.wait(timeout=20))
        return real_create(*args)

    monkeypatch.setattr(document, "create", slow_create)
    creating = asyncio.create_task(
        client.post(
            f"/api/v1/networks/{network['slug']}/norms", json={"title": "Long", "text": "x" * 50}, headers=network["members"][0]["headers"]
        )
    )
    while not building.is_set():
        await asyncio.sleep(0.01)
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    release.set()  # only once the server has answered
    created = await creating
    assert released == [True]  # the build was still going on when /healthz answered
    assert created.status_code == 201, created.text
    assert (await client.get(f"/api/v1/norms/{created.json()['id']}")).json()["text"] == "x" * 50


async def test_edits_and_uploads_over_the_limits_are_413_and_store_nothing(client, app, network, norm):
    headers = network["members"][0]["headers"]
    changes_before = await _count(app, NormChange)
    for body in (
        {"splices": [{"index": 0, "insert": "y" * 60}]},  # the norm would hold 101 characters
        {"splices": [{"index": 0, "delete": 30, "insert": "z" * 31}]},  # 61 operations in one submission
    ):
        response = await client.post(f"/api/v1/norms/{norm['id']}/edits", json=body, headers=headers)
        assert response.status_code == 413, body
    assert await _count(app, NormChange) == changes_before
    assert (await client.get(f"/api/v1/norms/{norm['id']}")).json()["text"] == norm["text"]

    saved = (await client.get(f"/api/v1/norms/{norm['id']}/automerge")).content
    big = await client.post(f"/api/v1/norms/{norm['id']}/automerge", content=saved + os.urandom(5000), headers=headers | OCTETS)
    assert big.status_code == 413
    assert await _count(app, NormChange) == changes_before


async def test_snapshots_every_n_changes_and_a_fresh_store_reloads_the_same_document(client, app, network, norm):
    headers = network["members"][1]["headers"]
    for n in range(7):
        await client.post(f"/api/v1/norms/{norm['id']}/edits", json={"splices": [{"index": 0, "insert": str(n)}]}, headers=headers)
    current = (await client.get(f"/api/v1/norms/{norm['id']}")).json()
    assert current["change_count"] == 8
    async with app.state.sessionmaker() as session:
        snapshots = (await session.execute(select(NormSnapshot.change_count).order_by(NormSnapshot.id))).scalars().all()
        document_id = await session.scalar(select(Norm.document_id))
    assert snapshots == [3, 6]

    restarted = NormStore(app.state.sessionmaker, Limits())
    async with restarted.reading(document_id) as doc:
        assert document.heads_hex(doc) == current["heads"]
        assert document.read_text(doc) == current["text"] == "6543210" + norm["text"]


@pytest.mark.parametrize("spoil", ["garbled", "stale"])
async def test_a_snapshot_that_does_not_load_back_is_deleted_and_the_changes_load_instead(client, app, network, norm, spoil):
    """Snapshots are saved unchecked as a write crosses the threshold: loading checks them."""
    headers = network["members"][1]["headers"]
    for n in range(7):
        await client.post(f"/api/v1/norms/{norm['id']}/edits", json={"splices": [{"index": 0, "insert": str(n)}]}, headers=headers)
    current = (await client.get(f"/api/v1/norms/{norm['id']}")).json()
    async with app.state.sessionmaker() as session:
        first, latest = (await session.execute(select(NormSnapshot).order_by(NormSnapshot.id))).scalars().all()
        # Garbled: its bytes cut short. Stale: it holds an older save than the heads it claims.
        latest.data = latest.data[: len(latest.data) // 2] if spoil == "garbled" else first.data
        document_id = latest.document_id
        await session.commit()

    restarted = NormStore(app.state.sessionmaker, Limits())
    async with restarted.reading(document_id) as doc:
        assert document.heads_hex(doc) == current["heads"]
        assert document.read_text(doc) == current["text"] == "6543210" + norm["text"]
    async with app.state.sessionmaker() as session:
        assert (await session.execute(select(NormSnapshot.change_count))).scalars().all() == [3]
    assert await _count(app, NormChange) == 8  # nothing stored was touched


async def test_a_second_store_sees_what_the_first_wrote(client, app, network, norm):
    """Two instances share a database: each catches up from stored changes before reading or writing."""
    other = NormStore(app.state.sessionmaker, Limits())
    document_id = document.parse_document_id(norm["url"])
    async with other.reading(document_id) as doc:
        assert document.read_text(doc) == norm["text"]
    await client.post(
        f"/api/v1/norms/{norm['id']}/edits", json={"splices": [{"index": 0, "insert": "All "}]}, headers=network["members"][0]["headers"]
    )
    await other.edit(document_id, member_id(network, 1), [(len("All Platforms"), 0, ", large and small,")])
    assert (await client.get(f"/api/v1/norms/{norm['id']}")).json()[
        "text"
    ] == "All Platforms, large and small, publish their ranking criteria."


async def test_the_paper_trace_replays_through_the_store_and_reloads_identically(app, network, norm):
    """259,778 single-character edits from one peer, stored as changes of 50 edits each."""
    trace = load_trace("automerge-paper.json.gz")
    store = NormStore(app.state.sessionmaker, Limits(snapshot_every=1000, max_chars=1_000_000))
    document_id = document.parse_document_id(norm["url"])
    member = member_id(network, 0)
    clear = [(0, len(norm["text"]), trace["startContent"])]

    async with store.reading(document_id) as doc:
        peer = document.load(doc.save(), actor=os.urandom(16))
    pending = document.apply_splices(peer, peer.get_actor(), clear)
    txns = iter(trace["txns"])
    while batch := [tuple(patch) for txn in islice(txns, 50) for patch in txn["patches"]]:
        pending += document.apply_splices(peer, peer.get_actor(), batch)
        if len(pending) >= 20:  # a peer sends what it has when the network lets it
            await store.apply(document_id, member, b"".join(pending))
            pending = []
    if pending:
        await store.apply(document_id, member, b"".join(pending))

    async with store.reading(document_id) as doc:
        assert document.read_text(doc) == trace["endContent"]
        heads = document.heads_hex(doc)
    assert heads == document.heads_hex(peer)

    restarted = NormStore(app.state.sessionmaker, Limits())
    async with restarted.reading(document_id) as doc:
        assert document.heads_hex(doc) == heads
        assert document.read_text(doc) == trace["endContent"]
    assert await _count(app, NormSnapshot) == 5  # 5,198 changes, one snapshot per 1,000


async def test_changes_another_instance_broadcast_merge_without_the_database_and_are_not_taken_twice(client, app, network, norm):
    """What a second instance hears over the broker is merged as it is; its next catch-up skips it."""
    other = NormStore(app.state.sessionmaker, Limits())
    document_id = document.parse_document_id(norm["url"])
    heard: list = []
    other.add_listener(heard.append)
    async with other.reading(document_id) as doc:
        assert document.read_text(doc) == norm["text"]
    member = network["members"][0]
    response = await client.post(
        f"/api/v1/norms/{norm['id']}/edits", json={"splices": [{"index": 0, "insert": "All "}]}, headers=member["headers"]
    )
    assert response.status_code == 200, response.text
    async with app.state.sessionmaker() as session:
        latest = (
            await session.scalars(
                select(NormChange.data).where(NormChange.document_id == document_id).order_by(NormChange.id.desc()).limit(1)
            )
        ).one()

    assert await other.merge_relayed(document_id, latest)
    async with other.reading(document_id, catch_up=False) as doc:
        assert document.read_text(doc) == "All " + norm["text"]
    assert [change.data for stored in heard for change in stored.changes] == [latest]
    assert await other.catch_up(document_id) == 0  # the rows are read, the change is not merged again
    assert await other.merge_relayed(document_id, latest)  # heard twice: nothing new
    assert len(heard) == 1

    # Something built on a change this copy lacks goes to the database instead.
    await client.post(f"/api/v1/norms/{norm['id']}/edits", json={"splices": [{"index": 0, "insert": "Nearly "}]}, headers=member["headers"])
    await client.post(f"/api/v1/norms/{norm['id']}/edits", json={"splices": [{"index": 0, "insert": "Not "}]}, headers=member["headers"])
    async with app.state.sessionmaker() as session:
        last = (
            await session.scalars(
                select(NormChange.data).where(NormChange.document_id == document_id).order_by(NormChange.id.desc()).limit(1)
            )
        ).one()
    assert not await other.merge_relayed(document_id, last)
    assert not await other.merge_relayed(document_id, b"not an automerge change")
    assert await other.catch_up(document_id) == 2
    await other.edit(document_id, member_id(network, 1), [(0, 0, ">")])
    assert (await client.get(f"/api/v1/norms/{norm['id']}")).json()["text"] == ">Not Nearly All " + norm["text"]
