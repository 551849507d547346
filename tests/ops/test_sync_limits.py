"""Live sync: one participant holds at most `sync_max_sockets_per_participant` sockets on an instance, so the
per-socket message limit cannot be multiplied by opening more; signed-out sockets are limited per client address
(`sync_anonymous_per_address`, refused at the handshake with 429); others are not affected."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import websockets

from tests.fixtures.databases import ON_SQLITE
from tests.fixtures.ops import scrape, value
from tests.realtime.servers import close_of

SETTINGS = {"sync_max_sockets_per_participant": 2, "sync_anonymous_per_address": 3}


def _held(app, person: dict) -> int:
    return sum(1 for connection in app.state.sync_hub.connections if connection.participant_id == uuid.UUID(person["id"]))


@ON_SQLITE
async def test_a_participant_holds_at_most_the_configured_sockets(client, app, network, norm, connect, live, ticket_for):
    amina, bruno = network["members"][:2]
    before = value(await scrape(client), "cogov_rate_limited_total", limit="sync_sockets")
    first, _second = await connect(amina), await connect(amina)
    extra = await websockets.connect(f"{live}?ticket={await ticket_for(amina)}")
    code, reason = await close_of(extra)
    assert code == 1008 and "more than 2 open sync sockets" in reason
    assert value(await scrape(client), "cogov_rate_limited_total", limit="sync_sockets") - before == 1
    # Someone else, and readers without an account, still connect; the two open sockets still sync.
    await connect(bruno)
    await connect()
    assert (await first.open(norm["url"])).text.startswith("Platforms")
    # Closing one frees its place.
    await first.close()
    for _ in range(100):
        if _held(app, amina) < 2:
            break
        await asyncio.sleep(0.05)
    again = await connect(amina)
    assert (await again.open(norm["url"])).text.startswith("Platforms")


@ON_SQLITE
async def test_signed_out_sockets_are_limited_per_client_address_at_the_handshake(client, app, network, norm, connect, live, ticket_for):
    before = value(await scrape(client), "cogov_rate_limited_total", limit="sync_anonymous")
    readers = [await connect() for _ in range(3)]
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(live)
    response = refused.value.response
    assert response.status_code == 429
    assert b"more than 3 signed-out sync sockets from your address" in response.body and b'"code":"rate_limited"' in response.body
    assert value(await scrape(client), "cogov_rate_limited_total", limit="sync_anonymous") - before == 1
    # A signed-in member, and readers from another address (through the trusted proxy), still connect.
    member = await connect(network["members"][0])
    assert (await member.open(norm["url"])).text.startswith("Platforms")
    elsewhere = await websockets.connect(live, additional_headers={"X-Forwarded-For": "203.0.113.7"})
    await elsewhere.close()
    # The readers still sync; closing one frees its place.
    assert (await readers[0].open(norm["url"])).text.startswith("Platforms")
    await readers[0].close()
    for _ in range(100):
        try:
            again = await websockets.connect(live)
            break
        except websockets.InvalidStatus:
            await asyncio.sleep(0.05)
    await again.close()
