"""Real `cogov serve` processes: a crash loses no acknowledged edit; two instances converge through Redis."""

from __future__ import annotations

import asyncio
import random

import pytest
import websockets
from sqlalchemy import select

from norms.models import NormChange
from services.realtime.client import DocumentHandle, SyncClient, SyncError
from tests.realtime.servers import CogovServer, RedisServer


async def _type(handle: DocumentHandle, seed: int, stop: asyncio.Event) -> None:
    """Type one character every few milliseconds at a random place until told to stop or the socket dies."""
    rng = random.Random(seed)
    try:
        while not stop.is_set():
            await handle.splice(rng.randint(0, len(handle.text)), 0, rng.choice("abcdefghij "))
            await asyncio.sleep(0.02)
    except (websockets.ConnectionClosed, SyncError):
        pass


def _acknowledged(handle: DocumentHandle, mine: set[bytes]) -> set[bytes]:
    """This peer's changes the server had reported as stored (ancestors of the last heads it sent)."""
    heads = sorted(head for head in handle.server_heads if handle.has_change(head))
    if not heads:
        return set()
    after = {change.hash for change in handle.doc.get_changes(heads)}
    return {change for change in mine if change not in after}


async def _join(server: CogovServer, person: dict, ticket_for, url: str, local=None) -> DocumentHandle:
    client = await SyncClient.connect(server.sync_url, ticket=await ticket_for(person))
    return await client.open(url, local=local)


async def _converged(handles: list[DocumentHandle], timeout: float = 60) -> None:
    async with asyncio.timeout(timeout):
        while True:
            heads = [handle.heads for handle in handles]
            if all(h == heads[0] for h in heads) and all(handle.server_heads == heads[0] for handle in handles):
                return
            for handle in handles:
                await handle.flush()
            await asyncio.sleep(0.1)


async def test_kill_9_loses_no_acknowledged_change(app, client, network, norm, database_url, ticket_for, tmp_path):
    server = await CogovServer(database_url, tmp_path).start()
    try:
        members = network["members"]
        handles = [await _join(server, person, ticket_for, norm["url"]) for person in members]
        made: list[set[bytes]] = [set() for _ in handles]
        for handle, mine in zip(handles, made, strict=True):
            original = handle.splice

            async def splice(index, delete, insert, original=original, mine=mine):
                hashes = await original(index, delete, insert)
                mine.update(hashes)
                return hashes

            handle.splice = splice
        stop = asyncio.Event()
        typing = [asyncio.create_task(_type(handle, seed, stop)) for seed, handle in enumerate(handles)]
        async with asyncio.timeout(60):
            while sum(len(_acknowledged(h, m)) for h, m in zip(handles, made, strict=True)) < 30:
                await asyncio.sleep(0.1)
        server.kill()  # mid-stream: the peers are still typing
        stop.set()  # a peer whose send is still buffered may not notice the dead socket at once
        await asyncio.wait_for(asyncio.gather(*typing), 60)
        acknowledged = set().union(*(_acknowledged(h, m) for h, m in zip(handles, made, strict=True)))
        assert acknowledged

        async with app.state.sessionmaker() as session:
            stored = set((await session.scalars(select(NormChange.hash).where(NormChange.document_id == _document_id(norm)))).all())
        assert acknowledged <= stored

        await server.start()
        handles = [
            await _join(server, person, ticket_for, norm["url"], local=handle.doc) for person, handle in zip(members, handles, strict=True)
        ]
        await _converged(handles)
        text = handles[0].text
        assert all(handle.text == text for handle in handles)
        assert (await client.get(f"/api/v1/norms/{norm['id']}")).json()["text"] == text
        # Even the changes the crash cut off before they were stored came back up from the peers.
        assert all(handles[0].has_change(change) for change in set().union(*made))
    finally:
        server.stop()


def _document_id(norm: dict) -> bytes:
    from norms.document import parse_document_id

    return parse_document_id(norm["url"])


# Two instances share one database: PostgreSQL only (a SQLite file belongs to one server).
@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_two_instances_converge_through_redis_and_after_it_restarts(client, network, norm, database_url, ticket_for, tmp_path):
    redis = await RedisServer().start()
    first = await CogovServer(database_url, tmp_path, redis.url).start()
    second = await CogovServer(database_url, tmp_path, redis.url).start()
    try:
        amina, bruno, chen = network["members"]
        on_first = await _join(first, amina, ticket_for, norm["url"])
        on_second = await _join(second, bruno, ticket_for, norm["url"])
        also_second = await _join(second, chen, ticket_for, norm["url"])
        handles = [on_first, on_second, also_second]

        await on_first.splice(0, 0, "From the first instance. ")
        await on_second.wait_for(lambda h: h.text.startswith("From the first instance. "))
        await also_second.splice(len(also_second.text), 0, " From the second.")
        await on_first.wait_for(lambda h: h.text.endswith(" From the second."))
        await on_second.wait_for(lambda h: h.text.endswith(" From the second."))  # it appends after that

        redis.stop()  # the broker is gone: instances must catch up from the database
        await on_first.splice(0, 0, "Without Redis: ")
        await on_second.splice(len(on_second.text), 0, " Also without.")
        await on_second.wait_for(lambda h: h.text.startswith("Without Redis: "), timeout=30)
        await on_first.wait_for(lambda h: h.text.endswith(" Also without."), timeout=30)
        await redis.start()
        await on_second.splice(0, 0, "Redis is back. ")
        await on_first.wait_for(lambda h: h.text.startswith("Redis is back. "), timeout=30)
        await _converged(handles)

        stored = (await client.get(f"/api/v1/norms/{norm['id']}")).json()["text"]
        assert stored == on_first.text == on_second.text == also_second.text
        assert stored == (
            "Redis is back. Without Redis: From the first instance. Platforms publish their ranking criteria."
            " From the second. Also without."
        )
    finally:
        for process in (first, second, redis):
            process.stop()
