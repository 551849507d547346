"""The store never holds a document's lock while it waits for a database connection.

Under load every connection of the pool can be taken by writers waiting on the norm's row lock. A
reader holding the document's lock while it waits for a connection would then wait on the writer
that holds the row lock, which waits for the document's lock: nothing moves until the pool's
timeout fails one of them. These tests run the store on a pool of one connection, so any such wait
is a deadlock that the pool's timeout turns into an error. The app here has such a pool too: a
request that held its connection while the store asked for another would wait on itself.
"""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from norms import document
from norms.store import Limits, NormStore
from norms.writes import _lock_norm
from services.kit.db import create_engine, create_sessionmaker
from tests.fixtures.accounts import PASSWORD, mark_verified
from tests.fixtures.norms import member_id

POOL_TIMEOUT = 3  # seconds a store call waits for the one connection before the pool gives up


@pytest.fixture
async def app(settings, monkeypatch):
    """The app on a pool of one connection (so every test here runs its requests on one)."""
    from services import runtime
    from services.api.app import create_app

    real = runtime.create_engine
    monkeypatch.setattr(runtime, "create_engine", lambda url, **kw: real(url, pool_size=1, max_overflow=0, pool_timeout=POOL_TIMEOUT, **kw))
    application = create_app(settings)
    yield application
    await application.state.engine.dispose()


@pytest.fixture
async def one_connection(settings):
    engine = create_engine(settings.database_url, pool_size=1, max_overflow=0, pool_timeout=POOL_TIMEOUT)
    yield create_sessionmaker(engine)
    await engine.dispose()


async def _until(condition, what: str) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


async def _norm_locked_elsewhere(app, document_id: bytes, release: asyncio.Event) -> None:
    """Hold the norm's row lock (SQLite: the write lock) on the app's own pool until `release`."""
    async with app.state.sessionmaker() as session:
        await _lock_norm(session, document_id)
        await release.wait()
        await session.rollback()


@pytest.mark.parametrize("reader", ["catch_up", "reading"])
async def test_a_reader_waiting_for_a_connection_does_not_hold_up_the_writer_that_has_it(app, network, norm, one_connection, reader):
    document_id = document.parse_document_id(norm["url"])
    store = NormStore(one_connection, Limits())
    async with store.reading(document_id) as doc:  # resident, so neither call below loads it
        before = document.read_text(doc)
    pool = one_connection.kw["bind"].pool

    release = asyncio.Event()
    holder = asyncio.create_task(_norm_locked_elsewhere(app, document_id, release))
    await asyncio.sleep(0.2)  # the row lock is taken
    # The writer takes the store's only connection and waits there for the norm's row lock.
    writer = asyncio.create_task(store.edit(document_id, member_id(network, 1), [(0, 0, "All ")]))
    await _until(lambda: pool.checkedout() == 1, "the writer took the connection")

    async def read() -> str:
        if reader == "catch_up":
            await store.catch_up(document_id)
            async with store.reading(document_id, catch_up=False) as doc:
                return document.read_text(doc)
        async with store.reading(document_id) as doc:
            return document.read_text(doc)

    reading = asyncio.create_task(read())
    await asyncio.sleep(0.2)  # the reader is waiting (for the connection, or for the document's lock)
    release.set()  # the writer gets its row lock and goes on

    # Both finish, neither with the pool's timeout (each is given the time to fail, not cancelled).
    applied, text = await asyncio.wait_for(asyncio.gather(writer, reading, return_exceptions=True), 4 * POOL_TIMEOUT)
    await holder
    assert not isinstance(applied, BaseException), repr(applied)
    assert not isinstance(text, BaseException), repr(text)
    assert applied.changes
    assert text == "All " + before


async def test_a_writer_loads_a_document_that_is_not_resident_on_its_own_connection(network, norm, one_connection):
    """The first write after a restart (or an eviction) loads the document: it must not ask for a second connection."""
    document_id = document.parse_document_id(norm["url"])
    store = NormStore(one_connection, Limits())
    applied = await asyncio.wait_for(store.edit(document_id, member_id(network, 1), [(0, 0, "All ")]), 4 * POOL_TIMEOUT)
    assert applied.changes
    async with store.reading(document_id) as doc:
        assert document.read_text(doc) == "All " + norm["text"]


async def test_requests_that_read_and_write_a_norm_each_need_one_connection(client, network, norm):
    """Reads catch up on the request's own connection; writes hand it back before the store writes on another."""
    headers = network["members"][1]["headers"]
    path = f"/api/v1/norms/{norm['id']}"

    async def edit(n: int) -> httpx.Response:
        return await client.post(f"{path}/edits", json={"splices": [{"index": 0, "insert": f"{n} "}]}, headers=headers)

    responses = await asyncio.wait_for(
        asyncio.gather(*(edit(n) for n in range(3)), *(client.get(path) for _ in range(3))), 8 * POOL_TIMEOUT
    )
    assert [r.status_code for r in responses] == [200] * 6, [r.text for r in responses if r.status_code != 200]
    saved = await client.get(f"{path}/automerge")
    assert saved.status_code == 200
    uploaded = await client.post(
        f"{path}/automerge", content=saved.content, headers={**headers, "content-type": "application/octet-stream"}
    )
    assert uploaded.status_code == 200, uploaded.text
    text = (await client.get(path)).json()["text"]
    assert sorted(text.split(" ")[:3]) == ["0", "1", "2"] and text.endswith(norm["text"])
    tagged = await client.post(f"{path}/versions", json={"label": "Draft"}, headers=headers)
    assert tagged.status_code == 201, tagged.text
    assert (await client.get(f"{path}/diff", params={"from": "1"})).status_code == 200
    assert (await client.get(f"{path}/authorship")).status_code == 200


async def test_a_members_form_edit_on_the_norm_page_needs_one_connection(client, app):
    """Without JavaScript the page reads the text on the request's connection, then hands it back before the store writes."""

    def csrf(html: str) -> str:
        return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)

    signup = csrf((await client.get("/signup")).text)
    fields = {"csrf_token": signup, "display_name": "Form Editor", "email": "form.editor@example.org", "password": PASSWORD}
    assert (await client.post("/signup", data=fields)).status_code == 303
    await mark_verified(app.state.sessionmaker, fields["email"])
    signin = {"csrf_token": csrf((await client.get("/signin")).text), "email": fields["email"], "password": PASSWORD}
    assert (await client.post("/signin", data=signin)).status_code == 303
    token = csrf((await client.get("/me/affiliation")).text)
    await client.post("/me/affiliation", data={"csrf_token": token, "stakeholder_group": "civil_society", "country": "KE"})
    network = await client.post(
        "/networks/new",
        data={"csrf_token": token, "name": "Data Flows", "issue": "An issue.", "aims": "Aims.", "intended_outcome": "A norm."},
    )
    norm = (
        await client.post(network.headers["location"] + "/norms", data={"csrf_token": token, "title": "A norm", "text": "One two."})
    ).headers["location"]
    heads = re.search(r'name="base_heads" value="([^"]*)"', (await client.get(norm)).text).group(1)

    async def edit(text: str) -> httpx.Response:
        return await client.post(f"{norm}/edit", data={"csrf_token": token, "base_heads": heads, "title": "A norm", "text": text})

    edited = await asyncio.wait_for(asyncio.gather(edit("Zero one two."), edit("One two three.")), 8 * POOL_TIMEOUT)
    assert [response.status_code for response in edited] == [303, 303]
    assert 'id="norm-text"><div class="line" dir="auto">Zero one two three.</div></div>' in (await client.get(norm)).text
